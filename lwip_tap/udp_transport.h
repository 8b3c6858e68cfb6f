// CoAP over UDP on lwIP's raw UDP API: one dual-stack pcb per coapd UDP
// socket (CoAP, and CoAP over DTLS), one UdpTransport each.
#pragma once

#include <span>
#include <string>

#include "lwip_tap/stack.h"
#include "lwip_tap/transport_sink.h"

namespace lwip_tap {

class UdpTransport {
 public:
  // At most one per coap::UdpSocket: the callbacks find it by that number.
  UdpTransport(Stack& stack, TransportSink& sink, coap::UdpSocket socket = coap::UdpSocket::kPlain)
      : stack_(stack), sink_(sink), socket_(socket) {}
  ~UdpTransport();  // call close() under the core lock first
  UdpTransport(const UdpTransport&) = delete;
  UdpTransport& operator=(const UdpTransport&) = delete;

  // Binds `port`; 0 takes an ephemeral port (a client-only socket).
  coap::Status bind(uint16_t port) REQUIRES(core_lock);
  // No port until the first send, which binds an ephemeral one: a socket
  // for coapd's own requests costs nothing until it has one to send.
  void bind_on_first_send() REQUIRES(core_lock) { bind_on_send_ = true; }
  // Returns false when lwIP could not send (no route; no ARP entry yet is
  // fine: lwIP queues).
  bool send(const coap::Address& to, std::span<const uint8_t> bytes) REQUIRES(core_lock);
  void close() REQUIRES(core_lock);
  bool bound() const REQUIRES(core_lock) { return pcb_ != nullptr; }
  uint16_t local_port() const REQUIRES(core_lock) { return pcb_ ? pcb_->local_port : 0; }

 private:
  static void recv_cb(void* arg, udp_pcb* pcb, pbuf* p, const ip_addr_t* addr, u16_t port);

  Stack& stack_;
  TransportSink& sink_;
  const coap::UdpSocket socket_;
  udp_pcb* pcb_ GUARDED_BY(core_lock) = nullptr;
  bool bind_on_send_ GUARDED_BY(core_lock) = false;
};

}  // namespace lwip_tap
