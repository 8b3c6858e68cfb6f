#include "daemon/coapctl/commands.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "coap/security.h"
#include "daemon/coapctl/client.h"
#include "daemon/coapctl/commands_internal.h"
#include "daemon/coapctl/format.h"
#include "daemon/control/messages.h"
#include "daemon/control/prometheus.h"
#include "daemon/control/protocol.h"

namespace coapctl {
namespace detail {

using control::Command;
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

// Connects to coapd and sends the command, waiting at most global.timeout_s
// to connect and answer_wait_s for the answer. On success returns the result
// object; otherwise prints why and returns nullopt.
std::optional<json> call_daemon(const GlobalOptions& global, Command cmd, json arguments,
                                double answer_wait_s, std::unique_ptr<ControlClient>* keep_client) {
  std::string error;
  auto client = ControlClient::connect(global.socket_path, after_seconds(global.timeout_s), &error);
  if (!client) {
    print_error(error);
    return std::nullopt;
  }
  ControlClient::Answer answer =
      client->call(cmd, std::move(arguments), after_seconds(answer_wait_s));
  if (answer.kind != ControlClient::Answer::Kind::kOk) {
    print_error(answer.error);
    return std::nullopt;
  }
  if (keep_client) *keep_client = std::move(client);
  return std::move(answer.result);
}

// Runs a command whose human output is render(result).
int run_simple(const GlobalOptions& global, Command cmd,
               std::string (*render)(const json& result)) {
  auto result = call_daemon(global, cmd, json::object(), global.timeout_s);
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

bool read_text_file(const std::string& path, const char* what, std::string* out) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    print_error(std::string("cannot read ") + what + " " + path + ": " + std::strerror(errno));
    return false;
  }
  out->assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  return true;
}

// The security arguments, with the files read; nullopt (after saying why)
// when a file cannot be read or the key is malformed.
std::optional<control::SecurityArgs> security_args(const SecurityOptions& o) {
  control::SecurityArgs a;
  if (o.psk_identity.has_value() != o.psk_key.has_value()) {
    print_error("--psk-identity and --psk-key go together");
    return std::nullopt;
  }
  if (o.psk_identity) {
    auto key = coap::parse_psk_key(*o.psk_key);
    if (!key) {
      print_error("--psk-key: '" + *o.psk_key + "' " + key.error());
      return std::nullopt;
    }
    a.psk_identity = *o.psk_identity;
    a.psk_key = std::move(*key);
  }
  if (o.cert_file.has_value() != o.key_file.has_value()) {
    print_error("--cert and --key go together");
    return std::nullopt;
  }
  if (o.cert_file && !read_text_file(*o.cert_file, "--cert", &a.cert_pem)) return std::nullopt;
  if (o.key_file && !read_text_file(*o.key_file, "--key", &a.key_pem)) return std::nullopt;
  if (o.ca_file && !read_text_file(*o.ca_file, "--ca", &a.ca_pem)) return std::nullopt;
  a.insecure = o.insecure;
  if (o.insecure) print_error("warning: --insecure: the server's certificate is not verified");
  return a;
}

int print_request_result(const GlobalOptions& global, const json& result) {
  if (global.json) print_json_line(result);
  auto r = decoded<control::RequestResult>(result);
  if (!r) return kExitFailure;
  const int status = request_status(*r);
  if (!global.json && r->status == "response") {
    std::string text = format_response_head(*r);
    text.append(r->payload.begin(), r->payload.end());
    // A terminal gets a final newline so the prompt starts on its own line;
    // a pipe or file gets the payload byte for byte.
    if (!r->payload.empty() && r->payload.back() != '\n' && isatty(STDOUT_FILENO)) text += '\n';
    print(text);
  }
  return status;
}

int request_status(const control::RequestResult& r) {
  auto or_default = [](const std::string& s, const char* fallback) {
    return s.empty() ? std::string(fallback) : s;
  };
  if (r.status == "timeout") {
    print_error("timeout: " + or_default(r.error, "no response"));
    return kExitTimeout;
  }
  if (r.status == "error") {
    print_error("request failed: " + or_default(r.error, "unknown error"));
    return kExitRequestFailed;
  }
  if (r.status == "cancelled") {
    print_error("request cancelled: " + or_default(r.error, "no reason given"));
    return kExitRequestFailed;
  }
  if (r.status != "response") {
    print_error("coapd reported an unknown request status \"" + r.status + "\"");
    return kExitFailure;
  }
  switch (r.code_class()) {
    case 2: return kExitOk;
    case 4: return kExitClientError;
    case 5: return kExitServerError;
    default: print_error("unexpected response code \"" + r.code + "\""); return kExitRequestFailed;
  }
}

std::optional<control::RequestArgs> request_args(const RequestOptions& options) {
  control::RequestArgs args;
  args.method = options.method;
  args.uri = options.uri;
  args.timeout = options.timeout_s;
  std::string payload;
  if (options.payload) payload = *options.payload;
  if (options.payload_file && !read_payload_file(*options.payload_file, &payload))
    return std::nullopt;
  if (options.payload || options.payload_file) args.payload.emplace(payload.begin(), payload.end());
  args.content_format = options.content_format;
  args.accept = options.accept;
  args.session = options.session;
  args.non = options.non;
  args.options = options.options;
  args.token = options.token;
  args.block_size = options.block_size;
  auto security = security_args(options.security);
  if (!security) return std::nullopt;
  args.security = std::move(*security);
  return args;
}

}  // namespace detail

using namespace detail;

int run_status(const GlobalOptions& global) {
  return run_simple(global, Command::kStatus, format_status);
}

int run_stats(const GlobalOptions& global, bool prometheus) {
  if (!prometheus) return run_simple(global, Command::kStats, format_stats);
  auto result = call_daemon(global, Command::kStats, json::object(), global.timeout_s);
  if (!result) return kExitFailure;
  print(control::format_prometheus(*result));
  return kExitOk;
}

int run_sessions(const GlobalOptions& global) {
  return run_simple(global, Command::kSessions, format_sessions);
}

int run_events(const GlobalOptions& global, bool follow) {
  // Installed before connecting: a signal arriving early is then seen by the
  // first wait instead of killing the process.
  if (follow) install_stop_signals();
  std::unique_ptr<ControlClient> client;
  auto result = call_daemon(global, Command::kEvents, control::EventsArgs{follow}.encode(),
                            global.timeout_s, &client);
  if (!result) return follow && stop_requested() ? kExitOk : kExitFailure;

  auto print_event = [&](const json& event) {
    print(global.json ? event.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"
                      : format_event_line(event) + "\n");
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
      case ControlClient::ReadStatus::kInterrupted: return kExitOk;
      case ControlClient::ReadStatus::kTimedOut:  // cannot happen without a deadline
      case ControlClient::ReadStatus::kFailed: print_error(error); return kExitFailure;
    }
  }
}

int run_request(const GlobalOptions& global, const RequestOptions& options) {
  std::optional<control::RequestArgs> args = request_args(options);
  if (!args) return kExitUsage;
  auto result = call_daemon(global, Command::kRequest, args->encode(),
                            options.timeout_s + kRequestAnswerMarginS);
  if (!result) return kExitFailure;
  return print_request_result(global, *result);
}

int run_connect(const GlobalOptions& global, const ConnectOptions& options) {
  control::ConnectArgs args;
  args.uri = options.uri;
  args.call_home = options.call_home;
  args.reconnect_interval = options.reconnect_interval_s;
  args.reconnect_max_interval = options.reconnect_max_interval_s;
  if (options.reconnect_attempts)
    args.reconnect_attempts = static_cast<uint32_t>(*options.reconnect_attempts);
  args.keepalive = options.keepalive_s;
  auto security = security_args(options.security);
  if (!security) return kExitUsage;
  args.security = std::move(*security);
  return run_and_print<control::ConnectResult>(
      global, Command::kConnect, args.encode(), [](const control::ConnectResult& r) {
        return "session " + std::to_string(r.session) + (r.existing ? " (already open)" : "") +
               "\n";
      });
}

int run_close(const GlobalOptions& global, uint64_t session) {
  auto result =
      call_daemon(global, Command::kClose, control::CloseArgs{session}.encode(), global.timeout_s);
  if (!result) return kExitFailure;
  if (global.json) print_json_line(*result);
  return kExitOk;
}

int run_resource_list(const GlobalOptions& global) {
  return run_simple(global, Command::kResourceList, format_resources);
}

namespace {

// The value of resource add/set: --value, --file, or nothing.
bool resource_value(const ResourceOptions& o, std::vector<uint8_t>* out) {
  std::string text;
  if (o.value) text = *o.value;
  if (o.file && !read_payload_file(*o.file, &text)) return false;
  out->assign(text.begin(), text.end());
  return true;
}

int run_change(const GlobalOptions& global, Command cmd, const json& args) {
  auto result = call_daemon(global, cmd, args, global.timeout_s);
  if (!result) return kExitFailure;
  if (global.json) print_json_line(*result);
  return kExitOk;
}

}  // namespace

int run_resource_add(const GlobalOptions& global, const ResourceOptions& o) {
  control::ResourceAddArgs a;
  a.path = o.path;
  a.ct = o.ct;
  a.rt = o.rt;
  a.if_ = o.if_;
  a.title = o.title;
  a.obs = o.obs;
  a.methods = o.methods;
  a.delay_ms = o.delay_ms;
  a.max_age = o.max_age;
  if (!resource_value(o, &a.value)) return kExitUsage;
  return run_change(global, Command::kResourceAdd, a.encode());
}

int run_resource_set(const GlobalOptions& global, const ResourceOptions& o) {
  control::ResourceSetArgs a;
  a.path = o.path;
  a.ct = o.ct;
  if (!resource_value(o, &a.value)) return kExitUsage;
  return run_change(global, Command::kResourceSet, a.encode());
}

int run_resource_delete(const GlobalOptions& global, const std::string& path) {
  return run_change(global, Command::kResourceDelete, control::ResourceDeleteArgs{path}.encode());
}

int run_log_level(const GlobalOptions& global, const std::string& level) {
  return run_and_print<control::LogLevelResult>(
      global, Command::kLogLevel, control::LogLevelArgs{level}.encode(),
      [](const control::LogLevelResult& r) {
        return "log level " + r.level + " (was " + r.previous + ")\n";
      });
}

int run_reload(const GlobalOptions& global) {
  return run_and_print<control::ReloadResult>(
      global, Command::kReload, json::object(), [](const control::ReloadResult& r) {
        auto list = [](const std::vector<std::string>& v) {
          std::string text;
          for (const auto& s : v) text += (text.empty() ? "" : ", ") + s;
          return text.empty() ? std::string("none") : text;
        };
        return "log level: " + r.log_level + "\nsessions opened: " + list(r.sessions_opened) +
               "\nsessions closed: " + list(r.sessions_closed) +
               "\nresources added: " + list(r.resources_added) +
               "\nresources removed: " + list(r.resources_removed) +
               "\nresources changed: " + list(r.resources_changed) +
               "\nchanged, needs a restart: " + list(r.restart_needed) + "\n";
      });
}

int run_capture(const GlobalOptions& global, const CaptureOptions& o) {
  install_stop_signals();
  control::CaptureArgs args{o.file, o.count, o.duration_s, o.filter};
  std::error_code ec;
  if (!o.file.empty() && o.file[0] != '/')
    args.file = (std::filesystem::current_path(ec) / o.file).lexically_normal().string();
  std::string error;
  auto client = ControlClient::connect(global.socket_path, after_seconds(global.timeout_s), &error);
  if (!client) {
    print_error(error);
    return kExitFailure;
  }
  // Without a limit, until a stop signal: a year stands for "no deadline".
  const double wait_s = o.duration_s > 0 ? o.duration_s + global.timeout_s : 31536000.0;
  ControlClient::Answer answer =
      client->call(Command::kCapture, args.encode(), after_seconds(wait_s));
  std::optional<json> result;
  if (answer.kind == ControlClient::Answer::Kind::kOk) {
    result = std::move(answer.result);
  } else if (answer.kind == ControlClient::Answer::Kind::kFailed && stop_requested()) {
    clear_stop_request();  // the next connection must not see it
    result = call_daemon(global, Command::kCaptureStop, json::object(), global.timeout_s);
    if (!result) return kExitFailure;
  } else {
    print_error(answer.error);
    return kExitFailure;
  }
  if (global.json) {
    print_json_line(*result);
    return kExitOk;
  }
  auto r = decoded<control::CaptureResult>(*result);
  if (!r) return kExitFailure;
  char line[512];
  std::snprintf(line, sizeof line, "%llu frames (%llu bytes) written to %s in %.1f s (%s)",
                static_cast<unsigned long long>(r->frames),
                static_cast<unsigned long long>(r->bytes), r->file.c_str(), r->seconds,
                r->reason.c_str());
  print(std::string(line) + "; " + std::to_string(r->dropped) + " dropped\n");
  return r->reason == "write error" ? kExitFailure : kExitOk;
}

int run_debug_stall(const GlobalOptions& global, double seconds) {
  // coapd may answer only once the stall is over.
  auto result = call_daemon(global, Command::kDebugStall, control::DebugStallArgs{seconds}.encode(),
                            global.timeout_s + seconds);
  if (!result) return kExitFailure;
  if (global.json) print_json_line(*result);
  return kExitOk;
}

int run_debug_timer_probe(const GlobalOptions& global, double interval_ms, int count) {
  const control::TimerProbeArgs args{interval_ms, static_cast<uint32_t>(count)};
  auto result = call_daemon(global, Command::kDebugTimerProbe, args.encode(),
                            global.timeout_s + interval_ms * count / 1000.0);
  if (!result) return kExitFailure;
  if (global.json) {
    print_json_line(*result);
    return kExitOk;
  }
  auto r = decoded<control::TimerProbeResult>(*result);
  if (!r) return kExitFailure;
  print(format_timer_probe(*r));
  return kExitOk;
}

}  // namespace coapctl
