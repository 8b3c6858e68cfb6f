// The client end of the control socket (daemon/control_protocol.h): one
// connection carrying one request, its answer and, after an "events" request
// with follow, the event messages that keep coming.
//
// Single-threaded; every wait is bounded by a deadline except where the
// caller passes none (events --follow), and then SIGINT/SIGTERM end it once
// install_stop_signals() has run.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "daemon/control/line_reader.h"
#include "daemon/control/protocol.h"

namespace coapctl {

using Clock = std::chrono::steady_clock;

// Blocks SIGINT and SIGTERM and installs handlers that record them; they are
// delivered only while ControlClient::read_message() waits, which then returns
// kInterrupted. For a client that waits without a deadline.
void install_stop_signals();
bool stop_requested();
// Forgets a stop signal received, so that the next wait is not interrupted by
// it (a client that stops something through a second connection).
void clear_stop_request();

class ControlClient {
 public:
  enum class ReadStatus { kMessage, kClosed, kTimedOut, kInterrupted, kFailed };

  // The answer to call(): kOk carries the "result" object, kRejected the
  // daemon's "error" sentence (ok:false), kFailed a sentence saying why no
  // answer arrived (connection lost, timeout, malformed message).
  struct Answer {
    enum class Kind { kOk, kRejected, kFailed } kind;
    nlohmann::json result;
    std::string error;
  };

  // Connects to the Unix stream socket at path, retrying while its backlog is
  // full until deadline. Returns nullptr and sets *error to a sentence such as
  // "cannot connect to PATH: No such file or directory (is coapd running?)".
  static std::unique_ptr<ControlClient> connect(const std::string& path, Clock::time_point deadline,
                                                std::string* error);

  ~ControlClient();
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  // Sends the command with its arguments (in a request envelope with a fresh
  // id) and waits until deadline for the response carrying that id. Event
  // messages arriving meanwhile are kept for take_early_events().
  Answer call(control::Command cmd, nlohmann::json arguments, Clock::time_point deadline);

  // Sends the command without waiting for its answer (a streaming command,
  // or a second request while one streams); returns its request id, or
  // nullopt with *error set.
  std::optional<int64_t> send_request(control::Command cmd, nlohmann::json arguments,
                                      Clock::time_point deadline, std::string* error);

  // Event objects (the "event" member of event messages) received by call()
  // before the response, oldest first; clears them.
  std::vector<nlohmann::json> take_early_events();

  // Reads the next message. With no deadline waits for ever (or until a stop
  // signal, see install_stop_signals()). On kMessage *message holds the
  // parsed object; on kFailed *error says why.
  ReadStatus read_message(std::optional<Clock::time_point> deadline, nlohmann::json* message,
                          std::string* error);

 private:
  ControlClient(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  bool send_line(const std::string& line, Clock::time_point deadline, std::string* error);
  // Waits for fd_ to be readable/writable (events as for poll()).
  ReadStatus wait(short events, std::optional<Clock::time_point> deadline, std::string* error);

  int fd_;
  std::string path_;
  int64_t next_id_ = 1;
  control::LineReader reader_{control::kMaxAnswerBytes};
  std::vector<nlohmann::json> early_events_;
};

}  // namespace coapctl
