#include "test/bench/load_common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace bench {

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void Stats::start_measuring(int64_t now) {
  measuring_ = true;
  start_ns_ = now;
  end_ns_ = now;
}

void Stats::stop_measuring(int64_t now) {
  if (measuring_) end_ns_ = now;
  measuring_ = false;
}

uint64_t Stats::errors() const {
  uint64_t n = 0;
  for (const auto& [kind, count] : errors_) n += count;
  return n;
}

bool parse_target(const std::string& text, Target& out, std::string& error) {
  std::string host;
  std::string port;
  if (!text.empty() && text[0] == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      error = "expected [IPv6]:PORT";
      return false;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) {
      error = "expected IP:PORT";
      return false;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  char* end = nullptr;
  const long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p <= 0 || p > 65535) {
    error = "bad port '" + port + "'";
    return false;
  }
  if (!parse_address(host, out, error)) return false;
  const uint16_t nport = htons(static_cast<uint16_t>(p));
  if (out.family == AF_INET)
    reinterpret_cast<sockaddr_in*>(&out.addr)->sin_port = nport;
  else
    reinterpret_cast<sockaddr_in6*>(&out.addr)->sin6_port = nport;
  return true;
}

bool parse_address(const std::string& host, Target& out, std::string& error) {
  out = Target{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    out.len = sizeof(sockaddr_in);
    out.family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    out.len = sizeof(sockaddr_in6);
    out.family = AF_INET6;
    return true;
  }
  error = "bad address '" + host + "' (a numeric IPv4 or IPv6 address is required)";
  return false;
}

std::string errno_kind(int err) {
  switch (err) {
    case ECONNRESET: return "econnreset";
    case ECONNREFUSED: return "econnrefused";
    case ETIMEDOUT: return "etimedout";
    case EPIPE: return "epipe";
    case EADDRNOTAVAIL: return "eaddrnotavail";
    case EHOSTUNREACH: return "ehostunreach";
    case ENETUNREACH: return "enetunreach";
    case EMFILE: return "emfile";
    case ENOBUFS: return "enobufs";
    default: return "errno_" + std::to_string(err);
  }
}

RequestTemplate::RequestTemplate(const std::string& path) : path_(path) {
  options_.add_path(coap::opt::kUriPath, path_);
}

Epoll::Epoll() : fd_(epoll_create1(EPOLL_CLOEXEC)) {
  if (fd_ < 0) {
    std::perror("epoll_create1");
    std::exit(2);
  }
}

Epoll::~Epoll() { close(fd_); }

void Epoll::add(int fd, uint32_t events, uint64_t cookie) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = cookie;
  if (epoll_ctl(fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    std::perror("epoll_ctl(ADD)");
    std::exit(2);
  }
}

void Epoll::modify(int fd, uint32_t events, uint64_t cookie) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = cookie;
  if (epoll_ctl(fd_, EPOLL_CTL_MOD, fd, &ev) != 0) {
    std::perror("epoll_ctl(MOD)");
    std::exit(2);
  }
}

int Epoll::wait(int timeout_ms) {
  const int n = epoll_wait(fd_, events_, static_cast<int>(std::size(events_)), timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return 0;
    std::perror("epoll_wait");
    std::exit(2);
  }
  return n;
}

int start_tcp_connect(const Target& target, const Target* source, int* err) {
  const int fd = socket(target.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *err = errno;
    return -1;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (source != nullptr) {
    // Without IP_BIND_ADDRESS_NO_PORT bind() would pick a port unique for
    // the address alone; with it, connect() picks one unique for the 4-tuple.
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&source->addr), source->len) != 0) {
      *err = errno;
      close(fd);
      return -1;
    }
  }
  if (connect(fd, reinterpret_cast<const sockaddr*>(&target.addr), target.len) != 0 &&
      errno != EINPROGRESS) {
    *err = errno;
    close(fd);
    return -1;
  }
  return fd;
}

int socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

int wait_ms_until(int64_t deadline_ns, int64_t now, int max_ms) {
  if (deadline_ns <= now) return 0;
  const int64_t ms = (deadline_ns - now + 999'999) / 1'000'000;
  return static_cast<int>(std::min<int64_t>(ms, max_ms));
}

}  // namespace bench
