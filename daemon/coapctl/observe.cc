// coapctl observe, observe --cancel and observations: a streaming command
// that prints notifications until it is told to stop, then deregisters.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "daemon/coapctl/client.h"
#include "daemon/coapctl/commands.h"
#include "daemon/coapctl/commands_internal.h"
#include "daemon/coapctl/format.h"
#include "daemon/control/codec.h"
#include "daemon/control/messages.h"
#include "daemon/control/messages_discover.h"
#include "daemon/control/messages_observe.h"

namespace coapctl {
namespace {

using control::Command;
using nlohmann::json;
using namespace detail;

// Printable UTF-8 text (tabs and line breaks allowed) as itself; anything
// else as hex.
bool is_text(const std::vector<uint8_t>& bytes) {
  for (uint8_t c : bytes)
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) return false;
  try {
    (void)json(std::string(bytes.begin(), bytes.end())).dump();  // throws on invalid UTF-8
  } catch (const json::exception&) {
    return false;
  }
  return true;
}

std::string payload_text(const std::vector<uint8_t>& payload) {
  if (is_text(payload)) return std::string(payload.begin(), payload.end());
  return "0x" + control::hex_encode(payload);
}

void print_notification(const GlobalOptions& global, const control::NotificationRecord& n) {
  const json ct = n.content_format ? json(*n.content_format) : json(nullptr);
  if (global.json) {
    print_json_line(
        {{"seq", n.seq},
         {"code", n.code},
         {"content_format", ct},
         {"payload", is_text(n.payload) ? std::string(n.payload.begin(), n.payload.end())
                                        : control::hex_encode(n.payload)},
         {"time", n.time}});
    return;
  }
  print("seq=" + std::to_string(n.seq) + " code=" + n.code + " content_format=" +
        (n.content_format ? std::to_string(*n.content_format) : std::string("none")) +
        " payload=" + payload_text(n.payload) + "\n");
}

// One observe as it runs on its control connection.
class ObserveRun {
 public:
  ObserveRun(const GlobalOptions& global, const ObserveOptions& options, ControlClient& client,
             int64_t request_id)
      : global_(global), options_(options), client_(client), id_(request_id) {
    if (options.duration_s) end_at_ = after_seconds(*options.duration_s);
  }

  int run() {
    for (;;) {
      json message;
      std::string error;
      const std::optional<Clock::time_point> deadline = cancelling_ ? answer_by_ : end_at_;
      switch (client_.read_message(deadline, &message, &error)) {
        case ControlClient::ReadStatus::kMessage:
          if (std::optional<int> status = take(message)) return *status;
          break;
        case ControlClient::ReadStatus::kTimedOut:
          if (cancelling_) {
            print_error("coapd did not report the end of the observation");
            return kExitFailure;
          }
          if (!cancel()) return kExitFailure;  // --duration is over
          break;
        case ControlClient::ReadStatus::kInterrupted:
          clear_stop_request();
          if (!cancel()) return kExitFailure;
          break;
        case ControlClient::ReadStatus::kClosed:
          print_error("coapd closed the control connection during the observation");
          return kExitFailure;
        case ControlClient::ReadStatus::kFailed: print_error(error); return kExitFailure;
      }
    }
  }

 private:
  // Deregisters (once); false when the request cannot be sent.
  bool cancel() {
    if (cancelling_) return true;
    cancelling_ = true;
    answer_by_ = after_seconds(options_.request.timeout_s + kRequestAnswerMarginS);
    std::string error;
    if (client_.send_request(Command::kObserveCancel, control::ObserveCancelArgs{}.encode(),
                             after_seconds(global_.timeout_s), &error))
      return true;
    print_error(error);
    return false;
  }

  // The exit status once the observation's answer is in.
  std::optional<int> take(const json& message) {
    auto id = message.find("id");
    if (id == message.end() || *id != id_) return std::nullopt;  // the cancel's answer
    if (auto n = message.find("notification"); n != message.end()) {
      auto record = decoded<control::NotificationRecord>(*n);
      if (!record) return kExitFailure;
      if (cancelling_) return std::nullopt;  // asked to stop: no more
      print_notification(global_, *record);
      if (options_.count && ++printed_ >= *options_.count && !cancel()) return kExitFailure;
      return std::nullopt;
    }
    if (auto ok = message.find("ok"); ok == message.end() || !ok->is_boolean() || !*ok) {
      auto e = message.find("error");
      print_error(e != message.end() && e->is_string() ? e->get<std::string>()
                                                       : "coapd refused the observation");
      return kExitFailure;
    }
    const json result = message.value("result", json::object());
    auto r = decoded<control::ObserveResult>(result);
    if (!r) return kExitFailure;
    if (r->response.status == "deregistered") return kExitOk;
    // Not observable, an error response, a timeout: as `coapctl get`.
    return print_request_result(global_, result);
  }

  const GlobalOptions& global_;
  const ObserveOptions& options_;
  ControlClient& client_;
  const int64_t id_;
  std::optional<Clock::time_point> end_at_;
  std::optional<Clock::time_point> answer_by_;
  bool cancelling_ = false;
  uint64_t printed_ = 0;
};

std::string format_observations(const control::ObservationsResult& r) {
  if (r.observations.empty()) return "no observations\n";
  std::string out = "ID  SESSION  NOTIFICATIONS  LAST_SEQ  TOKEN             URI\n";
  for (const control::ObservationEntry& o : r.observations) {
    char line[96];
    std::snprintf(line, sizeof line, "%-3llu %-8llu %-14llu %-9u %-17s ",
                  static_cast<unsigned long long>(o.id),
                  static_cast<unsigned long long>(o.session_id),
                  static_cast<unsigned long long>(o.notifications), o.last_seq, o.token.c_str());
    out += line + o.uri + (o.deregistering ? " (deregistering)" : "") + "\n";
  }
  return out;
}

}  // namespace

int run_observe(const GlobalOptions& global, const ObserveOptions& options) {
  // Before connecting: a signal arriving early is seen by the first wait.
  install_stop_signals();
  std::optional<control::RequestArgs> args = request_args(options.request);
  if (!args) return kExitUsage;
  std::string error;
  auto client = ControlClient::connect(global.socket_path, after_seconds(global.timeout_s), &error);
  if (!client) {
    print_error(error);
    return kExitFailure;
  }
  std::optional<int64_t> id = client->send_request(Command::kObserve, args->encode(),
                                                   after_seconds(global.timeout_s), &error);
  if (!id) {
    print_error(error);
    return kExitFailure;
  }
  return ObserveRun(global, options, *client, *id).run();
}

int run_observe_cancel(const GlobalOptions& global, uint64_t observation) {
  auto result = call_daemon(global, Command::kObserveCancel,
                            control::ObserveCancelArgs{observation}.encode(), global.timeout_s);
  if (!result) return kExitFailure;
  if (global.json) print_json_line(*result);
  return kExitOk;
}

int run_discover(const GlobalOptions& global, const std::string& group, double wait_s) {
  return run_and_print<control::DiscoverResult>(
      global, Command::kDiscover, control::DiscoverArgs{group, wait_s}.encode(),
      [](const control::DiscoverResult& r) {
        std::string out;
        for (const auto& n : r.nodes) out += n.address + " " + n.links + "\n";
        return out.empty() ? std::string("no node answered\n") : out;
      },
      wait_s);
}

int run_observations(const GlobalOptions& global) {
  return run_and_print<control::ObservationsResult>(global, Command::kObservations, json::object(),
                                                    format_observations);
}

}  // namespace coapctl
