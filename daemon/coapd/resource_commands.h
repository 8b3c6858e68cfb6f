// The resource_* control commands: list, add, set and delete user resources
// at run time. The directory belongs to the engine thread, so every handler
// does its work there (Engine::post) and answers through the loop.
#pragma once

#include "daemon/coapd/commands.h"

namespace coapd {

void handle_resource_list(CommandContext& ctx, const nlohmann::json& request, Responder r);
void handle_resource_add(CommandContext& ctx, const nlohmann::json& request, Responder r);
void handle_resource_set(CommandContext& ctx, const nlohmann::json& request, Responder r);
void handle_resource_delete(CommandContext& ctx, const nlohmann::json& request, Responder r);

}  // namespace coapd
