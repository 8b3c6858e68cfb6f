// coap::NetworkIo on lwIP's raw API. The endpoint's commands (datagrams,
// connects, writes, window updates, closes) are collected while it runs on
// the engine thread, which holds no lwIP lock, and carried out by flush()
// under one core-lock acquisition. Connections are re-validated there through
// the transports' id tables: one freed by tcp_err in between is simply not
// found.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_set>
#include <vector>

#include "coap/endpoint.h"
#include "lwip_tap/stack.h"
#include "lwip_tap/tcp_transport.h"
#include "lwip_tap/thread_safety.h"
#include "lwip_tap/udp_transport.h"

namespace lwip_tap {

// Logs a datagram at trace level ("to"/"from" peer), parsed; free otherwise.
void trace_datagram(const char* dir, const coap::Address& peer, std::span<const uint8_t> bytes);

class LwipNetworkIo final : public coap::NetworkIo {
 public:
  explicit LwipNetworkIo(Stack& stack) : stack_(stack) {}

  // The transports, before the first flush(); `secure` may be null.
  void attach(UdpTransport* udp, UdpTransport* secure, TcpTransport* tcp) {
    udp_[0] = udp;
    udp_[1] = secure;
    tcp_ = tcp;
  }

  // coap::NetworkIo: engine thread, collects.
  void send_datagram(coap::UdpSocket socket, const coap::Address& to,
                     std::span<const uint8_t> bytes) override;
  coap::ConnId tcp_connect(const coap::Address& to) override;
  void tcp_want_write(coap::ConnId conn) override;
  void tcp_consumed(coap::ConnId conn, std::size_t n) override;
  void tcp_close(coap::ConnId conn) override;
  void tcp_abort(coap::ConnId conn) override;

  // Carries out everything collected: takes the core lock (the caller must
  // hold no lock), pulls each connection's pending bytes from `ep`, one
  // tcp_output per connection written to; frames lwIP emits meanwhile are
  // written after the lock is released. Returns false when there was
  // nothing to do. The endpoint may add commands while they run (a write
  // that empties a closing session's queue makes it close): those run too.
  bool flush(coap::Endpoint& ep, coap::TimePoint now) EXCLUDES(core_lock);
  // Inside flush()'s locked section (events raised there must wait).
  bool flushing() const { return flushing_; }

 private:
  struct Command {
    enum Kind : uint8_t { kDatagram, kConnect, kWrite, kConsumed, kClose, kAbort };
    Kind kind;
    coap::UdpSocket socket = coap::UdpSocket::kPlain;
    coap::ConnId conn = 0;
    coap::Address addr;
    uint32_t offset = 0;
    uint32_t length = 0;
  };
  void run(const Command& c, coap::Endpoint& ep, coap::TimePoint now) REQUIRES(core_lock);
  void write_pending(coap::ConnId conn, coap::Endpoint& ep, coap::TimePoint now)
      REQUIRES(core_lock);
  void trim();

  Stack& stack_;
  UdpTransport* udp_[2] = {nullptr, nullptr};
  TcpTransport* tcp_ = nullptr;
  // Engine thread only.
  std::vector<Command> commands_;
  std::vector<uint8_t> bytes_;
  std::unordered_set<coap::ConnId> written_;
  TxBatch tx_;
  bool flushing_ = false;
};

}  // namespace lwip_tap
