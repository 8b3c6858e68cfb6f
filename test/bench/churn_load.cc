// churn mode: opts.conns workers, each repeating one connection cycle:
//
//   connect -> send CSM + GET (one write; with --wait-csm: CSM, then the GET
//   once the server's CSM arrived) -> read until the response -> close,
//   where close is, with CloseMode::kEof (default), shutdown(SHUT_WR) and
//   reading until the server's FIN, then close(); with kDrain, reading
//   whatever is buffered and close().
//
// The client always reads everything before close(), so the kernel never
// answers with RST. A cycle is a success when the response arrived and the
// connection closed cleanly; it fails on a connection error (counted by
// errno: econnreset, econnrefused, ...), on EOF before the response, or when
// it takes longer than opts.timeout_s ("timeout"). Latency percentiles are
// those of whole successful cycles (connect() to close()).
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>
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
// A worker whose cycle failed pauses this long, so that a refusing server
// does not turn the loop into a busy spin.
constexpr int64_t kRetryDelayNs = 1'000'000;

struct Worker {
  enum class State { kIdle, kConnecting, kAwaitCsm, kAwaitResponse, kAwaitEof };
  State state = State::kIdle;
  int fd = -1;
  uint32_t generation = 0;
  int64_t start_ns = 0;
  int64_t retry_at = 0;
  uint64_t next_seq = 1;
  uint64_t token = 0;
  bool got_response = false;
  std::optional<coap::FrameDecoder> decoder;
};

class ChurnLoad {
 public:
  ChurnLoad(const Options& opts, const Target& target, const std::vector<Target>& sources)
      : opts_(opts), target_(target), sources_(sources), request_(opts.path) {}

  Stats run();

 private:
  // False once --cycles cycles have been started in the measured phase.
  bool may_start() const {
    return !(opts_.cycles > 0 && stats_.measuring() && started_ >= opts_.cycles);
  }
  void start(uint32_t index, int64_t now);
  void on_event(uint32_t index, uint32_t events, int64_t now);
  void send_request(Worker& w, int64_t now);
  bool write_all(Worker& w, int64_t now);
  void read(Worker& w, int64_t now);
  void succeed(Worker& w, int64_t now);
  void fail(Worker& w, const std::string& kind, int64_t now);
  void expire(int64_t now);

  const Options& opts_;
  const Target& target_;
  SourcePicker sources_;
  RequestTemplate request_;
  std::vector<Worker> workers_;
  Stats stats_;
  Epoll epoll_;
  uint64_t started_ = 0;  // cycles started while measuring
  std::vector<uint8_t> tx_;
  std::vector<uint8_t> rx_ = std::vector<uint8_t>(16 * 1024);
};

void ChurnLoad::start(uint32_t index, int64_t now) {
  Worker& w = workers_[index];
  int err = 0;
  w.fd = start_tcp_connect(target_, sources_.next(), &err);
  if (w.fd < 0) {
    // e.g. eaddrnotavail: no local port left (TIME_WAIT)
    stats_.count_error(errno_kind(err));
    w.retry_at = now + kRetryDelayNs;
    return;
  }
  if (stats_.measuring()) ++started_;
  stats_.count_request();
  ++w.generation;
  w.state = Worker::State::kConnecting;
  w.start_ns = now;
  w.got_response = false;
  w.decoder.emplace(kMaxFrame);
  epoll_.add(w.fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
             (uint64_t{w.generation} << 32) | index);
}

void ChurnLoad::on_event(uint32_t index, uint32_t events, int64_t now) {
  Worker& w = workers_[index];
  if (w.state == Worker::State::kConnecting) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    const int err = socket_error(w.fd);
    if (err != 0) {
      fail(w, errno_kind(err), now);
      return;
    }
    send_request(w, now);
    if (w.state == Worker::State::kIdle) return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) read(w, now);
}

// Sends what is in tx_ (a few dozen bytes into an empty socket buffer: all
// or a failure).
bool ChurnLoad::write_all(Worker& w, int64_t now) {
  const ssize_t n = send(w.fd, tx_.data(), tx_.size(), MSG_NOSIGNAL);
  if (n < 0) {
    fail(w, errno_kind(errno), now);
    return false;
  }
  if (static_cast<std::size_t>(n) != tx_.size()) {
    fail(w, "short_write", now);
    return false;
  }
  return true;
}

// Our CSM, and the GET with it unless --wait-csm holds it for the server's.
void ChurnLoad::send_request(Worker& w, int64_t now) {
  tx_.clear();
  coap::OptionList none;
  if (w.state == Worker::State::kConnecting)
    coap::write_tcp(tx_, coap::codes::kCsm, coap::Token{}, none, {});
  if (w.state == Worker::State::kConnecting && opts_.wait_csm) {
    if (write_all(w, now)) w.state = Worker::State::kAwaitCsm;
    return;
  }
  const coap::Token token = make_token(w.next_seq++, 0, opts_.token_len);
  w.token = token_value(token);
  coap::write_tcp(tx_, coap::codes::kGet, token, request_.options(), {});
  if (write_all(w, now)) w.state = Worker::State::kAwaitResponse;
}

void ChurnLoad::read(Worker& w, int64_t now) {
  std::string failure;
  const coap::FrameDecoder::FrameHandler handler = [&](const coap::Message& m, std::size_t) {
    if (m.code.is_signaling()) {
      if (m.code == coap::codes::kRelease || m.code == coap::codes::kAbort) {
        failure = m.code == coap::codes::kRelease ? "release" : "abort";
        return false;
      }
      if (m.code == coap::codes::kCsm && w.state == Worker::State::kAwaitCsm) {
        send_request(w, now);
        return w.state != Worker::State::kIdle;  // a failed send was counted and closed
      }
      return true;
    }
    if (!m.code.is_response() || m.token.len != opts_.token_len ||
        token_value(m.token) != w.token || w.got_response) {
      failure = "unexpected_message";
      return false;
    }
    w.got_response = true;
    stats_.count_answer();
    if (!m.code.is_success()) stats_.count_error("status_" + m.code.str());
    return true;
  };
  while (true) {
    const ssize_t n = recv(w.fd, rx_.data(), rx_.size(), 0);
    if (n > 0) {
      const coap::FrameError e =
          w.decoder->feed({rx_.data(), static_cast<std::size_t>(n)}, handler);
      if (w.state == Worker::State::kIdle) return;  // the GET could not be sent
      if (e != coap::FrameError::kNone && failure.empty()) failure = "bad_frame";
      if (!failure.empty()) {
        fail(w, failure, now);
        return;
      }
      continue;
    }
    if (n == 0) {
      if (w.got_response)
        succeed(w, now);
      else
        fail(w, "eof_before_response", now);
      return;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      fail(w, errno_kind(errno), now);
      return;
    }
    break;  // everything buffered has been read
  }
  if (!w.got_response) return;
  if (opts_.close_mode == CloseMode::kDrain) {
    succeed(w, now);
  } else if (w.state == Worker::State::kAwaitResponse) {
    shutdown(w.fd, SHUT_WR);
    w.state = Worker::State::kAwaitEof;
  }
}

void ChurnLoad::succeed(Worker& w, int64_t now) {
  close(w.fd);
  w.fd = -1;
  w.state = Worker::State::kIdle;
  stats_.count_cycle(now - w.start_ns);
}

void ChurnLoad::fail(Worker& w, const std::string& kind, int64_t now) {
  stats_.count_error(kind);
  close(w.fd);
  w.fd = -1;
  w.state = Worker::State::kIdle;
  w.retry_at = now + kRetryDelayNs;
}

void ChurnLoad::expire(int64_t now) {
  const int64_t timeout = static_cast<int64_t>(opts_.timeout_s * 1e9);
  for (Worker& w : workers_)
    if (w.state != Worker::State::kIdle && now - w.start_ns >= timeout) fail(w, "timeout", now);
}

Stats ChurnLoad::run() {
  workers_.resize(opts_.conns);
  const int64_t start_time = now_ns();
  const int64_t measure_at = start_time + static_cast<int64_t>(opts_.warmup_s * 1e9);
  const int64_t end = opts_.cycles > 0 ? std::numeric_limits<int64_t>::max()
                                       : measure_at + static_cast<int64_t>(opts_.duration_s * 1e9);
  int64_t next_scan = start_time + kScanIntervalNs;
  int64_t now = start_time;
  if (measure_at <= now) stats_.start_measuring(now);
  while (true) {
    bool busy = false;
    for (uint32_t i = 0; i < workers_.size(); ++i) {
      Worker& w = workers_[i];
      if (w.state == Worker::State::kIdle && now >= w.retry_at && may_start()) start(i, now);
      busy = busy || w.state != Worker::State::kIdle;
    }
    if (!busy && !may_start()) break;  // --cycles reached and all cycles ended
    const int64_t wake = std::min({next_scan, end, stats_.measuring() ? end : measure_at});
    const int n = epoll_.wait(wait_ms_until(wake, now, 10));
    now = now_ns();
    for (int e = 0; e < n; ++e) {
      const uint64_t ck = epoll_.event(e).data.u64;
      const uint32_t index = static_cast<uint32_t>(ck);
      if (workers_[index].state == Worker::State::kIdle ||
          workers_[index].generation != static_cast<uint32_t>(ck >> 32))
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
  for (Worker& w : workers_)
    if (w.fd >= 0) close(w.fd);
  return stats_;
}

}  // namespace

Stats run_churn(const Options& opts, const Target& target, const std::vector<Target>& sources) {
  auto load = std::make_unique<ChurnLoad>(opts, target, sources);
  return load->run();
}

}  // namespace bench
