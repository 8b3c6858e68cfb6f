// coapd's client observations on the control socket: observe (a streaming
// command: notification messages, then the answer), observe_cancel and
// observations. Loop thread, like every command handler.
#pragma once

#include <nlohmann/json.hpp>
#include <unordered_map>

#include "coap/endpoint_types.h"
#include "daemon/coapd/control_server.h"

namespace coapd {

struct CommandContext;

// The observations control clients started, by id: whom their
// notifications and their answer go to. Loop thread.
struct ObserveStreams {
  struct Stream {
    Responder responder;
    uint64_t notifications = 0;
  };
  std::unordered_map<coap::RequestId, Stream> streams;
};

void handle_observe(CommandContext& ctx, const nlohmann::json& request, Responder r);
void handle_observe_cancel(CommandContext& ctx, const nlohmann::json& request, Responder r);
void handle_observations(CommandContext& ctx, const nlohmann::json& request, Responder r);
// A control client went away: the observations it started are
// deregistered (nobody reads their notifications any more).
void observe_client_gone(CommandContext& ctx, uint64_t client);

}  // namespace coapd
