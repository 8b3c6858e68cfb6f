// The daemon's status and statistics as JSON: shared by the control socket
// (`coapctl status|stats|sessions`) and the /status CoAP resource.
// Engine thread only; takes the lwIP core lock itself (the caller must hold
// no lock).
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>

#include "coap/endpoint.h"
#include "lwip_tap/stack.h"
#include "lwip_tap/tap_pump.h"

namespace coapd {

inline constexpr const char* kVersion = "0.1.0";

nlohmann::json status_json(const coap::Endpoint& endpoint, lwip_tap::Stack& stack,
                           const lwip_tap::TapPump* pump,
                           std::chrono::steady_clock::time_point started);
nlohmann::json sessions_json(const coap::Endpoint& endpoint, coap::TimePoint now);

}  // namespace coapd
