#include "test/lwip_tap/tcp_peer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "lwip_tap/tap_pump.h"

namespace lwip_tap::test {

using std::chrono::milliseconds;

std::size_t PeerConn::count(uint8_t flag) const {
  return std::count_if(segments.begin(), segments.end(),
                       [flag](const TcpSegment& s) { return s.has(flag); });
}

TcpPeer::TcpPeer(FakeLink& link, netif* iface, Host self, Host lwip)
    : link_(link), iface_(iface), self_(self), lwip_(lwip) {}

void TcpPeer::poll(milliseconds wait) {
  for (const auto& bytes : link_.take(wait)) {
    const Frame f = parse_frame(bytes);
    if (!f.checksums_ok) ADD_FAILURE() << "lwIP sent a frame with a bad checksum";
    if (f.arp) handle_arp(*f.arp);
    if (f.tcp) handle_tcp(*f.tcp);
  }
}

bool TcpPeer::poll_until(const std::function<bool()>& cond, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (cond()) return true;
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= left.zero()) return false;
    poll(std::min(milliseconds(10), std::chrono::duration_cast<milliseconds>(left)));
  }
}

bool TcpPeer::sync() {
  const std::size_t before = arp_replies_;
  send_arp_request(lwip_.ip);
  return poll_until([&] { return arp_replies_ > before; }, milliseconds(2000));
}

void TcpPeer::inject(const std::vector<uint8_t>& frame) {
  CoreLock lock;
  if (!raw_input_) return (void)input_frame(iface_, frame);
  pbuf* p = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(frame.size()), PBUF_RAM);
  ASSERT_NE(p, nullptr);
  std::memcpy(p->payload, frame.data(), frame.size());
  if (iface_->input(p, iface_) != ERR_OK) pbuf_free(p);
}

void TcpPeer::send_arp_request(const Ip4& target) {
  inject(build_arp(self_.mac, kBroadcastMac, {Arp::kRequest, self_.mac, self_.ip, {}, target}));
}

void TcpPeer::handle_arp(const Arp& arp) {
  if (arp.op == Arp::kRequest) {
    ++arp_requests_[arp.target_ip];
    if (arp.target_ip != self_.ip) return;  // a silent address, or lwIP's announcement
    inject(build_arp(self_.mac, arp.sender_mac,
                     {Arp::kReply, self_.mac, self_.ip, arp.sender_mac, arp.sender_ip}));
  } else if (arp.op == Arp::kReply && arp.target_ip == self_.ip && arp.sender_ip == lwip_.ip) {
    ++arp_replies_;
  }
}

PeerConn& TcpPeer::open(uint16_t port, uint16_t lwip_port, uint32_t isn, uint16_t window) {
  conns_.push_back(std::make_unique<PeerConn>());
  PeerConn& c = *conns_.back();
  c.port = port;
  c.lwip_port = lwip_port;
  c.snd_nxt = isn;
  c.window = window;
  send(c, kSyn);
  return c;
}

void TcpPeer::send(PeerConn& c, uint8_t flags, std::span<const uint8_t> payload) {
  TcpSegment s;
  s.src = self_.ip;
  s.dst = lwip_.ip;
  s.src_port = c.port;
  s.dst_port = c.lwip_port;
  s.seq = c.snd_nxt;
  s.ack = (flags & kAck) ? c.rcv_nxt : 0;
  s.flags = flags;
  s.window = c.window;
  if (flags & kSyn) s.mss = 1460;
  s.payload.assign(payload.begin(), payload.end());
  c.snd_nxt += s.seq_len();
  inject(build_tcp(self_.mac, lwip_.mac, s));
}

PeerConn* TcpPeer::find(uint16_t port, uint16_t lwip_port) {
  for (auto it = conns_.rbegin(); it != conns_.rend(); ++it)
    if ((*it)->port == port && (*it)->lwip_port == lwip_port) return it->get();
  return nullptr;
}

PeerConn* TcpPeer::find(uint16_t port) {
  for (auto it = conns_.rbegin(); it != conns_.rend(); ++it)
    if ((*it)->port == port) return it->get();
  return nullptr;
}

std::size_t TcpPeer::segments_to(uint16_t port) const {
  return std::count_if(segments_.begin(), segments_.end(),
                       [port](const TcpSegment& s) { return s.dst_port == port; });
}

std::size_t TcpPeer::arp_requests_for(const Ip4& target) const {
  auto it = arp_requests_.find(target);
  return it == arp_requests_.end() ? 0 : it->second;
}

void TcpPeer::handle_tcp(const TcpSegment& s) {
  segments_.push_back(s);
  if (s.dst != self_.ip) return;  // it left for an address nobody has
  if (PeerConn* c = find(s.dst_port, s.src_port)) return receive(*c, s);
  if (s.flags == kSyn) answer_syn(s);  // anything else on no connection is only recorded
}

void TcpPeer::answer_syn(const TcpSegment& s) {
  auto it = port_modes_.find(s.dst_port);
  const PortMode mode = it == port_modes_.end() ? PortMode::kClosed : it->second;
  if (mode == PortMode::kSilent) return;
  conns_.push_back(std::make_unique<PeerConn>());
  PeerConn& c = *conns_.back();
  c.port = s.dst_port;
  c.lwip_port = s.src_port;
  c.rcv_nxt = s.seq + 1;
  c.synced = true;
  c.segments.push_back(s);
  if (mode == PortMode::kListen) {
    c.snd_nxt = 7000000;
    send(c, kSyn | kAck);
  } else {  // closed: RST, ACK acknowledging the SYN, as a kernel does
    send(c, kRst | kAck);
  }
}

void TcpPeer::receive(PeerConn& c, const TcpSegment& s) {
  c.segments.push_back(s);
  if (s.has(kRst)) return;
  if (s.has(kSyn) && s.has(kAck) && !c.synced) {  // lwIP's answer to our open
    c.rcv_nxt = s.seq + 1;
    c.synced = true;
    send_ack(c);
    return;
  }
  if (!c.synced || (s.payload.empty() && !s.has(kFin))) return;
  if (s.seq == c.rcv_nxt) {
    // In order: take what the window allows (a probe into a closed one is dropped).
    const std::size_t n = std::min<std::size_t>(s.payload.size(), c.window);
    c.received.insert(c.received.end(), s.payload.begin(), s.payload.begin() + n);
    c.rcv_nxt += static_cast<uint32_t>(n);
    if (!c.consume) c.window = static_cast<uint16_t>(c.window - n);
    if (s.has(kFin) && n == s.payload.size()) c.rcv_nxt += 1;
  }
  send_ack(c);  // also for duplicates and what did not fit, as a kernel does
}

}  // namespace lwip_tap::test
