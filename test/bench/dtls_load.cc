// dtls mode: N DTLS 1.2 sessions (coaps://), each a connected UDP socket
// with coapd's own coap::SecureChannel (PSK) over it, keeping W confirmable
// GETs in flight once its handshake is done. Requests and responses are
// handled as in udp mode (fresh Message ID and token per request; a response
// counts only when its record decrypts, it parses and its token, and for a
// piggybacked one its Message ID, match a request in flight). Ciphertext
// datagrams a pass produces go out in one sendmmsg.
//
// A handshake not done after opts.handshake_timeout_s, a fatal alert, a
// close_notify or a socket error ends the session: it is counted by kind,
// its requests are counted lost, and after a short pause a new session (a
// new socket, so a new source port) starts over.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "coap/message.h"
#include "test/bench/secure_common.h"

namespace bench {
namespace {

constexpr int kBatch = 64;
constexpr std::size_t kMaxDatagram = 2048;
constexpr int64_t kScanIntervalNs = 10'000'000;
constexpr int64_t kRetryDelayNs = 10'000'000;

struct Slot {
  uint64_t token = 0;
  int64_t sent_ns = 0;
  uint16_t mid = 0;
  bool busy = false;
};

class DtlsLoad;

struct Session {
  enum class State { kIdle, kHandshake, kOpen };
  State state = State::kIdle;
  int fd = -1;
  uint32_t generation = 0;
  std::unique_ptr<ForwardSink<DtlsLoad>> sink;
  std::unique_ptr<coap::SecureChannel> channel;
  int64_t started_ns = 0;
  int64_t retry_at = 0;
  uint16_t next_mid = 0;
  uint64_t next_seq = 1;
  std::vector<Slot> slots;
  std::vector<uint32_t> pending;          // slots waiting for a new request
  std::vector<uint16_t> acks;             // separate responses to acknowledge
  std::vector<std::vector<uint8_t>> out;  // ciphertext datagrams of this pass
  std::size_t out_count = 0;
  std::string failure;  // set inside a channel call, acted on after it
};

class DtlsLoad {
 public:
  DtlsLoad(const Options& opts, const Target& target)
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
  static uint64_t cookie(uint32_t index, const Session& s) {
    return (uint64_t{s.generation} << 32) | index;
  }
  void open(uint32_t index, int64_t now);
  void receive(uint32_t index, int64_t now);
  void after_channel(Session& s, int64_t now);
  void send_requests(Session& s, int64_t now);
  void flush(Session& s);
  void fail(Session& s, const std::string& kind, int64_t now);
  void expire(int64_t now);
  void replace(Session& s, uint32_t i) {
    s.slots[i].busy = false;
    s.pending.push_back(i);
  }

  const Options& opts_;
  const Target& target_;
  RequestTemplate request_;
  std::unique_ptr<coap::SecurityContext> ctx_;
  coap::ClientSecurity security_;
  std::vector<Session> sessions_;
  Stats stats_;
  Epoll epoll_;
  std::mt19937 rng_{std::random_device{}()};
  int64_t now_ = 0;  // of the datagrams being fed
  std::vector<uint8_t> plain_;
  std::vector<uint8_t> rx_data_ = std::vector<uint8_t>(kBatch * kMaxDatagram);
  iovec rx_iov_[kBatch];
  mmsghdr rx_msgs_[kBatch];
};

void DtlsLoad::open(uint32_t index, int64_t now) {
  Session& s = sessions_[index];
  s.fd = socket(target_.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s.fd < 0 || connect(s.fd, reinterpret_cast<const sockaddr*>(&target_.addr), target_.len)) {
    std::perror("coap_load: UDP socket");
    std::exit(2);
  }
  ++s.generation;
  s.state = Session::State::kHandshake;
  s.started_ns = now;
  s.next_mid = static_cast<uint16_t>(rng_());
  s.pending.clear();
  s.acks.clear();
  s.out_count = 0;
  s.failure.clear();
  for (Slot& slot : s.slots) slot = Slot{};
  epoll_.add(s.fd, EPOLLIN, cookie(index, s));
  if (!s.sink) s.sink = std::make_unique<ForwardSink<DtlsLoad>>(*this, index);
  auto channel = coap::SecureChannel::client(*ctx_, coap::SecureChannel::Transport::kDatagram,
                                             security_, *s.sink, channel_time(now));
  if (!channel) {
    std::fprintf(stderr, "coap_load: %s\n", channel.error().c_str());
    std::exit(2);
  }
  s.channel = std::move(*channel);
  after_channel(s, now);  // the ClientHello
}

void DtlsLoad::on_ciphertext(uint32_t index, std::span<const uint8_t> b) {
  Session& s = sessions_[index];
  if (s.out_count == s.out.size()) s.out.emplace_back();
  s.out[s.out_count++].assign(b.begin(), b.end());
}

void DtlsLoad::on_established(uint32_t index, const coap::PeerSecurity& p) {
  Session& s = sessions_[index];
  s.state = Session::State::kOpen;
  stats_.count_handshake(p.cipher);
  for (int i = opts_.window - 1; i >= 0; --i) s.pending.push_back(static_cast<uint32_t>(i));
}

void DtlsLoad::on_failed(uint32_t index, const std::string& kind, const std::string& why) {
  Session& s = sessions_[index];
  if (s.failure.empty()) s.failure = kind;
  if (!stats_.measuring()) std::fprintf(stderr, "coap_load: session ended: %s\n", why.c_str());
}

void DtlsLoad::on_plaintext(uint32_t index, std::span<const uint8_t> d) {
  Session& s = sessions_[index];
  coap::Message m;
  if (coap::parse_udp(d, m) != coap::ParseError::kNone) return stats_.count_error("malformed");
  if (m.code.is_empty()) {
    // An empty ACK announces a separate response (the request stays in
    // flight); an RST ends the request it names.
    if (m.type != coap::Type::kRst) return;
    for (uint32_t i = 0; i < s.slots.size(); ++i) {
      if (s.slots[i].busy && s.slots[i].mid == m.mid) {
        stats_.count_error("rst");
        return replace(s, i);
      }
    }
    return;
  }
  if (!m.code.is_response()) return stats_.count_error("unexpected_message");
  if (m.type == coap::Type::kCon) s.acks.push_back(m.mid);
  const uint64_t v = token_value(m.token);
  const uint32_t i = v & 0xffff;
  if (m.token.len != opts_.token_len || i >= s.slots.size() || !s.slots[i].busy ||
      s.slots[i].token != v || (m.type == coap::Type::kAck && s.slots[i].mid != m.mid))
    return stats_.count_error("stale_response");
  stats_.count_response(now_ - s.slots[i].sent_ns);
  if (!m.code.is_success()) stats_.count_error("status_" + m.code.str());
  replace(s, i);
}

// After every call into the channel: act on a failure, send what is due.
void DtlsLoad::after_channel(Session& s, int64_t now) {
  if (!s.failure.empty()) return fail(s, s.failure, now);
  if (s.state == Session::State::kOpen) send_requests(s, now);
  if (!s.failure.empty()) return fail(s, s.failure, now);
  flush(s);
}

void DtlsLoad::send_requests(Session& s, int64_t now) {
  const coap::TimePoint t = channel_time(now);
  for (uint16_t mid : s.acks) {
    plain_.clear();
    coap::write_udp_empty(plain_, coap::Type::kAck, mid);
    (void)s.channel->write(plain_, t);
  }
  s.acks.clear();
  while (!s.pending.empty() && s.failure.empty()) {
    const uint32_t i = s.pending.back();
    s.pending.pop_back();
    Slot& slot = s.slots[i];
    const coap::Token token = make_token(s.next_seq++, i, opts_.token_len);
    slot = Slot{token_value(token), now, s.next_mid++, true};
    plain_.clear();
    coap::write_udp(plain_, coap::Type::kCon, coap::codes::kGet, slot.mid, token,
                    request_.options(), {});
    if (!s.channel->write(plain_, t)) return;  // on_failed said why
    stats_.count_request();
  }
}

void DtlsLoad::flush(Session& s) {
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  std::size_t done = 0;
  while (done < s.out_count) {
    const int n = static_cast<int>(std::min<std::size_t>(s.out_count - done, kBatch));
    for (int j = 0; j < n; ++j) {
      iov[j] = {s.out[done + j].data(), s.out[done + j].size()};
      msgs[j] = {};
      msgs[j].msg_hdr.msg_iov = &iov[j];
      msgs[j].msg_hdr.msg_iovlen = 1;
    }
    const int sent = sendmmsg(s.fd, msgs, n, MSG_DONTWAIT);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) {
      // Dropped, as a network would: the requests time out, a handshake
      // flight is resent by the channel's timer.
      stats_.count_error(sent < 0 ? errno_kind(errno) : "send_dropped");
      break;
    }
    done += static_cast<std::size_t>(sent);
  }
  s.out_count = 0;
}

void DtlsLoad::receive(uint32_t index, int64_t now) {
  Session& s = sessions_[index];
  for (int j = 0; j < kBatch; ++j) {
    rx_iov_[j] = {rx_data_.data() + j * kMaxDatagram, kMaxDatagram};
    rx_msgs_[j] = {};
    rx_msgs_[j].msg_hdr.msg_iov = &rx_iov_[j];
    rx_msgs_[j].msg_hdr.msg_iovlen = 1;
  }
  const int n = recvmmsg(s.fd, rx_msgs_, kBatch, MSG_DONTWAIT, nullptr);
  if (n < 0) {
    // ECONNREFUSED: an ICMP port unreachable for an earlier datagram.
    if (errno != EAGAIN && errno != EINTR) fail(s, errno_kind(errno), now);
    return;
  }
  const coap::TimePoint t = channel_time(now);
  now_ = now;
  for (int j = 0; j < n && s.failure.empty(); ++j) {
    if (rx_msgs_[j].msg_hdr.msg_flags & MSG_TRUNC) {
      stats_.count_error("truncated");
      continue;
    }
    s.channel->feed({rx_data_.data() + j * kMaxDatagram, rx_msgs_[j].msg_len}, t);
  }
  after_channel(s, now);
}

void DtlsLoad::fail(Session& s, const std::string& kind, int64_t now) {
  stats_.count_error(kind);
  for (Slot& slot : s.slots)
    if (slot.busy) stats_.count_lost();
  s.channel.reset();
  close(s.fd);  // also removes it from the epoll set
  s.fd = -1;
  s.state = Session::State::kIdle;
  s.retry_at = now + kRetryDelayNs;
}

void DtlsLoad::expire(int64_t now) {
  const int64_t timeout = static_cast<int64_t>(opts_.timeout_s * 1e9);
  const coap::TimePoint t = channel_time(now);
  now_ = now;
  for (Session& s : sessions_) {
    if (s.state == Session::State::kHandshake) {
      if (now - s.started_ns >= handshake_timeout_ns(opts_)) {
        fail(s, "handshake_timeout", now);
      } else if (s.channel->next_timer() <= t) {
        s.channel->on_timer(t);  // resends a lost flight
        after_channel(s, now);
      }
      continue;
    }
    if (s.state != Session::State::kOpen) continue;
    for (uint32_t i = 0; i < s.slots.size(); ++i) {
      if (s.slots[i].busy && now - s.slots[i].sent_ns >= timeout) {
        stats_.count_lost();
        replace(s, i);
      }
    }
    after_channel(s, now);
  }
}

Stats DtlsLoad::run() {
  sessions_.resize(opts_.conns);
  for (Session& s : sessions_) s.slots.resize(opts_.window);
  const int64_t start = now_ns();
  const int64_t measure_at = start + static_cast<int64_t>(opts_.warmup_s * 1e9);
  const int64_t end = measure_at + static_cast<int64_t>(opts_.duration_s * 1e9);
  int64_t next_scan = start + kScanIntervalNs;
  int64_t now = start;
  if (measure_at <= now) stats_.start_measuring(now);
  while (true) {
    for (uint32_t i = 0; i < sessions_.size(); ++i)
      if (sessions_[i].state == Session::State::kIdle && now >= sessions_[i].retry_at) open(i, now);
    const int64_t wake = std::min({next_scan, end, stats_.measuring() ? end : measure_at});
    const int n = epoll_.wait(wait_ms_until(wake, now, 10));
    now = now_ns();
    for (int e = 0; e < n; ++e) {
      const uint64_t ck = epoll_.event(e).data.u64;
      const uint32_t index = static_cast<uint32_t>(ck);
      if (sessions_[index].state == Session::State::kIdle ||
          sessions_[index].generation != static_cast<uint32_t>(ck >> 32))
        continue;
      receive(index, now);
    }
    if (!stats_.measuring() && now >= measure_at && now < end) stats_.start_measuring(now);
    if (now >= end) break;
    if (now >= next_scan) {
      expire(now);
      next_scan = now + kScanIntervalNs;
    }
  }
  stats_.stop_measuring(now);
  for (Session& s : sessions_) {
    s.channel.reset();
    if (s.fd >= 0) close(s.fd);
  }
  return stats_;
}

}  // namespace

Stats run_dtls(const Options& opts, const Target& target) {
  auto load = std::make_unique<DtlsLoad>(opts, target);
  return load->run();
}

}  // namespace bench
