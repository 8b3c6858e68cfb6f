// The control protocol between coapd and coapctl, as one compiled contract
// (in the style of chrony's candm.h): both programs build against this
// module, so command names, fields and their JSON types cannot drift apart.
//
// Transport: a Unix stream socket carrying newline-delimited JSON objects
// (LineReader splits them; a line is at most kMaxLineBytes).
//
// Request:   {"v":1,"id":N,"cmd":"<command>", ...arguments}
// Response:  {"v":1,"id":N,"ok":true,"result":{...}}
//            {"v":1,"id":N,"ok":false,"error":"<sentence>"}
// Event:     {"v":1,"event":{...}}  (only on a connection that sent "events"
//            with "follow":true; see EventRecord in messages.h)
// Notification: {"v":1,"id":N,"notification":{...}}  (after an "observe"
//            request N, until its response; see NotificationRecord)
//
// Every command's arguments and result are a struct in messages.h with its
// encode and decode; the JSON keys and types are documented there.
// A result may carry fields a reader does not know: readers ignore them, so a
// newer coapd still talks to an older coapctl.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

#ifndef COAPD_VERSION
#error "COAPD_VERSION must be defined by the build (daemon/control/CMakeLists.txt)"
#endif

namespace control {

// coapd's version, from CMake's PROJECT_VERSION.
inline constexpr std::string_view kVersion = COAPD_VERSION;
inline constexpr int kProtocolVersion = 1;
// A request line longer than this closes the connection (it is garbage).
inline constexpr std::size_t kMaxLineBytes = 1 << 20;
// An answer may be longer (`sessions` with 10,000 sessions is ~2.5 MB); what
// coapd queues for one client is bounded by its own per-client limit
// (ControlServer::kMaxClientCost), coapctl reads up to this.
inline constexpr std::size_t kMaxAnswerBytes = 64 << 20;

#define CONTROL_COMMANDS(X)             \
  X(kStatus, "status")                  \
  X(kStats, "stats")                    \
  X(kSessions, "sessions")              \
  X(kEvents, "events")                  \
  X(kRequest, "request")                \
  X(kConnect, "connect")                \
  X(kClose, "close")                    \
  X(kResourceList, "resource_list")     \
  X(kResourceAdd, "resource_add")       \
  X(kResourceSet, "resource_set")       \
  X(kResourceDelete, "resource_delete") \
  X(kLogLevel, "log_level")             \
  X(kReload, "reload")                  \
  X(kCapture, "capture")                \
  X(kCaptureStop, "capture_stop")       \
  X(kObserve, "observe")                \
  X(kObserveCancel, "observe_cancel")   \
  X(kObservations, "observations")      \
  X(kDiscover, "discover")              \
  X(kDebugStall, "debug_stall")         \
  X(kDebugTimerProbe, "debug_timer_probe")

enum class Command : uint8_t {
#define CONTROL_COMMAND_ENUM(id, name) id,
  CONTROL_COMMANDS(CONTROL_COMMAND_ENUM)
#undef CONTROL_COMMAND_ENUM
};
inline constexpr std::size_t kCommandCount = 0
#define CONTROL_COMMAND_COUNT(id, name) +1
    CONTROL_COMMANDS(CONTROL_COMMAND_COUNT)
#undef CONTROL_COMMAND_COUNT
    ;

const char* command_name(Command c);
std::optional<Command> command_from_name(std::string_view name);

// Envelopes. `id` is the client's request id, echoed in the response.
nlohmann::json request_message(int64_t id, Command cmd, nlohmann::json arguments);
nlohmann::json ok_message(const nlohmann::json& id, nlohmann::json result);
nlohmann::json error_message(const nlohmann::json& id, const std::string& error);
nlohmann::json event_message(nlohmann::json event);
nlohmann::json notification_message(const nlohmann::json& id, nlohmann::json notification);

}  // namespace control
