#include "test/daemon/fake_coapd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/control/line_reader.h"
#include "daemon/control/protocol.h"

namespace coapctl_test {
namespace {

void write_all(int fd, const std::string& text) {
  std::size_t sent = 0;
  while (sent < text.size()) {
    ssize_t n = ::send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the client went away; the test checks what it saw
    sent += static_cast<std::size_t>(n);
  }
}

}  // namespace

void FakeConnection::send_raw(const std::string& text) {
  if (fd_ >= 0) write_all(fd_, text);
}

void FakeConnection::send(const json& message) { send_raw(message.dump() + "\n"); }

void FakeConnection::reply_ok(const json& request, const json& result) {
  send({{"v", 1}, {"id", request.value("id", json())}, {"ok", true}, {"result", result}});
}

void FakeConnection::reply_error(const json& request, const std::string& error) {
  send({{"v", 1}, {"id", request.value("id", json())}, {"ok", false}, {"error", error}});
}

void FakeConnection::send_event(const json& event) { send({{"v", 1}, {"event", event}}); }

void FakeConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool FakeConnection::wait_for_hangup(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (fd_ >= 0 && !stopping_->load() && std::chrono::steady_clock::now() < deadline) {
    pollfd pfd = {fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 20) <= 0) continue;
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return true;
  }
  return false;
}

FakeCoapd::FakeCoapd(Handler handler) : handler_(std::move(handler)) {
  char dir_template[] = "/tmp/coapctl-test-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = dir_template;
  socket_path_ = dir_ + "/coapd.sock";

  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 8) != 0 || ::pipe2(wake_pipe_, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("fake coapd setup failed: ") + std::strerror(errno));
  thread_ = std::thread([this] { serve(); });
}

FakeCoapd::~FakeCoapd() {
  stopping_ = true;
  char byte = 0;
  (void)!::write(wake_pipe_[1], &byte, 1);
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_pipe_[0]);
  ::close(wake_pipe_[1]);
  ::unlink(socket_path_.c_str());
  ::rmdir(dir_.c_str());
}

std::vector<json> FakeCoapd::requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

json FakeCoapd::only_request() const {
  std::vector<json> all = requests();
  EXPECT_EQ(all.size(), 1u);
  return all.empty() ? json() : all.front();
}

FakeCoapd::Handler FakeCoapd::answer(json result) {
  return [result](const json& request, FakeConnection& connection) {
    connection.reply_ok(request, result);
  };
}

FakeCoapd::Handler FakeCoapd::refuse(std::string error) {
  return [error](const json& request, FakeConnection& connection) {
    connection.reply_error(request, error);
  };
}

FakeCoapd::Handler FakeCoapd::never_answer() {
  return [](const json&, FakeConnection&) {};
}

void FakeCoapd::serve() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) serve_connection(fd);
  }
}

void FakeCoapd::serve_connection(int fd) {
  FakeConnection connection(fd, &stopping_);
  control::LineReader reader;
  while (!stopping_ && !connection.closed()) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) break;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    reader.feed(std::string_view(buf, static_cast<std::size_t>(n)));
    while (auto line = reader.next_line()) {
      json request = json::parse(*line, nullptr, false);
      if (request.is_discarded()) request = *line;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        requests_.push_back(request);
      }
      handler_(request, connection);
      if (connection.closed()) return;
    }
  }
  connection.close();
}

}  // namespace coapctl_test
