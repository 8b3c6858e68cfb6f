// The engine's mailbox: the one doorway into the engine thread. lwIP
// callbacks (the TransportSink side, core lock held) and every other thread
// post here; the engine thread takes everything posted in one swap.
//
// Locks: the mailbox lock (mu_) guards the contents and the wake-up state
// below, and is taken after the core lock, never before it (lwIP callbacks
// hold the core lock when they post). Nothing else is done under it.
//
// Wake-up: posting sets state, not a count, so a wake-up that lands while the
// engine is busy is seen as pending work (never lost) and leaves nothing
// behind to cut the next wait short. While the io thread feeds a TAP batch to
// lwIP (begin_input_batch .. end_input_batch, core lock held throughout), the
// posts it causes wake the engine once, at the end.
//
// Memory: datagrams waiting here cost at most kMaxDatagramCost (payload and
// bookkeeping); past that they are dropped and counted (UDP loses datagrams
// anyway; a CON is retransmitted). TCP data is not counted: it is bounded by
// the receive windows, which reopen only once the engine consumed it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "coap/endpoint.h"
#include "lwip_tap/thread_safety.h"
#include "lwip_tap/transport_sink.h"

namespace coapd {

class Mailbox final : public lwip_tap::TransportSink {
 public:
  using Job = std::function<void(coap::Endpoint&, coap::TimePoint now)>;

  struct Item {
    enum Kind : uint8_t {
      kDatagram,
      kAccepted,
      kConnected,
      kData,
      kPeerClosed,
      kError,
      kWritable,
      kJob,
      kStop,
    };
    Kind kind;
    uint8_t extra = 0;  // UDP socket, listener kind, error kind
    coap::ConnId conn = 0;
    coap::Address addr;
    coap::Address addr2;
    uint32_t offset = 0;  // into Batch::bytes, or Batch::jobs for kJob
    uint32_t length = 0;
    coap::TimePoint posted{};  // when it was read off the TAP (or posted)
    bool to_group = false;     // a datagram sent to a multicast group
  };
  // What the engine takes in one swap.
  struct Batch {
    std::vector<Item> items;
    std::vector<uint8_t> bytes;
    std::vector<Job> jobs;
    uint64_t dropped_total = 0;  // datagrams dropped for the bound, ever
    std::span<const uint8_t> bytes_of(const Item& it) const {
      return {bytes.data() + it.offset, it.length};
    }
    void clear();
    // Gives back the memory of a burst (the batch becomes the mailbox next).
    void trim();
  };

  static constexpr std::size_t kMaxDatagramCost = 8 << 20;

  // Any thread, no lwIP lock needed (but allowed).
  void post_job(Job job) EXCLUDES(mu_);
  void post_stop() EXCLUDES(mu_);

  // lwip_tap::TransportSink: lwIP callbacks, core lock held.
  void on_udp_datagram(coap::UdpSocket socket, const coap::Address& from, const pbuf* p,
                       bool to_group) override;
  void on_tcp_accepted(coap::ConnId conn, coap::ListenerKind kind, const coap::Address& peer,
                       const coap::Address& local) override;
  void on_tcp_connected(coap::ConnId conn, const coap::Address& local) override;
  void on_tcp_data(coap::ConnId conn, const pbuf* p) override;
  void on_tcp_peer_closed(coap::ConnId conn) override;
  void on_tcp_error(coap::ConnId conn, coap::TcpError error, err_t lwip_err) override;
  void on_tcp_writable(coap::ConnId conn) override;
  void begin_input_batch(coap::TimePoint read_at) override EXCLUDES(mu_);
  void end_input_batch() override EXCLUDES(mu_);

  // Engine thread: when `look_first` (the last pass had work), looks for new
  // work for up to `spin` without sleeping (yielding the CPU); then sleeps
  // until something is posted or `deadline`. A spurious or early return of
  // the wait never ends it early. Swaps what was posted into *out, which must
  // be empty.
  void take(coap::TimePoint deadline, bool look_first, coap::Duration spin, Batch* out)
      EXCLUDES(mu_);

 private:
  // droppable: a datagram, dropped and counted past kMaxDatagramCost.
  void post(const Item& item, const pbuf* p, bool droppable) EXCLUDES(mu_);
  void wake_if_waiting(bool wake);

  lwip_tap::Mutex mu_;
  lwip_tap::CondVar cv_;
  Batch inbox_ GUARDED_BY(mu_);
  std::size_t datagram_cost_ GUARDED_BY(mu_) = 0;
  uint64_t dropped_ GUARDED_BY(mu_) = 0;
  bool waiting_ GUARDED_BY(mu_) = false;    // the engine sleeps in take()
  bool wake_owed_ GUARDED_BY(mu_) = false;  // posted inside an input batch
  bool in_input_batch_ GUARDED_BY(mu_) = false;
  coap::TimePoint batch_time_ GUARDED_BY(mu_){};
  // Set with the mailbox non-empty; read without the lock while looking.
  std::atomic<bool> posted_{false};
};

}  // namespace coapd
