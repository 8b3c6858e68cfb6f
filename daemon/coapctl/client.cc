#include "daemon/coapctl/client.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace coapctl {
namespace {

volatile sig_atomic_t g_stop = 0;
bool g_signals_installed = false;
sigset_t g_wait_mask;  // the signal mask to wait with: stop signals unblocked

void on_stop_signal(int) { g_stop = 1; }

std::string errno_text(int err) { return std::strerror(err); }

// Milliseconds until deadline for poll(), rounded up so that we never wake
// early and spin; -1 when there is no deadline.
int poll_timeout_ms(std::optional<Clock::time_point> deadline) {
  if (!deadline) return -1;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()).count();
  if (left <= 0) return 0;
  return left > 60'000 ? 60'000 : static_cast<int>(left);
}

}  // namespace

void install_stop_signals() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  // Blocked everywhere but inside ppoll(), so a signal can never slip in
  // between checking the flag and starting to wait.
  sigprocmask(SIG_BLOCK, &stop, &g_wait_mask);
  sigdelset(&g_wait_mask, SIGINT);
  sigdelset(&g_wait_mask, SIGTERM);

  struct sigaction sa = {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  g_signals_installed = true;
}

bool stop_requested() { return g_stop != 0; }
void clear_stop_request() { g_stop = 0; }

std::unique_ptr<ControlClient> ControlClient::connect(const std::string& path,
                                                      Clock::time_point deadline,
                                                      std::string* error) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    *error = "cannot connect to " + path + ": socket path must be 1 to " +
             std::to_string(sizeof(addr.sun_path) - 1) + " bytes long";
    return nullptr;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());

  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    *error = "cannot create a Unix socket: " + errno_text(errno);
    return nullptr;
  }
  // A non-blocking connect() to a Unix socket either completes at once or
  // fails with EAGAIN when the listener's backlog is full; it cannot be polled
  // for, so retry until the deadline.
  while (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    ::close(fd);
    *error = "cannot connect to " + path + ": ";
    if (err == EAGAIN)
      *error += "timed out (coapd is not accepting connections)";
    else
      *error += errno_text(err);
    if (err == ENOENT || err == ECONNREFUSED) *error += " (is coapd running?)";
    return nullptr;
  }
  return std::unique_ptr<ControlClient>(new ControlClient(fd, path));
}

ControlClient::~ControlClient() { ::close(fd_); }

ControlClient::ReadStatus ControlClient::wait(short events,
                                              std::optional<Clock::time_point> deadline,
                                              std::string* error) {
  for (;;) {
    if (g_signals_installed && g_stop) return ReadStatus::kInterrupted;
    pollfd pfd = {fd_, events, 0};
    int timeout_ms = poll_timeout_ms(deadline);
    int n;
    if (g_signals_installed) {
      timespec ts;
      timespec* tsp = nullptr;
      if (timeout_ms >= 0) {
        ts.tv_sec = timeout_ms / 1000;
        ts.tv_nsec = static_cast<long>(timeout_ms % 1000) * 1'000'000;
        tsp = &ts;
      }
      n = ::ppoll(&pfd, 1, tsp, &g_wait_mask);
    } else {
      n = ::poll(&pfd, 1, timeout_ms);
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = "poll on the control socket failed: " + errno_text(errno);
      return ReadStatus::kFailed;
    }
    if (n > 0) return ReadStatus::kMessage;  // ready (or hung up: the I/O call tells)
    if (deadline && Clock::now() >= *deadline) return ReadStatus::kTimedOut;
  }
}

bool ControlClient::send_line(const std::string& line, Clock::time_point deadline,
                              std::string* error) {
  std::size_t sent = 0;
  while (sent < line.size()) {
    ssize_t n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      *error = "cannot send to coapd on " + path_ + ": " + errno_text(errno);
      return false;
    }
    switch (wait(POLLOUT, deadline, error)) {
      case ReadStatus::kMessage: break;
      case ReadStatus::kTimedOut: *error = "timed out sending to coapd on " + path_; return false;
      case ReadStatus::kInterrupted: *error = "interrupted"; return false;
      default: return false;
    }
  }
  return true;
}

ControlClient::ReadStatus ControlClient::read_message(std::optional<Clock::time_point> deadline,
                                                      nlohmann::json* message, std::string* error) {
  for (;;) {
    if (auto line = reader_.next_line()) {
      if (line->empty()) continue;  // tolerated keep-alive
      nlohmann::json parsed = nlohmann::json::parse(*line, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded() || !parsed.is_object()) {
        *error = "coapd sent a malformed control message: " + line->substr(0, 200);
        return ReadStatus::kFailed;
      }
      auto v = parsed.find("v");
      if (v != parsed.end() && *v != control::kProtocolVersion) {
        *error = "coapd speaks control protocol version " + v->dump() +
                 ", this coapctl speaks version " + std::to_string(control::kProtocolVersion);
        return ReadStatus::kFailed;
      }
      *message = std::move(parsed);
      return ReadStatus::kMessage;
    }

    ReadStatus ready = wait(POLLIN, deadline, error);
    if (ready != ReadStatus::kMessage) return ready;

    char buf[64 * 1024];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      // A reset is the daemon going away as much as an orderly close is.
      if (errno == ECONNRESET) return ReadStatus::kClosed;
      *error = "cannot read from coapd on " + path_ + ": " + errno_text(errno);
      return ReadStatus::kFailed;
    }
    if (n == 0) return ReadStatus::kClosed;
    if (!reader_.feed(std::string_view(buf, static_cast<std::size_t>(n)))) {
      *error = "coapd sent a control message longer than " +
               std::to_string(control::kMaxAnswerBytes) + " bytes";
      return ReadStatus::kFailed;
    }
  }
}

std::optional<int64_t> ControlClient::send_request(control::Command cmd, nlohmann::json arguments,
                                                   Clock::time_point deadline, std::string* error) {
  const int64_t id = next_id_++;
  const nlohmann::json request = control::request_message(id, cmd, std::move(arguments));
  if (!send_line(request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                 deadline, error))
    return std::nullopt;
  return id;
}

ControlClient::Answer ControlClient::call(control::Command cmd, nlohmann::json arguments,
                                          Clock::time_point deadline) {
  Answer answer{Answer::Kind::kFailed, nullptr, {}};
  const std::optional<int64_t> sent =
      send_request(cmd, std::move(arguments), deadline, &answer.error);
  if (!sent) return answer;
  const int64_t id = *sent;

  for (;;) {
    nlohmann::json message;
    switch (read_message(deadline, &message, &answer.error)) {
      case ReadStatus::kMessage: break;
      case ReadStatus::kClosed:
        answer.error = "coapd closed the control connection without answering";
        return answer;
      case ReadStatus::kTimedOut:
        answer.error = "timed out waiting for coapd to answer on " + path_;
        return answer;
      case ReadStatus::kInterrupted: answer.error = "interrupted"; return answer;
      case ReadStatus::kFailed: return answer;
    }
    if (auto event = message.find("event"); event != message.end() && !message.contains("ok")) {
      early_events_.push_back(*event);
      continue;
    }
    // A response without an id answers a request the daemon could not parse:
    // ours, since it is the only one on this connection.
    auto msg_id = message.find("id");
    if (msg_id != message.end() && !msg_id->is_null() && *msg_id != id) continue;
    auto ok = message.find("ok");
    if (ok == message.end() || !ok->is_boolean()) {
      answer.error = "coapd sent a response without \"ok\": " + message.dump().substr(0, 200);
      return answer;
    }
    if (ok->get<bool>()) {
      answer.kind = Answer::Kind::kOk;
      auto result = message.find("result");
      answer.result = result != message.end() ? *result : nlohmann::json::object();
      answer.error.clear();
    } else {
      answer.kind = Answer::Kind::kRejected;
      auto err = message.find("error");
      answer.error = err != message.end() && err->is_string() ? err->get<std::string>()
                                                              : "coapd refused the request";
    }
    return answer;
  }
}

std::vector<nlohmann::json> ControlClient::take_early_events() {
  std::vector<nlohmann::json> events;
  events.swap(early_events_);
  return events;
}

}  // namespace coapctl
