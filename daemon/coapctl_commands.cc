#include "daemon/coapctl_commands.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "daemon/coapctl_client.h"
#include "daemon/coapctl_format.h"
#include "daemon/control_protocol.h"

namespace coapctl {
namespace {

using nlohmann::json;

Clock::time_point after_seconds(double seconds) {
  return Clock::now() +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

void print_error(const std::string& message) {
  std::fprintf(stderr, "coapctl: %s\n", message.c_str());
}

// Writes text to stdout and flushes, so that a reader on a pipe sees each
// line as soon as it is printed.
void print(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void print_json_line(const json& value) {
  print(value.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
}

// Whole seconds travel as JSON integers, fractions as floats.
json seconds_json(double seconds) {
  if (std::floor(seconds) == seconds && std::fabs(seconds) < 1e15)
    return static_cast<int64_t>(seconds);
  return seconds;
}

// Connects to coapd and sends request, waiting at most global.timeout_s to
// connect and answer_wait_s for the answer. On success returns the result
// object; otherwise prints why and returns nullopt.
std::optional<json> call_daemon(const GlobalOptions& global, json request, double answer_wait_s,
                                std::unique_ptr<ControlClient>* keep_client = nullptr) {
  std::string error;
  auto client = ControlClient::connect(global.socket_path, after_seconds(global.timeout_s), &error);
  if (!client) {
    print_error(error);
    return std::nullopt;
  }
  ControlClient::Answer answer = client->call(std::move(request), after_seconds(answer_wait_s));
  if (answer.kind != ControlClient::Answer::Kind::kOk) {
    print_error(answer.error);
    return std::nullopt;
  }
  if (keep_client) *keep_client = std::move(client);
  return std::move(answer.result);
}

// Runs a command whose human output is render(result).
int run_simple(const GlobalOptions& global, json request,
               std::string (*render)(const json& result)) {
  auto result = call_daemon(global, std::move(request), global.timeout_s);
  if (!result) return kExitFailure;
  if (global.json)
    print_json_line(*result);
  else
    print(render(*result));
  return kExitOk;
}

bool read_payload_file(const std::string& path, std::string* payload) {
  if (path == "-") {
    std::ostringstream data;
    data << std::cin.rdbuf();
    *payload = data.str();
    if (std::cin.bad()) {
      print_error("cannot read the payload from stdin");
      return false;
    }
    return true;
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    print_error("cannot read payload file " + path + ": " + std::strerror(errno));
    return false;
  }
  payload->assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  if (file.bad()) {
    print_error("cannot read payload file " + path + ": " + std::strerror(errno));
    return false;
  }
  return true;
}

std::string string_member(const json& object, const char* key, const char* fallback) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string() || it->get<std::string>().empty()) return fallback;
  return it->get<std::string>();
}

}  // namespace

int run_status(const GlobalOptions& global) {
  return run_simple(global, {{"cmd", "status"}}, format_status);
}

int run_stats(const GlobalOptions& global) {
  return run_simple(global, {{"cmd", "stats"}}, format_stats);
}

int run_sessions(const GlobalOptions& global) {
  return run_simple(global, {{"cmd", "sessions"}}, format_sessions);
}

int run_events(const GlobalOptions& global, bool follow) {
  // Installed before connecting: a signal arriving early is then seen by the
  // first wait instead of killing the process.
  if (follow) install_stop_signals();
  std::unique_ptr<ControlClient> client;
  auto result =
      call_daemon(global, {{"cmd", "events"}, {"follow", follow}}, global.timeout_s, &client);
  if (!result) return follow && stop_requested() ? kExitOk : kExitFailure;

  auto print_event = [&](const json& event) {
    print(global.json ? event.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"
                      : control::format_event_line(event) + "\n");
  };
  // With --json, events are always one JSON object per line, followed or not.
  if (auto history = result->find("events"); history != result->end() && history->is_array())
    for (const json& event : *history) print_event(event);
  if (!follow) return kExitOk;

  for (const json& event : client->take_early_events()) print_event(event);
  for (;;) {
    json message;
    std::string error;
    switch (client->read_message(std::nullopt, &message, &error)) {
      case ControlClient::ReadStatus::kMessage:
        if (auto event = message.find("event"); event != message.end()) print_event(*event);
        break;
      case ControlClient::ReadStatus::kClosed:
      case ControlClient::ReadStatus::kInterrupted:
        return kExitOk;
      case ControlClient::ReadStatus::kTimedOut:  // cannot happen without a deadline
      case ControlClient::ReadStatus::kFailed:
        print_error(error);
        return kExitFailure;
    }
  }
}

int run_request(const GlobalOptions& global, const RequestOptions& options) {
  json request = {{"cmd", "request"},
                  {"method", options.method},
                  {"uri", options.uri},
                  {"timeout", seconds_json(options.timeout_s)}};
  std::string payload;
  bool has_payload = false;
  if (options.payload) {
    payload = *options.payload;
    has_payload = true;
  } else if (options.payload_file) {
    if (!read_payload_file(*options.payload_file, &payload)) return kExitUsage;
    has_payload = true;
  }
  if (has_payload)
    request["payload_b64"] =
        control::base64_encode({reinterpret_cast<const uint8_t*>(payload.data()), payload.size()});
  if (options.content_format) request["content_format"] = *options.content_format;
  if (options.accept) request["accept"] = *options.accept;
  if (options.session) request["session"] = *options.session;

  auto result = call_daemon(global, std::move(request), options.timeout_s + kRequestAnswerMarginS);
  if (!result) return kExitFailure;
  if (global.json) print_json_line(*result);

  std::string status = string_member(*result, "status", "");
  if (status == "timeout") {
    print_error("timeout: " + string_member(*result, "error", "no response"));
    return kExitTimeout;
  }
  if (status == "error") {
    print_error("request failed: " + string_member(*result, "error", "unknown error"));
    return kExitRequestFailed;
  }
  if (status == "cancelled") {
    print_error("request cancelled: " + string_member(*result, "error", "no reason given"));
    return kExitRequestFailed;
  }
  if (status != "response") {
    print_error("coapd reported an unknown request status \"" + status + "\"");
    return kExitFailure;
  }

  std::string code = string_member(*result, "code", "");
  int code_class = code.size() >= 3 && code[1] == '.' ? code[0] - '0' : -1;
  if (!global.json) {
    std::vector<uint8_t> body;
    if (auto b64 = result->find("payload_b64"); b64 != result->end() && b64->is_string()) {
      auto decoded = control::base64_decode(b64->get<std::string>());
      if (!decoded) {
        print_error("coapd sent a response payload that is not valid base64");
        return kExitFailure;
      }
      body = std::move(*decoded);
    }
    std::string text = format_response_head(*result);
    text.append(body.begin(), body.end());
    // A terminal gets a final newline so the prompt starts on its own line;
    // a pipe or file gets the payload byte for byte.
    if (!body.empty() && body.back() != '\n' && isatty(STDOUT_FILENO)) text += '\n';
    print(text);
  }
  switch (code_class) {
    case 2:
      return kExitOk;
    case 4:
      return kExitClientError;
    case 5:
      return kExitServerError;
    default:
      print_error("unexpected response code \"" + code + "\"");
      return kExitRequestFailed;
  }
}

int run_connect(const GlobalOptions& global, const ConnectOptions& options) {
  json request = {{"cmd", "connect"}, {"uri", options.uri}};
  if (options.call_home) request["call_home"] = true;
  if (options.reconnect_interval_s)
    request["reconnect_interval"] = seconds_json(*options.reconnect_interval_s);
  if (options.reconnect_max_interval_s)
    request["reconnect_max_interval"] = seconds_json(*options.reconnect_max_interval_s);
  if (options.reconnect_attempts) request["reconnect_attempts"] = *options.reconnect_attempts;

  auto result = call_daemon(global, std::move(request), global.timeout_s);
  if (!result) return kExitFailure;
  if (global.json) {
    print_json_line(*result);
    return kExitOk;
  }
  std::string line = "session " + value_text(result->value("session", json()));
  if (auto existing = result->find("existing");
      existing != result->end() && existing->is_boolean() && existing->get<bool>())
    line += " (already open)";
  print(line + "\n");
  return kExitOk;
}

int run_close(const GlobalOptions& global, uint64_t session) {
  auto result = call_daemon(global, {{"cmd", "close"}, {"session", session}}, global.timeout_s);
  if (!result) return kExitFailure;
  if (global.json) print_json_line(*result);
  return kExitOk;
}

int run_debug_stall(const GlobalOptions& global, double seconds) {
  // coapd may answer only once the stall is over.
  auto result = call_daemon(global, {{"cmd", "debug_stall"}, {"seconds", seconds_json(seconds)}},
                            global.timeout_s + seconds);
  if (!result) return kExitFailure;
  if (global.json) print_json_line(*result);
  return kExitOk;
}

int run_debug_timer_probe(const GlobalOptions& global, double interval_ms, int count) {
  auto result = call_daemon(
      global, {{"cmd", "debug_timer_probe"}, {"interval_ms", interval_ms}, {"count", count}},
      global.timeout_s + interval_ms * count / 1000.0);
  if (!result) return kExitFailure;
  if (global.json) {
    print_json_line(*result);
  } else {
    const json& l = (*result)["lateness_us"];
    print("timers:    " + std::to_string((*result).value("count", 0)) + " x " +
          std::to_string(interval_ms) + " ms\n" +
          "early:     " + std::to_string((*result).value("early", 0)) + "\n" +
          "lateness:  min " + std::to_string((*result).value("min_lateness_us", 0.0)) +
          " us, p50 " + std::to_string(l.value("p50", 0.0)) + " us, p99 " +
          std::to_string(l.value("p99", 0.0)) + " us, max " + std::to_string(l.value("max", 0.0)) +
          " us\n");
  }
  return kExitOk;
}

}  // namespace coapctl
