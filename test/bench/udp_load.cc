// udp mode: N connected UDP sockets, each keeping W confirmable GETs in
// flight. Every request gets a fresh Message ID and token; a response is
// matched by token (its low 16 bits name the slot) and, when piggybacked,
// also by Message ID. A request unanswered after opts.timeout_s is counted
// lost and its slot is reused for a new request; there are no
// retransmissions.
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
#include "test/bench/load_common.h"

namespace bench {
namespace {

constexpr int kBatch = 64;
constexpr std::size_t kMaxDatagram = 1536;
constexpr int64_t kScanIntervalNs = 10'000'000;

struct Slot {
  uint64_t token = 0;  // token_value() of the request in flight
  int64_t sent_ns = 0;
  uint16_t mid = 0;
  bool busy = false;
};

struct UdpSocket {
  int fd = -1;
  uint16_t next_mid = 0;
  uint64_t next_seq = 1;
  std::vector<Slot> slots;
  std::vector<std::vector<uint8_t>> bufs;  // encoded request per slot
  std::vector<uint32_t> pending;           // slots waiting to be (re)sent
};

class UdpLoad {
 public:
  UdpLoad(const Options& opts, const Target& target)
      : opts_(opts), target_(target), request_(opts.path) {}

  Stats run();

 private:
  void open_sockets();
  void flush(UdpSocket& s, int64_t now);
  void receive(UdpSocket& s, int64_t now);
  void on_datagram(UdpSocket& s, std::span<const uint8_t> d, int64_t now);
  // Frees slot i and queues a new request in it.
  void replace(UdpSocket& s, uint32_t i) {
    s.slots[i].busy = false;
    s.pending.push_back(i);
  }
  Slot* find_by_token(UdpSocket& s, const coap::Token& token);
  Slot* find_by_mid(UdpSocket& s, uint16_t mid);
  void expire(int64_t now);

  const Options& opts_;
  const Target& target_;
  RequestTemplate request_;
  std::vector<UdpSocket> sockets_;
  Stats stats_;
  Epoll epoll_;
  std::vector<uint8_t> ack_;
  // recvmmsg buffers
  std::vector<uint8_t> rx_data_ = std::vector<uint8_t>(kBatch * kMaxDatagram);
  iovec rx_iov_[kBatch];
  mmsghdr rx_msgs_[kBatch];
};

void UdpLoad::open_sockets() {
  std::mt19937 rng(std::random_device{}());
  sockets_.resize(opts_.sockets);
  for (std::size_t k = 0; k < sockets_.size(); ++k) {
    UdpSocket& s = sockets_[k];
    s.fd = socket(target_.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s.fd < 0) {
      std::perror("socket");
      std::exit(2);
    }
    if (connect(s.fd, reinterpret_cast<const sockaddr*>(&target_.addr), target_.len) != 0) {
      std::perror("connect");
      std::exit(2);
    }
    s.next_mid = static_cast<uint16_t>(rng());
    s.slots.resize(opts_.window);
    s.bufs.resize(opts_.window);
    for (int i = opts_.window - 1; i >= 0; --i) s.pending.push_back(static_cast<uint32_t>(i));
    epoll_.add(s.fd, EPOLLIN, k);
  }
}

void UdpLoad::flush(UdpSocket& s, int64_t now) {
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  while (!s.pending.empty()) {
    const int n = static_cast<int>(std::min<std::size_t>(s.pending.size(), kBatch));
    for (int j = 0; j < n; ++j) {
      const uint32_t i = s.pending[s.pending.size() - 1 - j];
      Slot& slot = s.slots[i];
      const coap::Token token = make_token(s.next_seq++, i, opts_.token_len);
      slot.token = token_value(token);
      slot.mid = s.next_mid++;
      slot.sent_ns = now;
      slot.busy = true;
      std::vector<uint8_t>& buf = s.bufs[i];
      buf.clear();
      coap::write_udp(buf, coap::Type::kCon, coap::codes::kGet, slot.mid, token, request_.options(),
                      {});
      iov[j] = {buf.data(), buf.size()};
      msgs[j] = {};
      msgs[j].msg_hdr.msg_iov = &iov[j];
      msgs[j].msg_hdr.msg_iovlen = 1;
    }
    const int sent = sendmmsg(s.fd, msgs, n, MSG_DONTWAIT);
    if (sent < 0) {
      // Leave them queued (and not busy) for the next turn of the loop.
      for (int j = 0; j < n; ++j) s.slots[s.pending[s.pending.size() - 1 - j]].busy = false;
      if (errno != EAGAIN && errno != EINTR) stats_.count_error(errno_kind(errno));
      return;
    }
    for (int j = 0; j < sent; ++j) stats_.count_request();
    for (int j = sent; j < n; ++j) s.slots[s.pending[s.pending.size() - 1 - j]].busy = false;
    s.pending.resize(s.pending.size() - sent);
    if (sent < n) return;
  }
}

void UdpLoad::receive(UdpSocket& s, int64_t now) {
  for (int j = 0; j < kBatch; ++j) {
    rx_iov_[j] = {rx_data_.data() + j * kMaxDatagram, kMaxDatagram};
    rx_msgs_[j] = {};
    rx_msgs_[j].msg_hdr.msg_iov = &rx_iov_[j];
    rx_msgs_[j].msg_hdr.msg_iovlen = 1;
  }
  const int n = recvmmsg(s.fd, rx_msgs_, kBatch, MSG_DONTWAIT, nullptr);
  if (n < 0) {
    // ECONNREFUSED here is an ICMP port unreachable for an earlier datagram.
    if (errno != EAGAIN && errno != EINTR) stats_.count_error(errno_kind(errno));
    return;
  }
  for (int j = 0; j < n; ++j) {
    if (rx_msgs_[j].msg_hdr.msg_flags & MSG_TRUNC) {
      stats_.count_error("truncated");
      continue;
    }
    on_datagram(s, {rx_data_.data() + j * kMaxDatagram, rx_msgs_[j].msg_len}, now);
  }
}

Slot* UdpLoad::find_by_token(UdpSocket& s, const coap::Token& token) {
  if (token.len != opts_.token_len) return nullptr;
  const uint64_t v = token_value(token);
  const uint32_t i = v & 0xffff;
  if (i >= s.slots.size() || !s.slots[i].busy || s.slots[i].token != v) return nullptr;
  return &s.slots[i];
}

Slot* UdpLoad::find_by_mid(UdpSocket& s, uint16_t mid) {
  for (Slot& slot : s.slots)
    if (slot.busy && slot.mid == mid) return &slot;
  return nullptr;
}

void UdpLoad::on_datagram(UdpSocket& s, std::span<const uint8_t> d, int64_t now) {
  coap::Message m;
  if (coap::parse_udp(d, m) != coap::ParseError::kNone) {
    stats_.count_error("malformed");
    return;
  }
  if (m.code.is_empty()) {
    if (m.type == coap::Type::kRst) {
      if (Slot* slot = find_by_mid(s, m.mid)) {
        stats_.count_error("rst");
        replace(s, static_cast<uint32_t>(slot - s.slots.data()));
      }
    }
    // An empty ACK announces a separate response; the request stays in
    // flight (and can still time out) until that arrives.
    return;
  }
  if (!m.code.is_response()) {
    stats_.count_error("unexpected_message");
    return;
  }
  if (m.type == coap::Type::kCon) {
    // Separate response: acknowledge it whatever it matches.
    ack_.clear();
    coap::write_udp_empty(ack_, coap::Type::kAck, m.mid);
    (void)send(s.fd, ack_.data(), ack_.size(), MSG_DONTWAIT);
  }
  Slot* slot = find_by_token(s, m.token);
  if (slot == nullptr || (m.type == coap::Type::kAck && slot->mid != m.mid)) {
    // A late answer to a request already counted lost, or a cached answer to
    // an earlier request with the same Message ID (see the dedup note in the
    // report).
    stats_.count_error("stale_response");
    return;
  }
  stats_.count_response(now - slot->sent_ns);
  if (!m.code.is_success()) stats_.count_error("status_" + m.code.str());
  replace(s, static_cast<uint32_t>(slot - s.slots.data()));
}

void UdpLoad::expire(int64_t now) {
  const int64_t timeout = static_cast<int64_t>(opts_.timeout_s * 1e9);
  for (UdpSocket& s : sockets_) {
    for (uint32_t i = 0; i < s.slots.size(); ++i) {
      if (s.slots[i].busy && now - s.slots[i].sent_ns >= timeout) {
        stats_.count_lost();
        replace(s, i);
      }
    }
  }
}

Stats UdpLoad::run() {
  open_sockets();
  const int64_t start = now_ns();
  const int64_t measure_at = start + static_cast<int64_t>(opts_.warmup_s * 1e9);
  const int64_t end = measure_at + static_cast<int64_t>(opts_.duration_s * 1e9);
  int64_t next_scan = start + kScanIntervalNs;
  int64_t now = start;
  if (measure_at <= now) stats_.start_measuring(now);
  while (true) {
    const int64_t send_time = now_ns();  // after the receive work, so it is not counted
    for (UdpSocket& s : sockets_)
      if (!s.pending.empty()) flush(s, send_time);
    const int64_t wake = std::min({next_scan, end, stats_.measuring() ? end : measure_at});
    const int n = epoll_.wait(wait_ms_until(wake, now, 10));
    now = now_ns();
    for (int e = 0; e < n; ++e) receive(sockets_[epoll_.event(e).data.u64], now);
    if (!stats_.measuring() && now >= measure_at && now < end) stats_.start_measuring(now);
    if (now >= end) break;
    if (now >= next_scan) {
      expire(now);
      next_scan = now + kScanIntervalNs;
    }
  }
  stats_.stop_measuring(now);
  for (UdpSocket& s : sockets_) close(s.fd);
  return stats_;
}

}  // namespace

Stats run_udp(const Options& opts, const Target& target) {
  auto load = std::make_unique<UdpLoad>(opts, target);
  return load->run();
}

}  // namespace bench
