// A host on the fake link, written as raw frames: it answers ARP for its
// address, answers lwIP's SYNs by port (listening, closed: RST, silent),
// opens connections to lwIP, tracks sequence numbers, acknowledges what it
// receives with the window it chooses, and records every segment lwIP sends.
//
// Frames go to lwIP through lwip_tap::input_frame() under the core lock,
// as the TAP pump does. The peer is used from the test thread only and
// never holds the core lock while waiting.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "lwip_tap/lwip.h"
#include "test/lwip_tap/fake_link.h"
#include "test/lwip_tap/frames.h"

namespace lwip_tap::test {

struct Host {
  Mac mac;
  Ip4 ip;
};

// One TCP connection as the peer sees it.
struct PeerConn {
  uint16_t port = 0;  // the peer's
  uint16_t lwip_port = 0;
  uint32_t snd_nxt = 0;              // the next sequence number the peer sends
  uint32_t rcv_nxt = 0;              // the next one it expects from lwIP, once synced
  bool synced = false;               // lwIP's SYN seen
  uint16_t window = 0xffff;          // what the peer advertises
  bool consume = true;               // false: received bytes stay unread and close the window
  std::vector<uint8_t> received;     // lwIP's bytes, in order
  std::vector<TcpSegment> segments;  // every segment lwIP sent on this connection

  // Segments with `flag` set.
  std::size_t count(uint8_t flag) const;
  bool fin_received() const { return count(kFin) > 0; }
  bool rst_received() const { return count(kRst) > 0; }
};

class TcpPeer {
 public:
  enum class PortMode { kClosed, kListen, kSilent };

  TcpPeer(FakeLink& link, netif* iface, Host self, Host lwip);

  // Handles what the link has, waiting up to `wait` for the first frame.
  void poll(std::chrono::milliseconds wait);
  // Polls until cond() holds (true) or `timeout` has passed (false).
  bool poll_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout);
  // A barrier: sends lwIP an ARP request and polls until the reply is in.
  // Everything lwIP sent before (from the calls the test made) has then been
  // handled.
  bool sync();

  // How SYNs from lwIP to `port` are answered (default: kClosed, RST).
  void set_port_mode(uint16_t port, PortMode mode) { port_modes_[port] = mode; }
  // Active open: a SYN from `port` to lwIP's `lwip_port` with sequence
  // number `isn`. A connection with the same ports seen before is replaced
  // (the old PeerConn stays valid).
  PeerConn& open(uint16_t port, uint16_t lwip_port, uint32_t isn, uint16_t window = 0xffff);
  // A segment at c.snd_nxt carrying `flags`, acknowledging c.rcv_nxt (with
  // kAck) and advertising c.window; advances c.snd_nxt.
  void send(PeerConn& c, uint8_t flags, std::span<const uint8_t> payload = {});
  void send_data(PeerConn& c, std::span<const uint8_t> data) { send(c, kAck | kPsh, data); }
  void send_ack(PeerConn& c) { send(c, kAck); }
  void send_fin(PeerConn& c) { send(c, kFin | kAck); }
  void send_rst(PeerConn& c) { send(c, kRst); }
  void send_arp_request(const Ip4& target);
  // true: frames go straight to netif->input, as lwIP alone would see them,
  // without input_frame()'s TIME_WAIT reopen check.
  void set_raw_input(bool raw) { raw_input_ = raw; }

  // The newest connection whose peer port is `port`, or nullptr.
  PeerConn* find(uint16_t port);
  // Every TCP segment lwIP sent, to any address and port, oldest first.
  const std::vector<TcpSegment>& segments() const { return segments_; }
  std::size_t segments_to(uint16_t port) const;
  std::size_t arp_requests_for(const Ip4& target) const;
  std::size_t arp_replies() const { return arp_replies_; }

 private:
  void handle_arp(const Arp& arp);
  void handle_tcp(const TcpSegment& s);
  void answer_syn(const TcpSegment& s);
  void receive(PeerConn& c, const TcpSegment& s);
  void inject(const std::vector<uint8_t>& frame);
  PeerConn* find(uint16_t port, uint16_t lwip_port);

  FakeLink& link_;
  netif* iface_;
  Host self_;
  Host lwip_;
  bool raw_input_ = false;
  std::map<uint16_t, PortMode> port_modes_;
  std::vector<std::unique_ptr<PeerConn>> conns_;
  std::vector<TcpSegment> segments_;
  std::map<Ip4, std::size_t> arp_requests_;  // lwIP's ARP requests by target
  std::size_t arp_replies_ = 0;              // lwIP's ARP replies to us
};

}  // namespace lwip_tap::test
