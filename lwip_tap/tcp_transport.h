// CoAP over TCP on lwIP's raw TCP API: listeners, accepted and outgoing
// connections, and the lifecycle rules that keep lwIP sound:
//
//  1. tcp_recved() for exactly the bytes the engine consumed; before a close,
//     every byte received and not yet given back is given back, so that the
//     close sends FIN and not RST (lwIP resets when the window is not whole).
//  2. Before closing any pcb, its callbacks are cleared (arg, recv, sent, err,
//     poll; accept on listeners). A tcp_close() that fails is retried from
//     poll and ends in tcp_abort(); the pcb is never touched again otherwise.
//  3. tcp_err means lwIP already freed the pcb: the connection forgets it
//     first, then reports once. Callback arguments are connection ids looked
//     up in a table, never pointers, so a late callback is a no-op.
//  4. Every callback reports to the TransportSink, which wakes the engine.
//  5. Writes take what fits (tcp_sndbuf, ERR_MEM); tcp_sent reports room.
//  6. Everything here REQUIRES the core lock (callbacks have it already).
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>

#include "lwip_tap/stack.h"
#include "lwip_tap/transport_sink.h"

namespace lwip_tap {

class TcpTransport {
 public:
  // One per process: the static lwIP callbacks find it through a global.
  TcpTransport(Stack& stack, TransportSink& sink);
  ~TcpTransport();  // after close_all()

  // Thread-safe: ids for new connections (never reused).
  ConnId allocate_id() { return next_id_.fetch_add(1, std::memory_order_relaxed); }

  // REQUIRES core lock. Dual-stack listener on `port`.
  coap::Status listen(uint16_t port, coap::ListenerKind kind) REQUIRES(core_lock);
  // REQUIRES core lock. Starts connecting; the outcome is reported to the
  // sink (tcp_connected, or tcp_error also when it fails at once).
  void connect(ConnId id, const coap::Address& to) REQUIRES(core_lock);
  // REQUIRES core lock. Queues as much of data as TCP takes now; returns the
  // byte count taken (0 when full: tcp_writable follows when room appears).
  std::size_t write(ConnId id, std::span<const uint8_t> data) REQUIRES(core_lock);
  // REQUIRES core lock. Sends what write() queued.
  void output(ConnId id) REQUIRES(core_lock);
  // REQUIRES core lock. Opens the receive window by n consumed bytes.
  void recved(ConnId id, std::size_t n) REQUIRES(core_lock);
  // REQUIRES core lock. Orderly close (FIN); the id is forgotten.
  void close(ConnId id) REQUIRES(core_lock);
  // REQUIRES core lock. RST (nothing for a pcb still in SYN_SENT); forgotten.
  void abort(ConnId id) REQUIRES(core_lock);
  // REQUIRES core lock. No new connections from now on.
  void close_listeners() REQUIRES(core_lock);
  // REQUIRES core lock. At the end of shutdown: listeners are closed and
  // connections still here (their sessions did not finish in time) aborted,
  // so that their peers get RST rather than silence when the TAP goes.
  void close_all() REQUIRES(core_lock);

  // REQUIRES core lock.
  std::size_t connection_count() const REQUIRES(core_lock) { return conns_.size(); }
  std::size_t closing_count() const REQUIRES(core_lock) { return closing_.size(); }

 private:
  struct Conn {
    tcp_pcb* pcb = nullptr;
    bool connecting = false;
    uint64_t rx_total = 0;       // bytes delivered to the sink
    uint64_t recved_total = 0;   // bytes given back with tcp_recved
    bool write_blocked = false;  // ERR_MEM with nothing in flight: poll retries
  };
  struct Listener {
    tcp_pcb* pcb = nullptr;
    coap::ListenerKind kind;
  };
  struct Closing {
    tcp_pcb* pcb = nullptr;
    int tries = 0;
  };

  static TcpTransport* instance();
  static void* arg_for(ConnId id) { return reinterpret_cast<void*>(static_cast<uintptr_t>(id)); }
  static ConnId id_of(void* arg) { return static_cast<ConnId>(reinterpret_cast<uintptr_t>(arg)); }
  // The entry a callback argument names, or nullptr when it is gone.
  template <typename Map>
  static typename Map::mapped_type* find(Map& m, void* arg) {
    auto it = m.find(id_of(arg));
    return it == m.end() ? nullptr : &it->second;
  }
  static void clear_callbacks(tcp_pcb* pcb) REQUIRES(core_lock);
  void attach(ConnId id, tcp_pcb* pcb) REQUIRES(core_lock);
  void give_back_window(Conn& c) REQUIRES(core_lock);
  void close_pcb(ConnId id, tcp_pcb* pcb) REQUIRES(core_lock);

  static err_t on_accept(void* arg, tcp_pcb* newpcb, err_t err);
  static err_t on_connected(void* arg, tcp_pcb* pcb, err_t err);
  static err_t on_recv(void* arg, tcp_pcb* pcb, pbuf* p, err_t err);
  static err_t on_sent(void* arg, tcp_pcb* pcb, u16_t len);
  static void on_err(void* arg, err_t err);
  static err_t on_poll(void* arg, tcp_pcb* pcb);
  static err_t on_close_poll(void* arg, tcp_pcb* pcb);
  static void on_close_err(void* arg, err_t err);

  Stack& stack_;
  TransportSink& sink_;
  std::atomic<ConnId> next_id_{1};
  // State below is protected by the lwIP core lock.
  std::unordered_map<ConnId, Conn> conns_ GUARDED_BY(core_lock);
  std::unordered_map<ConnId, Listener> listeners_ GUARDED_BY(core_lock);
  // tcp_close failed, retried from poll.
  std::unordered_map<ConnId, Closing> closing_ GUARDED_BY(core_lock);
};

}  // namespace lwip_tap
