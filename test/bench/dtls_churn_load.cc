// dtls_churn mode: opts.conns workers, each repeating one DTLS session:
//
//   new UDP socket (a new source port) -> PSK handshake with coapd's
//   coap::SecureChannel (ClientHello, HelloVerifyRequest, ClientHello with
//   the cookie, ... Finished) -> one confirmable GET -> its response ->
//   close_notify -> close the socket.
//
// A cycle counts when the response decrypted, parsed and matched the
// request's token (and Message ID, when piggybacked). It fails on a fatal
// alert, a close_notify before the response, a socket error, or when it
// takes longer than opts.timeout_s ("timeout"; a lost handshake flight is
// resent by the channel's timer meanwhile). Latency percentiles are those of
// whole successful cycles.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "coap/message.h"
#include "test/bench/secure_common.h"

namespace bench {
namespace {

constexpr std::size_t kMaxDatagram = 2048;
constexpr int64_t kScanIntervalNs = 10'000'000;
constexpr int64_t kRetryDelayNs = 1'000'000;

class DtlsChurnLoad;

struct Worker {
  enum class State { kIdle, kHandshake, kAwaitResponse };
  State state = State::kIdle;
  int fd = -1;
  uint32_t generation = 0;
  std::unique_ptr<ForwardSink<DtlsChurnLoad>> sink;
  std::unique_ptr<coap::SecureChannel> channel;
  int64_t start_ns = 0;
  int64_t retry_at = 0;
  uint64_t next_seq = 1;
  uint64_t token = 0;
  uint16_t mid = 0;
  bool send_request = false;  // established: the GET is due
  bool got_response = false;
  std::vector<uint16_t> acks;  // separate responses to acknowledge
  std::string failure;         // set inside a channel call, acted on after it
};

class DtlsChurnLoad {
 public:
  DtlsChurnLoad(const Options& opts, const Target& target)
      : opts_(opts),
        target_(target),
        request_(opts.path),
        ctx_(make_client_context(opts)),
        security_(client_security(opts)) {}

  Stats run();

  // ForwardSink's handlers.
  void on_ciphertext(uint32_t index, std::span<const uint8_t> b);
  void on_plaintext(uint32_t index, std::span<const uint8_t> b);
  void on_established(uint32_t index, const coap::PeerSecurity& p);
  void on_failed(uint32_t index, const std::string& kind, const std::string& why);

 private:
  bool may_start() const {
    return !(opts_.cycles > 0 && stats_.measuring() && started_ >= opts_.cycles);
  }
  void start(uint32_t index, int64_t now);
  void receive(Worker& w, int64_t now);
  void after_channel(Worker& w, int64_t now);
  void end(Worker& w, int64_t now);
  void fail(Worker& w, const std::string& kind, int64_t now);
  void expire(int64_t now);

  const Options& opts_;
  const Target& target_;
  RequestTemplate request_;
  std::unique_ptr<coap::SecurityContext> ctx_;
  coap::ClientSecurity security_;
  std::vector<Worker> workers_;
  Stats stats_;
  Epoll epoll_;
  uint64_t started_ = 0;  // cycles started while measuring
  std::mt19937 rng_{std::random_device{}()};
  std::vector<uint8_t> plain_;
  std::vector<uint8_t> rx_ = std::vector<uint8_t>(kMaxDatagram);
};

void DtlsChurnLoad::start(uint32_t index, int64_t now) {
  Worker& w = workers_[index];
  w.fd = socket(target_.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (w.fd < 0 || connect(w.fd, reinterpret_cast<const sockaddr*>(&target_.addr), target_.len)) {
    stats_.count_error(errno_kind(errno));
    if (w.fd >= 0) close(w.fd);
    w.fd = -1;
    w.retry_at = now + kRetryDelayNs;
    return;
  }
  if (stats_.measuring()) ++started_;
  stats_.count_request();
  ++w.generation;
  w.state = Worker::State::kHandshake;
  w.start_ns = now;
  w.send_request = w.got_response = false;
  w.acks.clear();
  w.failure.clear();
  epoll_.add(w.fd, EPOLLIN, (uint64_t{w.generation} << 32) | index);
  if (!w.sink) w.sink = std::make_unique<ForwardSink<DtlsChurnLoad>>(*this, index);
  auto channel = coap::SecureChannel::client(*ctx_, coap::SecureChannel::Transport::kDatagram,
                                             security_, *w.sink, channel_time(now));
  if (!channel) {
    std::fprintf(stderr, "coap_load: %s\n", channel.error().c_str());
    std::exit(2);
  }
  w.channel = std::move(*channel);
  after_channel(w, now);
}

void DtlsChurnLoad::on_ciphertext(uint32_t index, std::span<const uint8_t> b) {
  Worker& w = workers_[index];
  // One datagram at a time: a handshake flight is a few, a cycle a dozen.
  if (send(w.fd, b.data(), b.size(), MSG_DONTWAIT) < 0 && errno != EAGAIN)
    if (w.failure.empty()) w.failure = errno_kind(errno);
}

void DtlsChurnLoad::on_established(uint32_t index, const coap::PeerSecurity& p) {
  Worker& w = workers_[index];
  stats_.count_handshake(p.cipher);
  w.state = Worker::State::kAwaitResponse;
  w.send_request = true;
}

void DtlsChurnLoad::on_failed(uint32_t index, const std::string& kind, const std::string& why) {
  Worker& w = workers_[index];
  if (w.failure.empty()) w.failure = kind;
  if (!stats_.measuring()) std::fprintf(stderr, "coap_load: session ended: %s\n", why.c_str());
}

void DtlsChurnLoad::on_plaintext(uint32_t index, std::span<const uint8_t> d) {
  Worker& w = workers_[index];
  coap::Message m;
  if (coap::parse_udp(d, m) != coap::ParseError::kNone) {
    w.failure = "malformed";
    return;
  }
  if (m.code.is_empty()) {
    if (m.type == coap::Type::kRst && m.mid == w.mid) w.failure = "rst";
    return;  // an empty ACK: a separate response follows
  }
  if (m.type == coap::Type::kCon) w.acks.push_back(m.mid);
  if (!m.code.is_response() || m.token.len != opts_.token_len || token_value(m.token) != w.token ||
      (m.type == coap::Type::kAck && m.mid != w.mid) || w.got_response) {
    w.failure = "unexpected_message";
    return;
  }
  w.got_response = true;
  stats_.count_answer();
  if (!m.code.is_success()) stats_.count_error("status_" + m.code.str());
}

// After every call into the channel: act on a failure, send what is due,
// end the cycle once the response is there.
void DtlsChurnLoad::after_channel(Worker& w, int64_t now) {
  const coap::TimePoint t = channel_time(now);
  for (uint16_t mid : w.acks) {
    plain_.clear();
    coap::write_udp_empty(plain_, coap::Type::kAck, mid);
    (void)w.channel->write(plain_, t);
  }
  w.acks.clear();
  if (w.failure.empty() && w.send_request) {
    w.send_request = false;
    const coap::Token token = make_token(w.next_seq++, 0, opts_.token_len);
    w.token = token_value(token);
    w.mid = static_cast<uint16_t>(rng_());
    plain_.clear();
    coap::write_udp(plain_, coap::Type::kCon, coap::codes::kGet, w.mid, token, request_.options(),
                    {});
    (void)w.channel->write(plain_, t);  // a failure shows in w.failure
  }
  if (!w.failure.empty()) return fail(w, w.failure, now);
  if (w.got_response) end(w, now);
}

void DtlsChurnLoad::receive(Worker& w, int64_t now) {
  const coap::TimePoint t = channel_time(now);
  while (w.failure.empty() && !w.got_response) {
    const ssize_t n = recv(w.fd, rx_.data(), rx_.size(), MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) w.failure = errno_kind(errno);  // econnrefused: ICMP unreachable
      break;
    }
    if (static_cast<std::size_t>(n) > rx_.size()) {
      stats_.count_error("truncated");
      continue;
    }
    w.channel->feed({rx_.data(), static_cast<std::size_t>(n)}, t);
  }
  after_channel(w, now);
}

// The response is there: close_notify, then the socket.
void DtlsChurnLoad::end(Worker& w, int64_t now) {
  w.channel->close(channel_time(now));
  w.channel.reset();
  close(w.fd);
  w.fd = -1;
  w.state = Worker::State::kIdle;
  stats_.count_cycle(now - w.start_ns);
}

void DtlsChurnLoad::fail(Worker& w, const std::string& kind, int64_t now) {
  stats_.count_error(kind);
  w.channel.reset();
  close(w.fd);  // also removes it from the epoll set
  w.fd = -1;
  w.state = Worker::State::kIdle;
  w.retry_at = now + kRetryDelayNs;
}

void DtlsChurnLoad::expire(int64_t now) {
  const int64_t timeout = static_cast<int64_t>(opts_.timeout_s * 1e9);
  const coap::TimePoint t = channel_time(now);
  for (Worker& w : workers_) {
    if (w.state == Worker::State::kIdle) continue;
    if (now - w.start_ns >= timeout) {
      fail(w, "timeout", now);
    } else if (w.channel->next_timer() <= t) {
      w.channel->on_timer(t);  // resends a lost flight
      after_channel(w, now);
    }
  }
}

Stats DtlsChurnLoad::run() {
  workers_.resize(opts_.conns);
  const int64_t start_time = now_ns();
  const int64_t measure_at = start_time + static_cast<int64_t>(opts_.warmup_s * 1e9);
  const int64_t end_time = opts_.cycles > 0
                               ? std::numeric_limits<int64_t>::max()
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
    const int64_t wake =
        std::min({next_scan, end_time, stats_.measuring() ? end_time : measure_at});
    const int n = epoll_.wait(wait_ms_until(wake, now, 10));
    now = now_ns();
    for (int e = 0; e < n; ++e) {
      const uint64_t ck = epoll_.event(e).data.u64;
      Worker& w = workers_[static_cast<uint32_t>(ck)];
      if (w.state == Worker::State::kIdle || w.generation != static_cast<uint32_t>(ck >> 32))
        continue;
      receive(w, now);
    }
    if (!stats_.measuring() && now >= measure_at && now < end_time) stats_.start_measuring(now);
    if (now >= end_time) break;
    if (now >= next_scan) {
      expire(now);
      next_scan = now + kScanIntervalNs;
    }
  }
  stats_.stop_measuring(now);
  for (Worker& w : workers_) {
    w.channel.reset();
    if (w.fd >= 0) close(w.fd);
  }
  return stats_;
}

}  // namespace

Stats run_dtls_churn(const Options& opts, const Target& target) {
  auto load = std::make_unique<DtlsChurnLoad>(opts, target);
  return load->run();
}

}  // namespace bench
