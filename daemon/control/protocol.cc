#include "daemon/control/protocol.h"

#include <nlohmann/json.hpp>

namespace control {
namespace {

constexpr const char* kCommandNames[] = {
#define CONTROL_COMMAND_NAME(id, name) name,
    CONTROL_COMMANDS(CONTROL_COMMAND_NAME)
#undef CONTROL_COMMAND_NAME
};

}  // namespace

const char* command_name(Command c) { return kCommandNames[static_cast<std::size_t>(c)]; }

std::optional<Command> command_from_name(std::string_view name) {
  for (std::size_t i = 0; i < kCommandCount; ++i)
    if (name == kCommandNames[i]) return static_cast<Command>(i);
  return std::nullopt;
}

nlohmann::json request_message(int64_t id, Command cmd, nlohmann::json arguments) {
  nlohmann::json m = arguments.is_object() ? std::move(arguments) : nlohmann::json::object();
  m["v"] = kProtocolVersion;
  m["id"] = id;
  m["cmd"] = command_name(cmd);
  return m;
}

nlohmann::json ok_message(const nlohmann::json& id, nlohmann::json result) {
  return {{"v", kProtocolVersion}, {"id", id}, {"ok", true}, {"result", std::move(result)}};
}

nlohmann::json error_message(const nlohmann::json& id, const std::string& error) {
  return {{"v", kProtocolVersion}, {"id", id}, {"ok", false}, {"error", error}};
}

nlohmann::json event_message(nlohmann::json event) {
  return {{"v", kProtocolVersion}, {"event", std::move(event)}};
}

nlohmann::json notification_message(const nlohmann::json& id, nlohmann::json notification) {
  return {{"v", kProtocolVersion}, {"id", id}, {"notification", std::move(notification)}};
}

}  // namespace control
