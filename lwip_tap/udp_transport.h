// CoAP over UDP on lwIP's raw UDP API: one dual-stack pcb on the CoAP port
// (one UdpTransport per process).
#pragma once

#include <span>
#include <string>

#include "lwip_tap/stack.h"
#include "lwip_tap/transport_sink.h"

namespace lwip_tap {

class UdpTransport {
 public:
  UdpTransport(Stack& stack, TransportSink& sink) : stack_(stack), sink_(sink) {}
  ~UdpTransport();  // REQUIRES core lock if still bound (call close() first otherwise)
  UdpTransport(const UdpTransport&) = delete;
  UdpTransport& operator=(const UdpTransport&) = delete;

  // REQUIRES core lock.
  coap::Status bind(uint16_t port) REQUIRES(core_lock);
  // REQUIRES core lock. Returns false when lwIP could not send (no route,
  // no ARP entry yet is fine: lwIP queues).
  bool send(const coap::Address& to, std::span<const uint8_t> bytes) REQUIRES(core_lock);
  // REQUIRES core lock.
  void close() REQUIRES(core_lock);

 private:
  static void recv_cb(void* arg, udp_pcb* pcb, pbuf* p, const ip_addr_t* addr, u16_t port);

  Stack& stack_;
  TransportSink& sink_;
  udp_pcb* pcb_ GUARDED_BY(core_lock) = nullptr;
};

}  // namespace lwip_tap
