#include "lwip_tap/tcp_transport.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <vector>

namespace lwip_tap {
namespace {

TcpTransport* g_transport = nullptr;  // set once before lwIP runs, cleared after

// How many poll rounds (half a second each) a failed tcp_close is retried
// before the pcb is aborted.
constexpr int kCloseRetries = 8;

coap::TcpError classify(err_t err, bool connecting) {
  switch (err) {
    case ERR_RST:
    case ERR_CLSD: return coap::TcpError::kReset;
    case ERR_ABRT:
      // lwIP aborts a pcb itself when SYN or data retransmissions run out.
      return connecting ? coap::TcpError::kTimeout : coap::TcpError::kAborted;
    case ERR_TIMEOUT: return coap::TcpError::kTimeout;
    case ERR_RTE: return coap::TcpError::kUnreachable;
    default: return coap::TcpError::kOther;
  }
}

}  // namespace

TcpTransport::TcpTransport(Stack& stack, TransportSink& sink) : stack_(stack), sink_(sink) {
  assert(!g_transport && "one TcpTransport per process");
  g_transport = this;
}

TcpTransport::~TcpTransport() {
  assert(conns_.empty() && listeners_.empty() && "close_all() under the core lock first");
  g_transport = nullptr;
}

TcpTransport* TcpTransport::instance() { return g_transport; }

void TcpTransport::clear_callbacks(tcp_pcb* pcb) {
  tcp_arg(pcb, nullptr);
  if (pcb->state == LISTEN) {
    tcp_accept(pcb, nullptr);
    return;
  }
  tcp_recv(pcb, nullptr);
  tcp_sent(pcb, nullptr);
  tcp_err(pcb, nullptr);
  tcp_poll(pcb, nullptr, 0);
}

void TcpTransport::attach(ConnId id, tcp_pcb* pcb) {
  tcp_arg(pcb, arg_for(id));
  tcp_recv(pcb, on_recv);
  tcp_sent(pcb, on_sent);
  tcp_err(pcb, on_err);
  // Small CoAP messages answered in batches: Nagle would only add delay.
  tcp_nagle_disable(pcb);
}

coap::Status TcpTransport::listen(uint16_t port, coap::ListenerKind kind) {
  LWIP_ASSERT_CORE_LOCKED();
  tcp_pcb* pcb = tcp_new_ip_type(IPADDR_TYPE_ANY);
  if (!pcb) return coap::error("lwIP could not allocate a TCP pcb");
  err_t err = tcp_bind(pcb, IP_ANY_TYPE, port);
  if (err != ERR_OK) {
    tcp_close(pcb);
    return coap::error("cannot bind TCP port ", std::to_string(port), ": ", err_name(err));
  }
  tcp_pcb* lpcb = tcp_listen_with_backlog_and_err(pcb, TCP_DEFAULT_LISTEN_BACKLOG, &err);
  if (!lpcb) {
    tcp_close(pcb);
    return coap::error("cannot listen on TCP port ", std::to_string(port), ": ", err_name(err));
  }
  const ConnId id = allocate_id();
  listeners_[id] = Listener{lpcb, kind};
  tcp_arg(lpcb, arg_for(id));
  tcp_accept(lpcb, on_accept);
  return {};
}

err_t TcpTransport::on_accept(void* arg, tcp_pcb* newpcb, err_t err) {
  assume_core_locked();
  TcpTransport* self = instance();
  if (err != ERR_OK || !newpcb) return ERR_VAL;
  Listener* l = self ? self->find(self->listeners_, arg) : nullptr;
  if (!l) {
    tcp_abort(newpcb);
    return ERR_ABRT;
  }
  const ConnId id = self->allocate_id();
  self->conns_[id] = Conn{newpcb};
  self->attach(id, newpcb);
  self->sink_.on_tcp_accepted(id, l->kind,
                              Stack::from_lwip(&newpcb->remote_ip, newpcb->remote_port),
                              Stack::from_lwip(&newpcb->local_ip, newpcb->local_port));
  return ERR_OK;
}

void TcpTransport::connect(ConnId id, const coap::Address& to) {
  LWIP_ASSERT_CORE_LOCKED();
  if (!stack_.routable(to)) {
    sink_.on_tcp_error(id, coap::TcpError::kUnreachable, ERR_RTE);
    return;
  }
  tcp_pcb* pcb = tcp_new_ip_type(to.is_v4() ? IPADDR_TYPE_V4 : IPADDR_TYPE_V6);
  if (!pcb) {
    sink_.on_tcp_error(id, coap::TcpError::kOther, ERR_MEM);
    return;
  }
  conns_[id] = Conn{pcb, /*connecting=*/true};
  attach(id, pcb);
  const ip_addr_t dst = stack_.to_lwip(to);
  const err_t err = tcp_connect(pcb, &dst, to.port, on_connected);
  if (err != ERR_OK) {
    // Nothing was sent; the pcb is ours to free and no callback may follow.
    conns_.erase(id);
    clear_callbacks(pcb);
    tcp_abort(pcb);
    sink_.on_tcp_error(id, err == ERR_RTE ? coap::TcpError::kUnreachable : classify(err, true),
                       err);
  }
}

err_t TcpTransport::on_connected(void* arg, tcp_pcb* pcb, err_t err) {
  assume_core_locked();
  TcpTransport* self = instance();
  Conn* c = self ? self->find(self->conns_, arg) : nullptr;
  if (!c) {
    // Cannot happen: callbacks are cleared before a conn is forgotten.
    clear_callbacks(pcb);
    tcp_abort(pcb);
    return ERR_ABRT;
  }
  (void)err;  // always ERR_OK in lwIP 2.1; failures arrive through on_err
  c->connecting = false;
  self->sink_.on_tcp_connected(id_of(arg), Stack::from_lwip(&pcb->local_ip, pcb->local_port));
  return ERR_OK;
}

err_t TcpTransport::on_recv(void* arg, tcp_pcb* pcb, pbuf* p, err_t err) {
  assume_core_locked();
  TcpTransport* self = instance();
  Conn* c = self ? self->find(self->conns_, arg) : nullptr;
  if (!c) {
    if (p) {
      tcp_recved(pcb, p->tot_len);
      pbuf_free(p);
    }
    clear_callbacks(pcb);
    tcp_abort(pcb);
    return ERR_ABRT;
  }
  if (!p) {  // FIN from the peer
    self->sink_.on_tcp_peer_closed(id_of(arg));
    return ERR_OK;
  }
  if (err != ERR_OK) {  // not produced by lwIP 2.1; be safe
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
  }
  // Copied out by the sink; the window opens when the engine consumes it.
  c->rx_total += p->tot_len;
  self->sink_.on_tcp_data(id_of(arg), p);
  pbuf_free(p);
  return ERR_OK;
}

err_t TcpTransport::on_sent(void* arg, tcp_pcb*, u16_t) {
  assume_core_locked();
  TcpTransport* self = instance();
  if (self && self->find(self->conns_, arg)) self->sink_.on_tcp_writable(id_of(arg));
  return ERR_OK;
}

void TcpTransport::on_err(void* arg, err_t err) {
  assume_core_locked();
  TcpTransport* self = instance();
  if (!self) return;
  auto it = self->conns_.find(id_of(arg));
  if (it == self->conns_.end()) return;
  // The pcb is already freed: forget it before anything else.
  const ConnId id = it->first;
  const bool connecting = it->second.connecting;
  self->conns_.erase(it);
  self->sink_.on_tcp_error(id, classify(err, connecting), err);
}

err_t TcpTransport::on_poll(void* arg, tcp_pcb* pcb) {
  assume_core_locked();
  TcpTransport* self = instance();
  Conn* c = self ? self->find(self->conns_, arg) : nullptr;
  if (c && c->write_blocked) {
    c->write_blocked = false;
    tcp_poll(pcb, nullptr, 0);
    self->sink_.on_tcp_writable(id_of(arg));
  }
  return ERR_OK;
}

std::size_t TcpTransport::write(ConnId id, std::span<const uint8_t> data) {
  LWIP_ASSERT_CORE_LOCKED();
  auto it = conns_.find(id);
  if (it == conns_.end() || it->second.connecting || data.empty()) return 0;
  tcp_pcb* pcb = it->second.pcb;
  std::size_t n = std::min<std::size_t>({data.size(), tcp_sndbuf(pcb), 0xffff});
  if (n == 0 || tcp_sndqueuelen(pcb) >= TCP_SND_QUEUELEN) return 0;
  const u8_t flags = TCP_WRITE_FLAG_COPY | (n < data.size() ? TCP_WRITE_FLAG_MORE : 0);
  err_t err = tcp_write(pcb, data.data(), static_cast<u16_t>(n), flags);
  while (err == ERR_MEM && n > TCP_MSS) {  // segment queue full: try a smaller piece
    n /= 2;
    err = tcp_write(pcb, data.data(), static_cast<u16_t>(n), flags | TCP_WRITE_FLAG_MORE);
  }
  if (err != ERR_OK) {
    if (!pcb->unsent && !pcb->unacked) {
      // Nothing in flight means no tcp_sent will come: retry from poll.
      it->second.write_blocked = true;
      tcp_poll(pcb, on_poll, 1);
    }
    return 0;
  }
  return n;
}

void TcpTransport::output(ConnId id) {
  LWIP_ASSERT_CORE_LOCKED();
  auto it = conns_.find(id);
  if (it != conns_.end() && !it->second.connecting) tcp_output(it->second.pcb);
}

void TcpTransport::recved(ConnId id, std::size_t n) {
  LWIP_ASSERT_CORE_LOCKED();
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn& c = it->second;
  // Never more than was received: the engine only consumes delivered bytes.
  n = static_cast<std::size_t>(std::min<uint64_t>(n, c.rx_total - c.recved_total));
  c.recved_total += n;
  while (n > 0) {
    const u16_t chunk = static_cast<u16_t>(std::min<std::size_t>(n, 0xffff));
    tcp_recved(c.pcb, chunk);
    n -= chunk;
  }
}

void TcpTransport::give_back_window(Conn& c) {
  uint64_t left = c.rx_total - c.recved_total;
  c.recved_total = c.rx_total;
  while (left > 0) {
    const u16_t chunk = static_cast<u16_t>(std::min<uint64_t>(left, 0xffff));
    tcp_recved(c.pcb, chunk);
    left -= chunk;
  }
}

void TcpTransport::close_pcb(ConnId id, tcp_pcb* pcb) {
  clear_callbacks(pcb);
  if (tcp_close(pcb) == ERR_OK) return;  // lwIP owns the pcb from here
  // Out of memory for the FIN: retry from poll, abort in the end. Only an
  // err callback (the pcb died meanwhile) and poll stay armed, with an id.
  closing_[id] = Closing{pcb, 0};
  tcp_arg(pcb, arg_for(id));
  tcp_err(pcb, on_close_err);
  tcp_poll(pcb, on_close_poll, 1);
}

err_t TcpTransport::on_close_poll(void* arg, tcp_pcb* pcb) {
  assume_core_locked();
  TcpTransport* self = instance();
  Closing* c = self ? self->find(self->closing_, arg) : nullptr;
  if (!c) return ERR_OK;
  clear_callbacks(pcb);
  if (tcp_close(pcb) == ERR_OK) {
    self->closing_.erase(id_of(arg));
    return ERR_OK;
  }
  if (++c->tries >= kCloseRetries) {
    spdlog::warn("tcp: close of connection {} kept failing; aborting it", id_of(arg));
    self->closing_.erase(id_of(arg));
    tcp_abort(pcb);
    return ERR_ABRT;
  }
  tcp_arg(pcb, arg);
  tcp_err(pcb, on_close_err);
  tcp_poll(pcb, on_close_poll, 1);
  return ERR_OK;
}

void TcpTransport::on_close_err(void* arg, err_t) {
  assume_core_locked();
  if (TcpTransport* self = instance()) self->closing_.erase(id_of(arg));
}

void TcpTransport::close(ConnId id) {
  LWIP_ASSERT_CORE_LOCKED();
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn c = it->second;
  conns_.erase(it);
  if (c.connecting) {  // SYN_SENT: tcp_close frees it at once, nothing sent
    clear_callbacks(c.pcb);
    tcp_close(c.pcb);
    return;
  }
  // lwIP answers a close with RST when received bytes were never given back.
  give_back_window(c);
  close_pcb(id, c.pcb);
}

void TcpTransport::abort(ConnId id) {
  LWIP_ASSERT_CORE_LOCKED();
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn c = it->second;
  conns_.erase(it);
  clear_callbacks(c.pcb);
  if (c.connecting) {
    tcp_close(c.pcb);  // frees a SYN_SENT pcb without sending anything
    return;
  }
  // lwIP's RST carries snd_nxt. A peer that stopped reading has a closed
  // window and zero-window probes have moved snd_nxt past it: that RST is
  // outside the window and dropped (RFC 5961), and the peer never learns.
  // One at the oldest unacknowledged byte, which such a peer expects next,
  // is accepted.
  tcp_pcb* pcb = c.pcb;
  if (pcb->lastack != pcb->snd_nxt)
    tcp_rst(pcb, pcb->lastack, pcb->rcv_nxt, &pcb->local_ip, &pcb->remote_ip, pcb->local_port,
            pcb->remote_port);
  tcp_abort(pcb);
}

void TcpTransport::close_listeners() {
  LWIP_ASSERT_CORE_LOCKED();
  for (auto& [id, l] : listeners_) {
    clear_callbacks(l.pcb);
    tcp_close(l.pcb);
  }
  listeners_.clear();
}

void TcpTransport::close_all() {
  LWIP_ASSERT_CORE_LOCKED();
  close_listeners();
  std::vector<ConnId> ids;
  for (const auto& [id, c] : conns_) ids.push_back(id);
  for (ConnId id : ids) abort(id);
  for (auto& [id, c] : closing_) {
    clear_callbacks(c.pcb);
    tcp_abort(c.pcb);
  }
  closing_.clear();
}

}  // namespace lwip_tap
