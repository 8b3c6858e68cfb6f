// Where the lwIP transports report what happened. Every method is called
// from inside an lwIP callback, or from a transport call, with the core lock
// held: implementations must be quick, must copy what they keep (a pbuf is
// freed when the call returns) and must never take the core lock.
#pragma once

#include "coap/address.h"
#include "coap/endpoint.h"
#include "lwip_tap/lwip.h"

namespace lwip_tap {

using ConnId = coap::ConnId;

class TransportSink {
 public:
  virtual ~TransportSink() = default;
  // to_group: sent to a multicast group the stack joined.
  virtual void on_udp_datagram(coap::UdpSocket socket, const coap::Address& from, const pbuf* p,
                               bool to_group) = 0;
  virtual void on_tcp_accepted(ConnId conn, coap::ListenerKind kind, const coap::Address& peer,
                               const coap::Address& local) = 0;
  virtual void on_tcp_connected(ConnId conn, const coap::Address& local) = 0;
  virtual void on_tcp_data(ConnId conn, const pbuf* p) = 0;
  virtual void on_tcp_peer_closed(ConnId conn) = 0;
  // The pcb is gone (freed by lwIP, or never created).
  virtual void on_tcp_error(ConnId conn, coap::TcpError error, err_t lwip_err) = 0;
  virtual void on_tcp_writable(ConnId conn) = 0;
  // The TAP pump feeds a batch of frames read at `read_at`: what the sink is
  // told until end_input_batch() came from that batch. Both are called with
  // the core lock held, by the pump only.
  virtual void begin_input_batch(coap::TimePoint read_at) { (void)read_at; }
  virtual void end_input_batch() {}
};

}  // namespace lwip_tap
