// A TransportSink that records every callback, in order. The transports call
// it with the core lock held, from the test thread or from tcpip_thread; it
// checks that the lock is held (Debian's lwIP aborts when it is not) and
// guards its record with a mutex of its own, taken only after the core
// lock. Readers call without the core lock.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "lwip_tap/transport_sink.h"

namespace lwip_tap::test {

struct SinkEvent {
  enum class Kind { kUdp, kAccepted, kConnected, kData, kPeerClosed, kError, kWritable };
  Kind kind;
  ConnId conn = 0;
  coap::Address address;  // peer (accepted), local (connected)
  coap::TcpError error = coap::TcpError::kOther;
  err_t lwip_err = ERR_OK;
  std::vector<uint8_t> data;
};

class RecordingSink final : public TransportSink {
 public:
  void on_udp_datagram(coap::UdpSocket socket, const coap::Address& from, const pbuf* p,
                       bool to_group) override;
  void on_tcp_accepted(ConnId conn, coap::ListenerKind kind, const coap::Address& peer,
                       const coap::Address& local) override;
  void on_tcp_connected(ConnId conn, const coap::Address& local) override;
  void on_tcp_data(ConnId conn, const pbuf* p) override;
  void on_tcp_peer_closed(ConnId conn) override;
  void on_tcp_error(ConnId conn, coap::TcpError error, err_t lwip_err) override;
  void on_tcp_writable(ConnId conn) override;

  std::vector<SinkEvent> events() const;
  std::size_t size() const;
  // Events of `kind` for `conn`.
  std::size_t count(SinkEvent::Kind kind, ConnId conn) const;
  // Events of any kind for `conn`.
  std::size_t count_for(ConnId conn) const;
  // Bytes delivered to `conn`, in order.
  std::vector<uint8_t> data(ConnId conn) const;
  // The connection accepted from this peer port, if any (the newest).
  std::optional<ConnId> accepted_from(uint16_t peer_port) const;

 private:
  void record(SinkEvent e);

  mutable std::mutex mu_;
  std::vector<SinkEvent> events_;  // protected by mu_
};

}  // namespace lwip_tap::test
