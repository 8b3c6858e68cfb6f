// The engine thread: runs coap::Endpoint, fed by lwIP callbacks and the
// control socket through one mailbox, and carries the endpoint's output to
// lwIP in batches.
//
// Locks (always taken in this order): lwIP core lock, then the engine lock.
//  - The engine lock (mu_) guards only the mailbox: inbox_, waiting_,
//    wake_owed_, stop_. lwIP callbacks (core lock held) take it briefly to
//    post. It is never held while taking the core lock.
//  - The Endpoint and everything named *_engine_ is confined to the engine
//    thread: no lock, no other thread touches it.
//  - To call lwIP the engine thread drops the engine lock, takes the core
//    lock and re-validates every connection it is about to touch through the
//    transports' id tables (a pcb freed by tcp_err in between is simply not
//    found there).
//
// Wake-up: the engine sleeps on a condition variable until the mailbox is
// non-empty or its earliest timer is due. Posting sets state, not a count, so
// a wake-up that lands while the engine is busy is seen as pending work (never
// lost) and leaves nothing behind to cut the next wait short. The io thread
// posts a whole TAP batch before waking the engine once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "coap/endpoint.h"
#include "daemon/latency_histogram.h"
#include "lwip_tap/stack.h"
#include "lwip_tap/tcp_transport.h"
#include "lwip_tap/transport_sink.h"
#include "lwip_tap/udp_transport.h"

namespace coapd {

using coap::Duration;
using coap::TimePoint;

// Observers of what the engine does; called on the engine thread.
struct EngineHooks {
  std::function<void(const coap::Event&)> on_event;
  // Every pass of the loop, after the flush: the systemd watchdog keep-alive
  // (proof that the thread runs) and event delivery hang here.
  std::function<void(TimePoint now)> on_pass;
  // Extra deadline the loop must wake for (watchdog keep-alive), or kNever.
  std::function<TimePoint(TimePoint now)> next_alive_deadline;
};

struct EngineStats {
  uint64_t wakeups = 0;
  // Datagrams dropped because the mailbox had already spent
  // kMaxInboxDatagramBytes on datagrams (an engine that cannot keep up, or is
  // stalled, costs bounded memory).
  uint64_t udp_dropped = 0;
  uint64_t items = 0;
  uint64_t flushes = 0;
  // From the io thread reading a frame off the TAP (or an lwIP timer
  // callback) to the engine handling what it carried, in nanoseconds.
  LatencyHistogram tcp_wake_ns;
  LatencyHistogram udp_wake_ns;
};

// Result of a timer probe: how late each engine timer fired (never early).
struct TimerProbeResult {
  coap::Duration interval{};
  std::vector<int64_t> lateness_ns;  // fire time minus deadline, per firing
};

class Engine final : public coap::NetworkIo,
                     public coap::EndpointListener,
                     public lwip_tap::TransportSink {
 public:
  using Job = std::function<void(coap::Endpoint&, TimePoint now)>;
  using RequestDone = std::function<void(coap::ClientResult)>;

  Engine(const coap::EndpointConfig& config, coap::ResourceDirectory& resources,
         lwip_tap::Stack& stack, EngineHooks hooks, uint64_t seed);
  ~Engine() override;

  // The transports report here; set before start().
  void attach(lwip_tap::UdpTransport* udp, lwip_tap::TcpTransport* tcp);
  void start();
  // Runs endpoint.shutdown() (Release/FIN on every session, requests
  // cancelled), flushes, and joins the thread. Any thread but the engine's.
  // Returns false, leaving the thread running, when it has not ended within
  // `limit` (a stalled engine).
  bool stop(coap::Duration limit = std::chrono::seconds(10));

  // Any thread, no lwIP lock needed (but allowed). The job runs on the engine
  // thread, in order with network events.
  void post(Job job);
  // A client request: done runs on the engine thread, exactly once.
  void post_request(coap::ClientRequest request, RequestDone done);
  // Measures the engine's own timer: `count` timers of `interval`, each armed
  // when the previous one fired, on the same wait as every other timer.
  // done runs on the engine thread.
  void post_timer_probe(coap::Duration interval, int count,
                        std::function<void(TimerProbeResult)> done);

  // The io thread brackets each TAP batch: posts inside it wake the engine
  // once, at the end.
  static void begin_input_batch();
  void end_input_batch();

  // Engine thread only (jobs and resource handlers run there).
  const EngineStats& stats_engine() const { return stats_; }
  coap::Endpoint& endpoint_engine() { return *endpoint_; }
  // Before start(): how long the engine looks for more work after a busy
  // pass before it sleeps (0: never spin).
  void set_spin(coap::Duration d) { spin_ = d; }
  // Thread-safe.
  uint64_t wakeups() const { return wakeups_.load(std::memory_order_relaxed); }

  // lwip_tap::TransportSink (core lock held).
  void on_udp_datagram(const coap::Address& from, const pbuf* p) override;
  void on_tcp_accepted(coap::ConnId conn, coap::ListenerKind kind, const coap::Address& peer,
                       const coap::Address& local) override;
  void on_tcp_connected(coap::ConnId conn, const coap::Address& local) override;
  void on_tcp_data(coap::ConnId conn, const pbuf* p) override;
  void on_tcp_peer_closed(coap::ConnId conn) override;
  void on_tcp_error(coap::ConnId conn, coap::TcpError error, err_t lwip_err) override;
  void on_tcp_writable(coap::ConnId conn) override;

 private:
  // Mailbox entries. Bytes live in Inbox::bytes, jobs in Inbox::jobs.
  struct Item {
    enum Kind : uint8_t {
      kDatagram, kAccepted, kConnected, kData, kPeerClosed, kError, kWritable, kJob, kStop,
    };
    Kind kind;
    uint8_t extra = 0;  // listener kind, error kind
    coap::ConnId conn = 0;
    coap::Address addr;
    coap::Address addr2;
    uint32_t offset = 0;
    uint32_t length = 0;
    TimePoint posted{};  // set by post_item
  };
  struct Inbox {
    std::vector<Item> items;
    std::vector<uint8_t> bytes;
    std::vector<Job> jobs;
    void clear() {
      items.clear();
      bytes.clear();
      jobs.clear();
    }
  };
  // Commands for lwIP, collected while processing and carried out by flush().
  struct Command {
    enum Kind : uint8_t { kDatagram, kConnect, kWrite, kConsumed, kClose, kAbort };
    Kind kind;
    coap::ConnId conn = 0;
    coap::Address addr;
    uint32_t offset = 0;
    uint32_t length = 0;
  };

  // Memory the mailbox spends on datagrams at most (bytes and items); more
  // are dropped (UDP loses datagrams anyway; a CON is retransmitted). TCP
  // data is not counted: it is bounded by the receive windows, which only
  // reopen once the engine has consumed it.
  static constexpr std::size_t kMaxInboxDatagramBytes = 8 << 20;
  // A mailbox or batch that grew past this gives its memory back when empty.
  static constexpr std::size_t kKeepInboxBytes = 1 << 20;
  static constexpr std::size_t kKeepInboxItems = 16384;

  // A droppable item is dropped (and counted) past kMaxInboxDatagramBytes.
  void post_item(const Item& item, const pbuf* p, bool droppable = false);
  static void trim(Inbox& inbox);
  void run();
  void process(Inbox& batch, TimePoint now);
  void run_probe(TimePoint now);
  // Carries out the collected commands under one core-lock acquisition.
  void flush(TimePoint now);

  // coap::NetworkIo (engine thread).
  void send_datagram(const coap::Address& to, std::span<const uint8_t> bytes) override;
  coap::ConnId tcp_connect(const coap::Address& to) override;
  void tcp_want_write(coap::ConnId conn) override;
  void tcp_consumed(coap::ConnId conn, std::size_t n) override;
  void tcp_close(coap::ConnId conn) override;
  void tcp_abort(coap::ConnId conn) override;
  // coap::EndpointListener (engine thread).
  void on_event(const coap::Event& event) override;
  void on_request_done(coap::RequestId id, coap::ClientResult result) override;

  lwip_tap::Stack& stack_;
  lwip_tap::UdpTransport* udp_ = nullptr;
  lwip_tap::TcpTransport* tcp_ = nullptr;
  EngineHooks hooks_;
  std::thread thread_;
  std::promise<void> ended_;  // set as run() returns
  std::future<void> ended_future_;  // taken before the thread starts

  // Guarded by mu_ (the engine lock).
  std::mutex mu_;
  std::condition_variable cv_;
  Inbox inbox_;
  uint64_t dropped_ = 0;  // guarded by mu_; copied to stats_ by the engine
  // Guarded by mu_: what the datagrams in the mailbox cost, their bytes and
  // their items (an empty datagram is not free).
  std::size_t datagram_cost_ = 0;
  // Engine thread: inside flush()'s core-lock section, and the events
  // emitted there, delivered after the lock is released.
  bool flushing_ = false;
  std::vector<coap::Event> deferred_events_;
  bool waiting_ = false;
  bool wake_owed_ = false;
  bool stop_ = false;
  // Set with the mailbox non-empty; read without the lock while spinning.
  std::atomic<bool> posted_{false};
  coap::Duration spin_ = std::chrono::microseconds(50);

  // Engine thread only.
  std::unique_ptr<coap::Endpoint> endpoint_;
  Inbox batch_;
  std::vector<Command> commands_;
  std::vector<uint8_t> command_bytes_;
  std::unordered_set<coap::ConnId> written_;
  lwip_tap::TxBatch tx_;
  std::unordered_map<coap::RequestId, RequestDone> pending_requests_;
  coap::RequestId next_request_id_ = 1;
  EngineStats stats_;
  struct Probe {
    coap::Duration interval;
    int remaining;
    TimePoint deadline;
    TimerProbeResult result;
    std::function<void(TimerProbeResult)> done;
  };
  std::optional<Probe> probe_;

  std::atomic<uint64_t> wakeups_{0};
};

}  // namespace coapd
