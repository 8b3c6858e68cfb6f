// A stand-in for coapd's control socket, at the environment boundary of the
// coapctl tests: it listens on a Unix socket in a fresh temporary directory,
// records every request line and lets the test script the answers.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace coapctl_test {

using nlohmann::json;

// The server end of one accepted connection, used by a FakeCoapd handler on
// the server thread.
class FakeConnection {
 public:
  explicit FakeConnection(int fd, const std::atomic<bool>* stopping)
      : fd_(fd), stopping_(stopping) {}

  // Sends text as is (a test may send broken lines on purpose).
  void send_raw(const std::string& text);
  // Sends message as one line.
  void send(const json& message);
  // {"v":1,"id":<request id>,"ok":true,"result":result}
  void reply_ok(const json& request, const json& result);
  // {"v":1,"id":<request id>,"ok":false,"error":error}
  void reply_error(const json& request, const std::string& error);
  // {"v":1,"event":event}
  void send_event(const json& event);

  // Closes the connection now; the server then skips waiting for the client
  // to hang up.
  void close();
  bool closed() const { return fd_ < 0; }

  // Waits until the client hangs up, the server stops or timeout passes.
  // Returns true when the client hung up.
  bool wait_for_hangup(std::chrono::milliseconds timeout);

  int fd() const { return fd_; }

 private:
  int fd_;
  const std::atomic<bool>* stopping_;
};

class FakeCoapd {
 public:
  // Called on the server thread for each request line received.
  using Handler = std::function<void(const json& request, FakeConnection& connection)>;

  // Starts listening and serving on a thread. The connection stays open after
  // the handler returns until the client hangs up (as coapd does), unless the
  // handler closed it.
  explicit FakeCoapd(Handler handler);
  // Stops the thread and removes the socket and its directory.
  ~FakeCoapd();
  FakeCoapd(const FakeCoapd&) = delete;
  FakeCoapd& operator=(const FakeCoapd&) = delete;

  const std::string& socket_path() const { return socket_path_; }

  // The request lines received so far, parsed (a non-JSON line is kept as a
  // JSON string).
  std::vector<json> requests() const;
  // The only request received; fails the test unless there was exactly one.
  json only_request() const;

  // Handlers for the common cases.
  static Handler answer(json result);
  static Handler refuse(std::string error);
  static Handler never_answer();

 private:
  void serve();
  void serve_connection(int fd);

  Handler handler_;
  std::string dir_;
  std::string socket_path_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};  // written by the destructor to stop serve()
  std::atomic<bool> stopping_{false};

  mutable std::mutex mutex_;
  std::vector<json> requests_;  // protected by mutex_

  std::thread thread_;  // last: starts after everything above is ready
};

}  // namespace coapctl_test
