// The engine thread: runs coap::Endpoint, fed by lwIP callbacks and the
// control socket through its Mailbox, and carries the endpoint's output to
// lwIP in batches (lwip_tap::LwipNetworkIo).
//
// Locks (always taken in this order): lwIP core lock, then the mailbox lock.
//  - The mailbox lock guards only the mailbox (mailbox.h). lwIP callbacks
//    (core lock held) take it briefly to post; it is never held while taking
//    the core lock.
//  - The Endpoint and everything named *_engine() is confined to the engine
//    thread: no lock, no other thread touches it.
//  - To call lwIP the engine thread, holding no lock, takes the core lock in
//    LwipNetworkIo::flush(), which re-validates every connection it touches.
//
// Each pass of the loop: take everything posted, hand it to the endpoint,
// run due timers, flush the commands to lwIP, deliver what was held back
// while the core lock was held, then sleep until the next post or deadline.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <unordered_map>
#include <vector>

#include "coap/endpoint.h"
#include "daemon/coapd/latency_histogram.h"
#include "daemon/coapd/mailbox.h"
#include "daemon/coapd/timer_probe.h"
#include "lwip_tap/network_io.h"
#include "lwip_tap/stack.h"

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
  std::function<TimePoint()> next_alive_deadline;
};

struct EngineStats {
  uint64_t wakeups = 0;
  uint64_t udp_dropped = 0;  // datagrams the mailbox bound dropped
  uint64_t items = 0;
  uint64_t flushes = 0;
  // From the io thread reading a frame off the TAP (or an lwIP timer
  // callback) to the engine handling what it carried, in nanoseconds.
  LatencyHistogram tcp_wake_ns;
  LatencyHistogram udp_wake_ns;
};

class Engine final : public coap::EndpointListener {
 public:
  using Job = Mailbox::Job;
  using RequestDone = std::function<void(coap::ClientResult)>;
  using Notified = std::function<void(uint32_t seq, const coap::ClientResult& notification)>;

  Engine(const coap::EndpointConfig& config, coap::ResourceDirectory& resources,
         lwip_tap::Stack& stack, EngineHooks hooks, uint64_t seed);
  ~Engine() override;

  // Where the transports report (lwIP callbacks).
  lwip_tap::TransportSink& sink() { return mailbox_; }
  // coaps:// and coaps+tcp:// (coap::Endpoint::set_security); before start().
  coap::Status set_security(coap::SecurityContext* ctx) { return endpoint_->set_security(ctx); }
  // The transports commands go to; before start().
  void attach(lwip_tap::UdpTransport* udp, lwip_tap::UdpTransport* secure,
              lwip_tap::TcpTransport* tcp) {
    io_.attach(udp, secure, tcp);
  }
  void start();
  // Runs endpoint.shutdown() (Release/FIN on every session, requests
  // cancelled), flushes, and joins the thread. Any thread but the engine's.
  // Returns false, leaving the thread running, when it has not ended within
  // `limit` (a stalled engine).
  bool stop(coap::Duration limit = std::chrono::seconds(10));

  // Any thread, no lwIP lock needed (but allowed). The job runs on the engine
  // thread, in order with network events.
  void post(Job job) { mailbox_.post_job(std::move(job)); }
  // A client request: done runs on the engine thread, exactly once.
  void post_request(coap::ClientRequest request, RequestDone done);
  // An id for post_observe, distinct from every request's. Any thread.
  coap::RequestId new_request_id() { return next_request_id_.fetch_add(1); }
  // An observation (coap::Endpoint::start_observe) under `id`: notified runs
  // on the engine thread for every notification, then done exactly once.
  void post_observe(coap::RequestId id, coap::ClientRequest request, Notified notified,
                    RequestDone done);
  // Measures the engine's own timer (timer_probe.h); done runs on the
  // engine thread.
  void post_timer_probe(coap::Duration interval, int count, TimerProbe::Done done);

  // Engine thread only (jobs and resource handlers run there).
  const EngineStats& stats_engine() const { return stats_; }
  coap::Endpoint& endpoint_engine() { return *endpoint_; }
  // Before start(): how long the engine looks for more work after a busy
  // pass before it sleeps (0: never spin).
  void set_spin(coap::Duration d) { spin_ = d; }
  // Thread-safe.
  uint64_t wakeups() const { return wakeups_.load(std::memory_order_relaxed); }

 private:
  void run();
  // One pass; returns whether the stop item was among what it took.
  bool pass(TimePoint now);
  void process(const Mailbox::Batch& batch, TimePoint now);
  TimePoint next_deadline() const;

  // coap::EndpointListener (engine thread).
  void on_event(const coap::Event& event) override;
  void on_request_done(coap::RequestId id, coap::ClientResult result) override;
  void on_notification(coap::RequestId id, uint32_t seq,
                       const coap::ClientResult& notification) override;

  Mailbox mailbox_;
  lwip_tap::LwipNetworkIo io_;
  EngineHooks hooks_;
  std::thread thread_;
  std::promise<void> ended_;        // set as run() returns
  std::future<void> ended_future_;  // taken before the thread starts
  std::atomic<uint64_t> wakeups_{0};
  coap::Duration spin_ = std::chrono::microseconds(50);

  // Engine thread only.
  std::unique_ptr<coap::Endpoint> endpoint_;
  Mailbox::Batch batch_;
  // Events raised inside the flush's core-lock section, delivered after it:
  // logging them could block on stdout while lwIP is held.
  std::vector<coap::Event> deferred_events_;
  std::unordered_map<coap::RequestId, RequestDone> pending_requests_;
  std::unordered_map<coap::RequestId, Notified> observations_;
  std::atomic<coap::RequestId> next_request_id_{1};
  EngineStats stats_;
  TimerProbe probe_;
};

}  // namespace coapd
