// Small helpers of coapd's composition (daemon.cc): seeds, the default MAC,
// the endpoint's settings from the config, the event log line.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "coap/endpoint_types.h"
#include "coap/event.h"
#include "config/config.h"

namespace coapd {

uint64_t random_seed();
// A stable, locally administered unicast MAC derived from the TAP name, so
// that the link-local address stays the same across restarts.
std::array<uint8_t, 6> default_mac(const std::string& tap);
std::string mac_text(const std::array<uint8_t, 6>& m);
coap::EndpointConfig endpoint_config(const config::Config& c);
void log_event(const coap::Event& e);
// "coapd ready: TAP coap0 up, CoAP on 192.0.2.2/24 (udp 5683, tcp 5683, ...)
// , host side ..., control socket ...[; address note]".
std::string ready_line(const config::Config& c, bool dtls, bool tls);
// Key material and nonces come from the kernel's generator.
void os_random(std::span<uint8_t> out);

}  // namespace coapd
