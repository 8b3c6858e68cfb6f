// What coapctl's command files (commands.cc, observe.cc) share: talking to
// coapd once, printing, and turning a request's outcome into an exit
// status. Private to daemon/coapctl.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/coapctl/client.h"
#include "daemon/coapctl/commands.h"
#include "daemon/control/messages.h"
#include "daemon/control/protocol.h"

namespace coapctl::detail {

Clock::time_point after_seconds(double seconds);
void print_error(const std::string& message);
// Writes text to stdout and flushes, so that a reader on a pipe sees each
// line as soon as it is printed.
void print(std::string_view text);
void print_json_line(const nlohmann::json& value);

// Connects to coapd and sends the command, waiting at most global.timeout_s
// to connect and answer_wait_s for the answer. On success returns the result
// object (and the connection in *keep_client, when given); otherwise prints
// why and returns nullopt.
std::optional<nlohmann::json> call_daemon(const GlobalOptions& global, control::Command cmd,
                                          nlohmann::json arguments, double answer_wait_s,
                                          std::unique_ptr<ControlClient>* keep_client = nullptr);

// Decodes a result of type T; prints why and returns nullopt when it is
// malformed.
template <typename T>
std::optional<T> decoded(const nlohmann::json& result) {
  coap::Result<T> r = T::decode(result);
  if (r) return std::move(*r);
  print_error(r.error().find("coapd sent") == 0 ? r.error()
                                                : "coapd sent a malformed result: " + r.error());
  return std::nullopt;
}

// Sends cmd with args and prints the answer: as it came with --json, else
// render(the decoded result of type T). The answer is waited for
// global.timeout_s, plus extra_wait_s for a command that takes its time.
template <typename T, typename Render>
int run_and_print(const GlobalOptions& global, control::Command cmd, const nlohmann::json& args,
                  Render render, double extra_wait_s = 0) {
  auto result = call_daemon(global, cmd, args, global.timeout_s + extra_wait_s);
  if (!result) return kExitFailure;
  if (global.json) {
    print_json_line(*result);
    return kExitOk;
  }
  auto r = decoded<T>(*result);
  if (!r) return kExitFailure;
  print(render(*r));
  return kExitOk;
}

// The request arguments of options (payload and security files read);
// nullopt after saying why when a file cannot be read.
std::optional<control::RequestArgs> request_args(const RequestOptions& options);
// The request's outcome as an exit status (printing why when it is not a
// response).
int request_status(const control::RequestResult& r);
// Prints a request's result (RequestResult) as `coapctl get` does; returns
// its exit status.
int print_request_result(const GlobalOptions& global, const nlohmann::json& result);

}  // namespace coapctl::detail
