// What coapd reports, as the control protocol's messages
// (daemon/control/messages.h): the daemon side of the contract.
#pragma once

#include <chrono>

#include "coap/endpoint.h"
#include "daemon/control/messages.h"
#include "daemon/control/messages_observe.h"
#include "lwip_tap/stack.h"
#include "lwip_tap/tap_pump.h"

namespace coapd {

// Engine thread only (it reads the endpoint); takes the lwIP core lock itself
// (the caller must hold no lock). Also the body of the /status resource.
control::Snapshot snapshot(const coap::Endpoint& endpoint, lwip_tap::Stack& stack,
                           const lwip_tap::TapPump* pump,
                           std::chrono::steady_clock::time_point started);

// Engine thread only.
control::SessionsResult sessions_result(const coap::Endpoint& endpoint, coap::TimePoint now);

// A client request's outcome: option values typed by the option registry
// (uint as numbers, strings as text, the rest as hex).
control::RequestResult request_result(const coap::ClientResult& result);

// A client observation's notification, as observe streams it (received
// now).
control::NotificationRecord notification_record(uint64_t observation, uint32_t seq,
                                                const coap::ClientResult& n);

// One event as the event stream carries it: monotonic time shown as
// wall-clock UTC to the millisecond.
control::EventRecord event_record(const coap::Event& event);

}  // namespace coapd
