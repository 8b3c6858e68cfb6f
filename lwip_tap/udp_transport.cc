#include "lwip_tap/udp_transport.h"

#include <cassert>
#include <cstring>

namespace lwip_tap {
namespace {

// The transport of each coap::UdpSocket; a callback's argument is that
// number, not a pointer.
UdpTransport* g_udp[2] GUARDED_BY(core_lock) = {nullptr, nullptr};

void* arg_for(coap::UdpSocket s) { return reinterpret_cast<void*>(static_cast<uintptr_t>(s)); }

}  // namespace

UdpTransport::~UdpTransport() {
  assert(!pcb_ && "UdpTransport::close() must run under the core lock first");
}

coap::Status UdpTransport::bind(uint16_t port) {
  LWIP_ASSERT_CORE_LOCKED();
  pcb_ = udp_new_ip_type(IPADDR_TYPE_ANY);
  if (!pcb_) return coap::error("lwIP could not allocate a UDP pcb");
  const err_t err = udp_bind(pcb_, IP_ANY_TYPE, port);
  if (err != ERR_OK) {
    udp_remove(pcb_);
    pcb_ = nullptr;
    return coap::error("cannot bind UDP port ", std::to_string(port), ": ", err_name(err));
  }
  const auto slot = static_cast<std::size_t>(socket_);
  assert(!g_udp[slot] && "one UdpTransport per socket");
  g_udp[slot] = this;
  udp_recv(pcb_, recv_cb, arg_for(socket_));
  return {};
}

void UdpTransport::recv_cb(void* arg, udp_pcb*, pbuf* p, const ip_addr_t* addr, u16_t port) {
  assume_core_locked();
  const auto slot = reinterpret_cast<uintptr_t>(arg);
  if (UdpTransport* self = slot < 2 ? g_udp[slot] : nullptr)
    self->sink_.on_udp_datagram(self->socket_, Stack::from_lwip(addr, port), p,
                                ip_addr_ismulticast(ip_current_dest_addr()));
  pbuf_free(p);
}

bool UdpTransport::send(const coap::Address& to, std::span<const uint8_t> bytes) {
  LWIP_ASSERT_CORE_LOCKED();
  if (!pcb_ && bind_on_send_ && !bind(0)) return false;
  if (!pcb_ || bytes.size() > 0xffff) return false;
  pbuf* p = pbuf_alloc(PBUF_TRANSPORT, static_cast<u16_t>(bytes.size()), PBUF_RAM);
  err_t err = ERR_MEM;
  if (p) {
    std::memcpy(p->payload, bytes.data(), bytes.size());
    const ip_addr_t dst = stack_.to_lwip(to);
    err = udp_sendto(pcb_, p, &dst, to.port);
    pbuf_free(p);
  }
  if (err == ERR_MEM) stack_.note_udp_send_failure();  // lost; CON retransmits
  return err == ERR_OK;
}

void UdpTransport::close() {
  LWIP_ASSERT_CORE_LOCKED();
  bind_on_send_ = false;
  if (!pcb_) return;
  udp_remove(pcb_);
  pcb_ = nullptr;
  g_udp[static_cast<std::size_t>(socket_)] = nullptr;
}

}  // namespace lwip_tap
