// Encoding of the runtime-control messages: log_level and reload.
#include <cstdint>
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
          {"restart_needed", restart_needed},
          {"resources_added", resources_added},
          {"resources_removed", resources_removed},
          {"resources_changed", resources_changed}};
}

Result<ReloadResult> ReloadResult::decode(const json& j) {
  FieldReader r(j);
  ReloadResult out;
  out.log_level = r.string("log_level");
  out.sessions_opened = strings(r, "sessions_opened");
  out.sessions_closed = strings(r, "sessions_closed");
  out.restart_needed = strings(r, "restart_needed");
  out.resources_added = strings(r, "resources_added");
  out.resources_removed = strings(r, "resources_removed");
  out.resources_changed = strings(r, "resources_changed");
  return r.result(std::move(out));
}

json CaptureArgs::encode() const {
  return {{"file", file}, {"count", count}, {"duration", duration}, {"filter", filter}};
}

Result<CaptureArgs> CaptureArgs::decode(const json& j) {
  FieldReader r(j);
  CaptureArgs a;
  a.file = r.string("file");
  a.count = r.uint("count", 0, UINT64_MAX);
  a.duration = r.number("duration", 0, 0, 31536000);
  a.filter = r.string("filter", "all");
  if (r.ok() && (a.file.empty() || a.file[0] != '/'))
    r.fail("capture needs \"file\", an absolute path");
  if (r.ok() && a.filter != "all" && a.filter != "udp" && a.filter != "tcp" && a.filter != "coap")
    r.fail("filter '" + a.filter + "' is not one of all, udp, tcp, coap");
  return r.result(std::move(a));
}

json CaptureResult::encode() const {
  return {{"file", file},       {"frames", frames},   {"bytes", bytes},
          {"dropped", dropped}, {"seconds", seconds}, {"reason", reason}};
}

Result<CaptureResult> CaptureResult::decode(const json& j) {
  FieldReader r(j);
  CaptureResult out;
  out.file = r.string("file");
  out.frames = r.uint("frames", 0, UINT64_MAX);
  out.bytes = r.uint("bytes", 0, UINT64_MAX);
  out.dropped = r.uint("dropped", 0, UINT64_MAX);
  out.seconds = r.number("seconds", 0, 0, 1e12);
  out.reason = r.string("reason");
  return r.result(std::move(out));
}

}  // namespace control
