// The resources every coapd serves: /.well-known/core (RFC 6690), /time,
// /echo and /status.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "coap/resource.h"

namespace coap {

struct BuiltinResourceOptions {
  // Wall clock for /time; the protocol core reads no clock itself.
  std::function<std::chrono::system_clock::time_point()> wall_clock;
  // Daemon status as a JSON document for /status.
  std::function<std::string()> status_json;
  // Largest body /echo stores.
  std::size_t max_echo_size = 1 << 20;
};

// Adds "/", "/.well-known/core", "/time", "/echo" and "/status" to dir.
void add_builtin_resources(ResourceDirectory& dir, const BuiltinResourceOptions& options);

// "2026-11-29T01:31:18Z"
std::string format_utc(std::chrono::system_clock::time_point t);

}  // namespace coap
