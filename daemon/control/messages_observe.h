// The observe, observe_cancel and observations messages (protocol.h), apart
// from messages.h for its size: the same contract, the same rules.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "daemon/control/messages.h"

namespace control {

// --- observe (messages_observe.cc) -------------------------------------------

// observe: RequestArgs (method "GET" or "FETCH") -> notification messages
// {"v":1,"id":N,"notification":NotificationRecord} as notifications arrive
// (protocol.h), then the result, ObserveResult.
// One notification: "observation" number, "seq" number (Observe), "code"
// "2.05", "content_format" number or null, "payload_b64" base64, "time" ISO
// 8601 UTC string, "session" number.
struct NotificationRecord {
  uint64_t observation = 0;
  uint32_t seq = 0;
  std::string code;
  std::optional<uint32_t> content_format;
  std::vector<uint8_t> payload;
  std::string time;
  uint64_t session = 0;
  nlohmann::json encode() const;
  static Result<NotificationRecord> decode(const nlohmann::json& j);
  bool operator==(const NotificationRecord&) const = default;
};
// RequestResult's fields (status "deregistered" when it ended on request;
// "response" when the server answered without Observe or with an error)
// plus "observation" and "notifications" numbers.
struct ObserveResult {
  RequestResult response;
  uint64_t observation = 0;
  uint64_t notifications = 0;
  nlohmann::json encode() const;
  static Result<ObserveResult> decode(const nlohmann::json& j);
  bool operator==(const ObserveResult&) const = default;
};
// observe_cancel: {"observation" number} (without it: the observations this
// connection started) -> {"cancelled": [number]}.
struct ObserveCancelArgs {
  std::optional<uint64_t> observation;
  nlohmann::json encode() const;
  static Result<ObserveCancelArgs> decode(const nlohmann::json& j);
  bool operator==(const ObserveCancelArgs&) const = default;
};
struct ObserveCancelResult {
  std::vector<uint64_t> cancelled;
  nlohmann::json encode() const;
  static Result<ObserveCancelResult> decode(const nlohmann::json& j);
  bool operator==(const ObserveCancelResult&) const = default;
};
// observations: {} -> {"observations": [ObservationEntry]}, each "id",
// "session_id", "notifications", "last_seq" numbers, "uri", "token" (hex)
// strings, "registered", "deregistering" bools.
struct ObservationEntry {
  uint64_t id = 0;
  std::string uri;
  uint64_t session_id = 0;
  std::string token;
  uint64_t notifications = 0;
  uint32_t last_seq = 0;
  bool registered = false, deregistering = false;
  bool operator==(const ObservationEntry&) const = default;
};
struct ObservationsResult {
  std::vector<ObservationEntry> observations;
  nlohmann::json encode() const;
  static Result<ObservationsResult> decode(const nlohmann::json& j);
  bool operator==(const ObservationsResult&) const = default;
};

}  // namespace control
