// tls mode: N CoAP-over-TLS connections (coaps+tcp://, RFC 8323 section 9),
// each a kernel TCP socket with coapd's own coap::SecureChannel (PSK) over
// it: after the handshake it sends its CSM and keeps W pipelined GETs in
// flight. Decrypted bytes are reassembled with coap::FrameDecoder; a
// response counts only when its token matches a request in flight. The
// requests one read turn produces are encrypted together (one write, so
// usually one record) and sent in one go.
//
// A handshake not done after opts.handshake_timeout_s, a fatal alert, a
// close_notify, Release/Abort or a socket error ends the connection: it is
// counted by kind, its requests are counted lost, and it reconnects (a new
// handshake) after a short pause. Unanswered requests older than
// opts.timeout_s are counted lost once; a late answer is "late_response".
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <vector>

#include "coap/tcp_framing.h"
#include "test/bench/secure_common.h"

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

class TlsLoad;

struct Conn {
  enum class State { kIdle, kConnecting, kHandshake, kOpen };
  State state = State::kIdle;
  int fd = -1;
  uint32_t generation = 0;
  std::unique_ptr<ForwardSink<TlsLoad>> sink;
  std::unique_ptr<coap::SecureChannel> channel;
  std::optional<coap::FrameDecoder> decoder;
  std::vector<uint8_t> plain_out;  // CoAP frames to encrypt
  std::vector<uint8_t> out;        // ciphertext to send
  std::size_t out_off = 0;
  std::vector<Slot> slots;
  uint64_t next_seq = 1;
  int64_t started_ns = 0;
  int64_t retry_at = 0;
  std::string failure;  // set inside a channel call, acted on after it
};

class TlsLoad {
 public:
  TlsLoad(const Options& opts, const Target& target, const std::vector<Target>& sources)
      : opts_(opts),
        target_(target),
        sources_(sources),
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
  static uint64_t cookie(uint32_t index, const Conn& c) {
    return (uint64_t{c.generation} << 32) | index;
  }
  void connect(uint32_t index, int64_t now);
  void on_event(uint32_t index, uint32_t events, int64_t now);
  void on_connected(uint32_t index, int64_t now);
  void read(Conn& c, int64_t now);
  bool on_frame(Conn& c, const coap::Message& m);
  void queue_request(Conn& c, uint32_t slot, int64_t now);
  void encrypt(Conn& c, int64_t now);
  void flush(Conn& c, int64_t now);
  void fail(Conn& c, const std::string& kind, int64_t now);
  void expire(int64_t now);

  const Options& opts_;
  const Target& target_;
  SourcePicker sources_;
  RequestTemplate request_;
  std::unique_ptr<coap::SecurityContext> ctx_;
  coap::ClientSecurity security_;
  std::vector<Conn> conns_;
  Stats stats_;
  Epoll epoll_;
  int64_t now_ = 0;  // of the bytes being fed
  std::vector<uint8_t> rx_ = std::vector<uint8_t>(64 * 1024);
};

void TlsLoad::connect(uint32_t index, int64_t now) {
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
  c.started_ns = now;
  c.decoder.emplace(kMaxFrame);
  c.plain_out.clear();
  c.out.clear();
  c.out_off = 0;
  c.failure.clear();
  for (Slot& s : c.slots) s = Slot{};
  epoll_.add(c.fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, cookie(index, c));
}

void TlsLoad::on_event(uint32_t index, uint32_t events, int64_t now) {
  Conn& c = conns_[index];
  if (c.state == Conn::State::kConnecting) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    if (const int err = socket_error(c.fd); err != 0) return fail(c, errno_kind(err), now);
    on_connected(index, now);
    if (c.state == Conn::State::kIdle) return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) read(c, now);
  if (c.state != Conn::State::kIdle) flush(c, now);
}

void TlsLoad::on_connected(uint32_t index, int64_t now) {
  Conn& c = conns_[index];
  c.state = Conn::State::kHandshake;
  if (!c.sink) c.sink = std::make_unique<ForwardSink<TlsLoad>>(*this, index);
  auto channel = coap::SecureChannel::client(*ctx_, coap::SecureChannel::Transport::kStream,
                                             security_, *c.sink, channel_time(now));
  if (!channel) {
    std::fprintf(stderr, "coap_load: %s\n", channel.error().c_str());
    std::exit(2);
  }
  c.channel = std::move(*channel);  // its ClientHello is in c.out
  if (!c.failure.empty()) fail(c, c.failure, now);
}

void TlsLoad::on_ciphertext(uint32_t index, std::span<const uint8_t> b) {
  Conn& c = conns_[index];
  c.out.insert(c.out.end(), b.begin(), b.end());
}

void TlsLoad::on_established(uint32_t index, const coap::PeerSecurity& p) {
  Conn& c = conns_[index];
  stats_.count_handshake(p.cipher);
  c.state = Conn::State::kOpen;
  // RFC 8323 5.3: the initiator sends its CSM first and may then send
  // requests without waiting for the peer's CSM.
  coap::OptionList none;
  coap::write_tcp(c.plain_out, coap::codes::kCsm, coap::Token{}, none, {});
  for (uint32_t i = 0; i < c.slots.size(); ++i) queue_request(c, i, now_);
}

void TlsLoad::on_failed(uint32_t index, const std::string& kind, const std::string& why) {
  Conn& c = conns_[index];
  if (c.failure.empty()) c.failure = kind;
  if (!stats_.measuring()) std::fprintf(stderr, "coap_load: connection ended: %s\n", why.c_str());
}

void TlsLoad::on_plaintext(uint32_t index, std::span<const uint8_t> b) {
  Conn& c = conns_[index];
  if (!c.failure.empty()) return;
  const coap::FrameDecoder::FrameHandler handler = [&](const coap::Message& m, std::size_t) {
    return on_frame(c, m);
  };
  if (c.decoder->feed(b, handler) != coap::FrameError::kNone && c.failure.empty())
    c.failure = "bad_frame";
}

bool TlsLoad::on_frame(Conn& c, const coap::Message& m) {
  if (m.code.is_signaling()) {
    if (m.code == coap::codes::kPing) {
      coap::OptionList none;
      coap::write_tcp(c.plain_out, coap::codes::kPong, m.token, none, {});
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
    stats_.count_response(now_ - s.sent_ns);
    if (!m.code.is_success()) stats_.count_error("status_" + m.code.str());
  }
  queue_request(c, i, now_);
  return true;
}

void TlsLoad::queue_request(Conn& c, uint32_t slot, int64_t now) {
  const coap::Token token = make_token(c.next_seq++, slot, opts_.token_len);
  c.slots[slot] = Slot{token_value(token), now, true, false};
  coap::write_tcp(c.plain_out, coap::codes::kGet, token, request_.options(), {});
  stats_.count_request();
}

void TlsLoad::read(Conn& c, int64_t now) {
  now_ = now;
  const coap::TimePoint t = channel_time(now);
  while (c.failure.empty()) {
    const ssize_t n = recv(c.fd, rx_.data(), rx_.size(), 0);
    if (n > 0) {
      c.channel->feed({rx_.data(), static_cast<std::size_t>(n)}, t);
      continue;
    }
    if (n == 0) {
      c.failure = "eof";
    } else if (errno == EINTR) {
      continue;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
      c.failure = errno_kind(errno);
    }
    break;
  }
  if (!c.failure.empty()) return fail(c, c.failure, now);
  encrypt(c, now);
}

// The frames this turn produced, as one write.
void TlsLoad::encrypt(Conn& c, int64_t now) {
  if (c.state != Conn::State::kOpen || c.plain_out.empty()) return;
  (void)c.channel->write(c.plain_out, channel_time(now));  // a failure shows in c.failure
  c.plain_out.clear();
  if (!c.failure.empty()) fail(c, c.failure, now);
}

void TlsLoad::flush(Conn& c, int64_t now) {
  while (c.out_off < c.out.size()) {
    const ssize_t n = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
    if (n > 0) {
      c.out_off += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // EPOLLOUT (edge) resumes
    if (errno == EINTR) continue;
    return fail(c, errno_kind(errno), now);
  }
  c.out.clear();
  c.out_off = 0;
}

void TlsLoad::fail(Conn& c, const std::string& kind, int64_t now) {
  stats_.count_error(kind);
  for (Slot& s : c.slots)
    if (s.busy && !s.late) stats_.count_lost();
  c.channel.reset();
  close(c.fd);  // also removes it from the epoll set
  c.fd = -1;
  c.state = Conn::State::kIdle;
  c.retry_at = now + kReconnectDelayNs;
}

void TlsLoad::expire(int64_t now) {
  const int64_t timeout = static_cast<int64_t>(opts_.timeout_s * 1e9);
  for (Conn& c : conns_) {
    if (c.state == Conn::State::kConnecting || c.state == Conn::State::kHandshake) {
      if (now - c.started_ns >= handshake_timeout_ns(opts_)) fail(c, "handshake_timeout", now);
      continue;
    }
    if (c.state != Conn::State::kOpen) continue;
    for (Slot& s : c.slots) {
      if (s.busy && !s.late && now - s.sent_ns >= timeout) {
        s.late = true;
        stats_.count_lost();
      }
    }
  }
}

Stats TlsLoad::run() {
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
  for (Conn& c : conns_) {
    c.channel.reset();
    if (c.fd >= 0) close(c.fd);
  }
  return stats_;
}

}  // namespace

Stats run_tls(const Options& opts, const Target& target, const std::vector<Target>& sources) {
  auto load = std::make_unique<TlsLoad>(opts, target, sources);
  return load->run();
}

}  // namespace bench
