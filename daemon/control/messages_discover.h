// The discover message (protocol.h), apart from messages.h for its size:
// the same contract, the same rules.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon/control/messages.h"

namespace control {

// discover: {"group" string (default "224.0.1.187"; "ff02::fd", a zone-less
// link-local group, is on coapd's TAP), "wait" number (seconds, default 5)}
// -> {"nodes": [{"address" "IP:PORT", "links" string (RFC 6690)}]}, once
// the wait is over: every node that answered coapd's multicast
// GET /.well-known/core.
struct DiscoverArgs {
  std::string group = "224.0.1.187";
  double wait = 5;
  nlohmann::json encode() const;
  static Result<DiscoverArgs> decode(const nlohmann::json& j);
  bool operator==(const DiscoverArgs&) const = default;
};
struct DiscoveredEntry {
  std::string address, links;
  bool operator==(const DiscoveredEntry&) const = default;
};
struct DiscoverResult {
  std::vector<DiscoveredEntry> nodes;
  nlohmann::json encode() const;
  static Result<DiscoverResult> decode(const nlohmann::json& j);
  bool operator==(const DiscoverResult&) const = default;
};

}  // namespace control
