#include "daemon/coapd/daemon_support.h"

#include <spdlog/spdlog.h>
#include <sys/random.h>

#include <chrono>
#include <cstdio>

namespace coapd {

uint64_t random_seed() {
  uint64_t seed = 0;
  if (getrandom(&seed, sizeof seed, 0) != sizeof seed)
    seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return seed;
}

std::array<uint8_t, 6> default_mac(const std::string& tap) {
  uint64_t h = 1469598103934665603ull;
  for (char c : tap) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  return {0x02,
          static_cast<uint8_t>(h >> 8),
          static_cast<uint8_t>(h >> 16),
          static_cast<uint8_t>(h >> 24),
          static_cast<uint8_t>(h >> 32),
          static_cast<uint8_t>(h >> 40)};
}

std::string mac_text(const std::array<uint8_t, 6>& m) {
  char text[18];
  std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
                m[5]);
  return text;
}

coap::EndpointConfig endpoint_config(const config::Config& c) {
  coap::EndpointConfig e;
  e.ack_timeout = coap::from_seconds(c.ack_timeout);
  e.ack_random_factor = c.ack_random_factor;
  e.max_retransmit = c.max_retransmit;
  e.max_udp_sessions = c.max_udp_sessions;
  e.udp_session_timeout = coap::from_seconds(c.udp_session_timeout);
  e.max_tcp_sessions = c.max_tcp_sessions;
  e.tcp_idle_timeout = coap::from_seconds(c.tcp_idle_timeout);
  e.keepalive = coap::from_seconds(c.keepalive);
  e.keepalive_misses = c.keepalive_misses;
  e.csm_timeout = coap::from_seconds(c.csm_timeout);
  e.max_message_size = c.max_message_size;
  e.max_queued_bytes = c.max_queued_bytes;
  e.connect_timeout = coap::from_seconds(c.connect_timeout);
  e.handshake_timeout = coap::from_seconds(c.handshake_timeout);
  e.max_handshakes = c.max_handshakes;
  e.max_user_resources = c.max_resources;
  e.leisure = coap::from_seconds(c.leisure);
  return e;
}

void log_event(const coap::Event& e) {
  if (!spdlog::should_log(spdlog::level::info)) return;
  std::string extra;
  if (!e.reason.empty()) extra += " reason=" + e.reason;
  if (e.attempt) extra += " attempt=" + std::to_string(e.attempt);
  if (!e.security.empty())
    extra +=
        " security=" + e.security + " peer_identity=" + e.peer_identity + " cipher=" + e.cipher;
  if (!e.detail.empty()) extra += " detail=" + e.detail;
  spdlog::info("event {} session={} peer={}{}", e.name(), e.session,
               e.peer.family == coap::Address::Family::kNone ? "-" : e.peer.to_string(), extra);
}

void os_random(std::span<uint8_t> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
    if (n > 0) done += static_cast<std::size_t>(n);
  }
}

std::string ready_line(const config::Config& c, bool dtls, bool tls) {
  std::string ports = "udp " + std::to_string(c.udp_port) + ", tcp " + std::to_string(c.tcp_port);
  if (dtls) ports += ", dtls " + std::to_string(c.dtls_port);
  if (tls) ports += ", tls " + std::to_string(c.tls_port);
  if (c.call_home_listen) ports += ", call-home " + std::to_string(c.call_home_listen);
  const std::string host = c.host_address ? ", host side " + c.host_address->str() : "";
  const std::string note = c.address_note.empty() ? "" : "; " + c.address_note;
  return "coapd ready: TAP " + c.tap + " up, CoAP on " + c.address.str() + " (" + ports + ")" +
         host + ", control socket " + c.control_socket + note;
}

}  // namespace coapd
