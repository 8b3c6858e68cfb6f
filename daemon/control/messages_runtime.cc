// Encoding of the runtime-control messages: log_level and reload.
#include <utility>

#include "daemon/control/codec.h"
#include "daemon/control/messages.h"

namespace control {
namespace {

using nlohmann::json;

std::vector<std::string> strings(FieldReader& r, const char* key) {
  std::vector<std::string> out;
  const json* list = r.array(key);
  for (std::size_t i = 0; list && i < list->size(); ++i) {
    if (!(*list)[i].is_string()) {
      r.fail(std::string(key) + " must be a list of strings");
      break;
    }
    out.push_back((*list)[i].get<std::string>());
  }
  return out;
}

}  // namespace

json LogLevelArgs::encode() const { return {{"level", level}}; }

Result<LogLevelArgs> LogLevelArgs::decode(const json& j) {
  FieldReader r(j);
  LogLevelArgs a;
  if (!r.has("level")) r.fail("log_level needs a level");
  a.level = r.string("level");
  return r.result(std::move(a));
}

json LogLevelResult::encode() const { return {{"level", level}, {"previous", previous}}; }

Result<LogLevelResult> LogLevelResult::decode(const json& j) {
  FieldReader r(j);
  LogLevelResult out;
  out.level = r.string("level");
  out.previous = r.string("previous");
  return r.result(std::move(out));
}

json ReloadResult::encode() const {
  return {{"log_level", log_level},
          {"sessions_opened", sessions_opened},
          {"sessions_closed", sessions_closed},
          {"restart_needed", restart_needed}};
}

Result<ReloadResult> ReloadResult::decode(const json& j) {
  FieldReader r(j);
  ReloadResult out;
  out.log_level = r.string("log_level");
  out.sessions_opened = strings(r, "sessions_opened");
  out.sessions_closed = strings(r, "sessions_closed");
  out.restart_needed = strings(r, "restart_needed");
  return r.result(std::move(out));
}

}  // namespace control
