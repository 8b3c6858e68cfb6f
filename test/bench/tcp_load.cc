// tcp mode: N CoAP-over-TCP connections (RFC 8323), each sending its CSM
// and then keeping W pipelined GETs in flight. Responses are reassembled
// with coap::FrameDecoder and matched by token (the low 16 bits name the
// slot). A request unanswered after opts.timeout_s is counted lost once; if
// its answer still arrives it is counted as "late_response", not as a
// response. A connection that fails is counted by errno, its outstanding
// requests are counted lost, and it reconnects after a short pause.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coap/tcp_framing.h"
#include "test/bench/load_common.h"

namespace bench {
namespace {

constexpr std::size_t kMaxFrame = 64 * 1024;
constexpr int64_t kScanIntervalNs = 10'000'000;
constexpr int64_t kReconnectDelayNs = 10'000'000;

struct Slot {
  uint64_t token = 0;
  int64_t sent_ns = 0;
  bool busy = false;
  bool late = false;  // already counted lost
};

struct Conn {
  enum class State { kIdle, kConnecting, kOpen };
  State state = State::kIdle;
  int fd = -1;
  uint32_t generation = 0;  // part of the epoll cookie, so stale events are ignored
  std::optional<coap::FrameDecoder> decoder;
  std::vector<uint8_t> out;
  std::size_t out_off = 0;
  std::vector<Slot> slots;
  uint64_t next_seq = 1;
  int64_t retry_at = 0;
  std::string failure;  // set while decoding, acted on afterwards
};

class TcpLoad {
 public:
  TcpLoad(const Options& opts, const Target& target, const std::vector<Target>& sources)
      : opts_(opts), target_(target), sources_(sources), request_(opts.path) {}

  Stats run();

 private:
  static uint64_t cookie(uint32_t index, const Conn& c) {
    return (uint64_t{c.generation} << 32) | index;
  }
  void connect(uint32_t index, int64_t now);
  void on_event(uint32_t index, uint32_t events, int64_t now);
  void on_connected(Conn& c, int64_t now);
  void read(Conn& c, int64_t now);
  bool on_frame(Conn& c, const coap::Message& m, int64_t now);
  void queue_request(Conn& c, uint32_t slot, int64_t now);
  void flush(Conn& c);
  void fail(Conn& c, const std::string& kind, int64_t now);
  void expire(int64_t now);

  const Options& opts_;
  const Target& target_;
  SourcePicker sources_;
  RequestTemplate request_;
  std::vector<Conn> conns_;
  Stats stats_;
  Epoll epoll_;
  std::vector<uint8_t> rx_ = std::vector<uint8_t>(64 * 1024);
};

void TcpLoad::connect(uint32_t index, int64_t now) {
  Conn& c = conns_[index];
  int err = 0;
  c.fd = start_tcp_connect(target_, sources_.next(), &err);
  if (c.fd < 0) {
    stats_.count_error(errno_kind(err));
    c.retry_at = now + kReconnectDelayNs;
    return;
  }
  ++c.generation;
  c.state = Conn::State::kConnecting;
  c.decoder.emplace(kMaxFrame);
  c.out.clear();
  c.out_off = 0;
  c.failure.clear();
  for (Slot& s : c.slots) s = Slot{};
  epoll_.add(c.fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, cookie(index, c));
}

void TcpLoad::on_event(uint32_t index, uint32_t events, int64_t now) {
  Conn& c = conns_[index];
  if (c.state == Conn::State::kConnecting) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    const int err = socket_error(c.fd);
    if (err != 0) {
      fail(c, errno_kind(err), now);
      return;
    }
    on_connected(c, now);
    if (c.state != Conn::State::kOpen) return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) read(c, now);
  if (c.state == Conn::State::kOpen) flush(c);
}

void TcpLoad::on_connected(Conn& c, int64_t now) {
  c.state = Conn::State::kOpen;
  // RFC 8323 5.3: the initiator sends its CSM first and may then send
  // requests without waiting for the peer's CSM.
  coap::OptionList none;
  coap::write_tcp(c.out, coap::codes::kCsm, coap::Token{}, none, {});
  for (uint32_t i = 0; i < c.slots.size(); ++i) queue_request(c, i, now);
}

void TcpLoad::queue_request(Conn& c, uint32_t slot, int64_t now) {
  const coap::Token token = make_token(c.next_seq++, slot, opts_.token_len);
  Slot& s = c.slots[slot];
  s.token = token_value(token);
  s.sent_ns = now;
  s.busy = true;
  s.late = false;
  coap::write_tcp(c.out, coap::codes::kGet, token, request_.options(), {});
  stats_.count_request();
}

void TcpLoad::read(Conn& c, int64_t now) {
  const coap::FrameDecoder::FrameHandler handler = [&](const coap::Message& m, std::size_t) {
    return on_frame(c, m, now);
  };
  while (c.state == Conn::State::kOpen) {
    const ssize_t n = recv(c.fd, rx_.data(), rx_.size(), 0);
    if (n > 0) {
      const coap::FrameError err =
          c.decoder->feed({rx_.data(), static_cast<std::size_t>(n)}, handler);
      if (err != coap::FrameError::kNone) c.failure = "bad_frame";
      if (!c.failure.empty()) {
        fail(c, c.failure, now);
        return;
      }
      continue;
    }
    if (n == 0) {
      fail(c, "eof", now);
      return;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    if (errno == EINTR) continue;
    fail(c, errno_kind(errno), now);
    return;
  }
}

bool TcpLoad::on_frame(Conn& c, const coap::Message& m, int64_t now) {
  if (m.code.is_signaling()) {
    if (m.code == coap::codes::kPing) {
      coap::OptionList none;
      coap::write_tcp(c.out, coap::codes::kPong, m.token, none, {});
    } else if (m.code == coap::codes::kRelease || m.code == coap::codes::kAbort) {
      c.failure = m.code == coap::codes::kRelease ? "release" : "abort";
      return false;
    }
    return true;  // CSM, Pong
  }
  if (!m.code.is_response()) {
    stats_.count_error("unexpected_message");
    return true;
  }
  const uint64_t v = token_value(m.token);
  const uint32_t i = v & 0xffff;
  if (m.token.len != opts_.token_len || i >= c.slots.size() || !c.slots[i].busy ||
      c.slots[i].token != v) {
    stats_.count_error("stale_response");
    return true;
  }
  Slot& s = c.slots[i];
  if (s.late) {
    stats_.count_error("late_response");
  } else {
    stats_.count_response(now - s.sent_ns);
    if (!m.code.is_success()) stats_.count_error("status_" + m.code.str());
  }
  queue_request(c, i, now);
  return true;
}

void TcpLoad::flush(Conn& c) {
  while (c.out_off < c.out.size()) {
    const ssize_t n = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
    if (n > 0) {
      c.out_off += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // EPOLLOUT (edge) resumes
    if (errno == EINTR) continue;
    fail(c, errno_kind(errno), now_ns());
    return;
  }
  c.out.clear();
  c.out_off = 0;
}

void TcpLoad::fail(Conn& c, const std::string& kind, int64_t now) {
  stats_.count_error(kind);
  for (Slot& s : c.slots)
    if (s.busy && !s.late) stats_.count_lost();
  close(c.fd);  // also removes it from the epoll set
  c.fd = -1;
  c.state = Conn::State::kIdle;
  c.retry_at = now + kReconnectDelayNs;
}

void TcpLoad::expire(int64_t now) {
  const int64_t timeout = static_cast<int64_t>(opts_.timeout_s * 1e9);
  for (Conn& c : conns_) {
    if (c.state != Conn::State::kOpen) continue;
    for (Slot& s : c.slots) {
      if (s.busy && !s.late && now - s.sent_ns >= timeout) {
        s.late = true;
        stats_.count_lost();
      }
    }
  }
}

Stats TcpLoad::run() {
  conns_.resize(opts_.conns);
  for (Conn& c : conns_) c.slots.resize(opts_.window);
  const int64_t start = now_ns();
  const int64_t measure_at = start + static_cast<int64_t>(opts_.warmup_s * 1e9);
  const int64_t end = measure_at + static_cast<int64_t>(opts_.duration_s * 1e9);
  int64_t next_scan = start + kScanIntervalNs;
  int64_t now = start;
  if (measure_at <= now) stats_.start_measuring(now);
  while (true) {
    for (uint32_t i = 0; i < conns_.size(); ++i)
      if (conns_[i].state == Conn::State::kIdle && now >= conns_[i].retry_at) connect(i, now);
    const int64_t wake = std::min({next_scan, end, stats_.measuring() ? end : measure_at});
    const int n = epoll_.wait(wait_ms_until(wake, now, 10));
    now = now_ns();
    for (int e = 0; e < n; ++e) {
      const uint64_t ck = epoll_.event(e).data.u64;
      const uint32_t index = static_cast<uint32_t>(ck);
      if (conns_[index].state == Conn::State::kIdle ||
          conns_[index].generation != static_cast<uint32_t>(ck >> 32))
        continue;
      on_event(index, epoll_.event(e).events, now);
    }
    if (!stats_.measuring() && now >= measure_at && now < end) stats_.start_measuring(now);
    if (now >= end) break;
    if (now >= next_scan) {
      expire(now);
      next_scan = now + kScanIntervalNs;
    }
  }
  stats_.stop_measuring(now);
  for (Conn& c : conns_)
    if (c.fd >= 0) close(c.fd);
  return stats_;
}

}  // namespace

Stats run_tcp(const Options& opts, const Target& target, const std::vector<Target>& sources) {
  auto load = std::make_unique<TcpLoad>(opts, target, sources);
  return load->run();
}

}  // namespace bench
