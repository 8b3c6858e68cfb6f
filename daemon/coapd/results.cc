#include "daemon/coapd/results.h"

#include <unistd.h>

#include <cstdio>

#include "coap/builtin_resources.h"
#include "daemon/control/codec.h"
#include "daemon/control/protocol.h"

namespace coapd {
namespace {

control::NamedCounts pcb_counts(const lwip_tap::PcbCounts& p) {
  return {{"tcp_active", p.tcp_active},
          {"tcp_listen", p.tcp_listen},
          {"tcp_time_wait", p.tcp_time_wait},
          {"tcp_bound", p.tcp_bound},
          {"udp", p.udp}};
}

control::NamedCounts endpoint_counts(const coap::EndpointCounters& c, lwip_tap::Stack& stack,
                                     const lwip_tap::TapPump* pump) {
  return {{"rx_frames", pump ? pump->rx_frames() : 0},
          {"rx_refused", pump ? pump->rx_refused() : 0},
          {"tx_frames", stack.tx_frames()},
          {"tx_errors", stack.tx_errors()},
          {"rx_no_memory", stack.rx_no_memory()},
          {"udp_send_failures", stack.udp_send_failures()},
          {"datagrams_in", c.datagrams_in},
          {"datagrams_out", c.datagrams_out},
          {"requests", c.requests},
          {"responses", c.responses},
          {"bad_packets", c.bad_packets},
          {"duplicates", c.duplicates},
          {"rst_sent", c.rst_sent},
          {"pings", c.pings},
          {"keepalive_pings", c.keepalive_pings},
          {"keepalive_misses", c.keepalive_misses},
          {"client_requests", c.client_requests},
          {"client_responses", c.client_responses},
          {"retransmissions", c.retransmissions},
          {"notifications", c.notifications},
          {"tcp_accepted", c.tcp_accepted},
          {"tcp_rejected", c.tcp_rejected},
          {"handshakes", c.handshakes},
          {"handshake_failures", c.handshake_failures},
          {"dtls_cookies_sent", c.dtls_cookies_sent},
          {"echo_challenges", c.echo_challenges},
          {"responses_suppressed", c.responses_suppressed}};
}

control::OptionEntry option_entry(uint16_t number, const std::vector<uint8_t>& value) {
  control::OptionEntry o;
  o.number = number;
  const coap::OptionInfo* info = coap::find_option_info(number);
  o.name = info ? info->name : std::to_string(number);
  const auto uint = coap::decode_uint(value);
  if (info && info->format == coap::OptionFormat::kUint && uint) {
    o.format = "uint";
    o.value = uint64_t{*uint};
  } else if (info && info->format == coap::OptionFormat::kString) {
    o.format = "string";
    o.value = std::string(value.begin(), value.end());
  } else {
    o.format = value.empty() ? "empty" : "opaque";
    o.value = control::hex_encode(value);
  }
  return o;
}

std::string wall_time(coap::TimePoint t) {
  // Events carry monotonic time; show it as wall-clock time, to the ms.
  const auto wall =
      std::chrono::system_clock::now() -
      std::chrono::duration_cast<std::chrono::system_clock::duration>(coap::Clock::now() - t);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch()).count() % 1000;
  std::string s = coap::format_utc(wall);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03lld", static_cast<long long>(ms));
  s.insert(s.size() - 1, frac);
  return s;
}

}  // namespace

control::Snapshot snapshot(const coap::Endpoint& ep, lwip_tap::Stack& stack,
                           const lwip_tap::TapPump* pump,
                           std::chrono::steady_clock::time_point started) {
  lwip_tap::PcbCounts pcbs;
  {
    lwip_tap::CoreLock lock;
    pcbs = stack.count_pcbs();
  }
  control::Snapshot s;
  s.version = std::string(control::kVersion);
  s.pid = ::getpid();
  s.uptime_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  s.sessions = ep.session_count();
  s.lwip = pcb_counts(pcbs);
  s.counters = endpoint_counts(ep.counters(), stack, pump);
  s.observations = ep.observation_count();
  s.dedup_entries = ep.dedup_entries();
  return s;
}

control::SessionsResult sessions_result(const coap::Endpoint& ep, coap::TimePoint now) {
  control::SessionsResult out;
  for (const coap::SessionInfo& s : ep.sessions(now)) {
    const bool has_local = s.local.family != coap::Address::Family::kNone;
    const char* protocol =
        s.secure ? (s.proto == coap::Proto::kUdp ? "dtls" : "tls") : coap::proto_name(s.proto);
    out.sessions.push_back(
        {s.id, protocol, coap::role_name(s.role), coap::session_state_name(s.state),
         s.peer.to_string(), has_local ? s.local.to_string() : "", coap::to_seconds(s.age),
         s.bytes_in, s.bytes_out, s.msgs_in, s.msgs_out, s.outgoing, s.call_home,
         s.reconnect_attempt, s.queued_bytes, s.observers,
         coap::security_mode_name(s.security.mode), s.security.peer_identity, s.security.cipher});
  }
  return out;
}

control::RequestResult request_result(const coap::ClientResult& r) {
  control::RequestResult out;
  out.status = coap::client_status_name(r.status);
  out.session = r.session;
  if (r.status != coap::ClientResult::Status::kResponse) {
    out.error = r.error;
    return out;
  }
  out.code = r.code.str();
  out.code_name = r.code.name();
  for (const auto& [number, value] : r.options) out.options.push_back(option_entry(number, value));
  out.payload = r.payload;
  return out;
}

control::NotificationRecord notification_record(uint64_t observation, uint32_t seq,
                                                const coap::ClientResult& n) {
  control::NotificationRecord r;
  r.observation = observation;
  r.seq = seq;
  r.code = n.code.str();
  for (const auto& [number, value] : n.options)
    if (number == coap::opt::kContentFormat) r.content_format = coap::decode_uint(value);
  r.payload = n.payload;
  r.time = wall_time(coap::Clock::now());
  r.session = n.session;
  return r;
}

control::EventRecord event_record(const coap::Event& e) {
  control::EventRecord r;
  r.time = wall_time(e.time);
  r.event = e.name();
  r.session_id = e.session;
  r.peer = e.peer.family == coap::Address::Family::kNone ? "" : e.peer.to_string();
  if (!e.reason.empty()) r.reason = e.reason;
  if (e.attempt) r.attempt = e.attempt;
  if (!e.detail.empty()) r.detail = e.detail;
  if (e.kind == coap::EventKind::kHandshakeDone) {
    r.security = e.security;
    r.peer_identity = e.peer_identity;
    r.cipher = e.cipher;
  }
  return r;
}

}  // namespace coapd
