// coapd's lwIP instance: tcpip_thread (lwIP's timers; nobody else calls
// sys_check_timeouts), one Ethernet netif whose frames go to a FrameSink (the
// TAP in coapd), and helpers to look at it.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "coap/address.h"
#include "coap/result.h"
#include "lwip_tap/frame_observer.h"
#include "lwip_tap/frame_sink.h"
#include "lwip_tap/lwip.h"
#include "lwip_tap/thread_safety.h"

namespace lwip_tap {

struct NetifOptions {
  std::array<uint8_t, 6> mac{};
  std::array<uint8_t, 4> ipv4{};
  uint8_t ipv4_prefix_len = 24;
  std::optional<std::array<uint8_t, 4>> gateway;
  std::optional<std::array<uint8_t, 16>> ipv6;  // besides the link-local address
  int mtu = 1500;
};

struct PcbCounts {
  std::size_t tcp_active = 0;  // SYN_SENT .. LAST_ACK
  std::size_t tcp_listen = 0;
  std::size_t tcp_time_wait = 0;
  std::size_t tcp_bound = 0;
  std::size_t udp = 0;
};

struct NetifAddress {
  std::string address;  // "192.0.2.2/24", "fe80::..%coap0/64"
  std::string state;    // "preferred", "tentative", ...
};

// Frames lwIP sends while a thread batches its work, written to the sink
// after that thread has released the core lock: the write syscalls then run
// in parallel with the other thread's input instead of holding the lock.
class TxBatch {
 public:
  bool empty() const { return lengths_.empty(); }
  std::size_t size() const { return lengths_.size(); }

 private:
  friend class Stack;
  std::vector<uint8_t> bytes_;
  std::vector<uint32_t> lengths_;
};

class Stack {
 public:
  Stack() = default;
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  // Seeds LWIP_RAND() (rand(), never seeded by lwIP itself) from getrandom(),
  // then starts tcpip_thread and waits for it. Once per process: lwIP cannot
  // be stopped and started again.
  static void start_tcpip();

  // REQUIRES core lock. Adds the netif, writing its frames to `frames`,
  // which stays valid as long as frames may be written: until
  // remove_netif() and the last write_batch() after it.
  coap::Status add_netif(const NetifOptions& options, FrameSink& frames) REQUIRES(core_lock);
  // REQUIRES core lock.
  void remove_netif() REQUIRES(core_lock);
  // REQUIRES core lock, after add_netif. Joins the All-CoAP-Nodes groups
  // (RFC 7252 12.8): 224.0.1.187 by IGMP, ff02::fd and ff05::fd by MLD
  // (Debian's lwIP has LWIP_IGMP and LWIP_IPV6_MLD; the netif carries
  // NETIF_FLAG_IGMP and NETIF_FLAG_MLD6), so that lwIP delivers datagrams
  // to them and answers the routers' queries.
  coap::Status join_coap_groups() REQUIRES(core_lock);

  netif* iface() { return added_ ? &netif_ : nullptr; }
  // REQUIRES core lock. Whether a packet to `a` can leave: on our subnet (or
  // link-local, or the /64 of one of our IPv6 addresses), or through the
  // gateway. lwIP itself sends everything to its default netif, where an
  // off-link destination without a gateway is silently dropped.
  bool routable(const coap::Address& a) const REQUIRES(core_lock);
  // REQUIRES core lock.
  PcbCounts count_pcbs() const REQUIRES(core_lock);
  // REQUIRES core lock. Active TCP pcbs with something of ours not yet
  // acknowledged or not yet closed: all but FIN_WAIT_2 (where our data and
  // FIN are acknowledged and only the peer's FIN is missing) and SYN_RCVD.
  std::size_t tcp_unsettled() const REQUIRES(core_lock);
  // REQUIRES core lock.
  std::vector<NetifAddress> addresses(const std::string& zone_name) const REQUIRES(core_lock);

  // Writes the batch's frames to the sink and empties it. No lock needed.
  void write_batch(TxBatch& batch);

  // Before the netif is added: who sees every frame received and sent.
  void set_frame_observer(FrameObserver* o) { observer_ = o; }
  // Any thread: hands a frame to the observer while it is active.
  void observe(FrameObserver::Direction d, std::span<const uint8_t> frame) {
    if (observer_ && observer_->active()) observer_->on_frame(d, frame);
  }

  uint64_t tx_frames() const { return tx_frames_.load(std::memory_order_relaxed); }
  uint64_t tx_errors() const { return tx_errors_.load(std::memory_order_relaxed); }
  // Out of memory (lwIP's allocations failed): received frames lost, and UDP
  // datagrams not sent. Any thread.
  void note_rx_no_memory() { rx_no_memory_.fetch_add(1, std::memory_order_relaxed); }
  void note_udp_send_failure() { udp_send_failures_.fetch_add(1, std::memory_order_relaxed); }
  uint64_t rx_no_memory() const { return rx_no_memory_.load(std::memory_order_relaxed); }
  uint64_t udp_send_failures() const { return udp_send_failures_.load(std::memory_order_relaxed); }

  // Address conversion (for a link-local IPv6 address without a zone, the
  // netif's zone is assumed: coapd has one interface).
  ip_addr_t to_lwip(const coap::Address& a) const;
  static coap::Address from_lwip(const ip_addr_t* ip, uint16_t port);

 private:
  static err_t netif_init_cb(netif* n);
  static err_t linkoutput_cb(netif* n, pbuf* p);
  bool write_frame(std::span<const uint8_t> frame);

  friend class BatchedCoreLock;

  netif netif_{};
  bool added_ = false;
  // The batch of the BatchedCoreLock held now: whoever holds the core lock is
  // the only one who can make lwIP send, so its frames go there.
  TxBatch* open_batch_ GUARDED_BY(core_lock) = nullptr;
  FrameSink* frames_ = nullptr;
  FrameObserver* observer_ = nullptr;
  NetifOptions options_;
  std::atomic<uint64_t> tx_frames_{0};
  std::atomic<uint64_t> tx_errors_{0};
  std::atomic<uint64_t> rx_no_memory_{0};
  std::atomic<uint64_t> udp_send_failures_{0};
};

// Holds lwIP's core lock; frames lwIP sends meanwhile are kept in `batch`
// and written to the sink right after the lock is released, so the write
// syscalls run in parallel with the other thread's input instead of holding
// the lock. The TAP pump and the engine's flush both work under one.
class SCOPED_CAPABILITY BatchedCoreLock {
 public:
  BatchedCoreLock(Stack& stack, TxBatch& batch) ACQUIRE(core_lock);
  ~BatchedCoreLock() RELEASE();
  BatchedCoreLock(const BatchedCoreLock&) = delete;
  BatchedCoreLock& operator=(const BatchedCoreLock&) = delete;

 private:
  Stack& stack_;
  TxBatch& batch_;
};

}  // namespace lwip_tap
