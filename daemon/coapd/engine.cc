#include "daemon/coapd/engine.h"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cassert>

namespace coapd {
namespace {

uint64_t nanos_since(TimePoint then, TimePoint now) {
  return static_cast<uint64_t>(std::max<int64_t>((now - then).count(), 0));
}

}  // namespace

Engine::Engine(const coap::EndpointConfig& config, coap::ResourceDirectory& resources,
               lwip_tap::Stack& stack, EngineHooks hooks, uint64_t seed)
    : io_(stack), hooks_(std::move(hooks)) {
  endpoint_ = std::make_unique<coap::Endpoint>(config, resources, io_, *this, seed);
}

Engine::~Engine() { assert(!thread_.joinable() && "stop() the engine before destroying it"); }

void Engine::start() {
  ended_future_ = ended_.get_future();
  thread_ = std::thread([this] {
    run();
    ended_.set_value();
  });
}

bool Engine::stop(coap::Duration limit) {
  if (!thread_.joinable()) return true;
  mailbox_.post_stop();
  if (ended_future_.wait_for(limit) != std::future_status::ready) return false;
  thread_.join();
  return true;
}

void Engine::post_request(coap::ClientRequest request, RequestDone done) {
  post([this, request = std::move(request), done = std::move(done)](coap::Endpoint& ep,
                                                                    TimePoint now) mutable {
    const coap::RequestId id = new_request_id();
    pending_requests_.emplace(id, std::move(done));
    ep.start_request(id, std::move(request), now);
  });
}

void Engine::post_observe(coap::RequestId id, coap::ClientRequest request, Notified notified,
                          RequestDone done) {
  post([this, id, request = std::move(request), notified = std::move(notified),
        done = std::move(done)](coap::Endpoint& ep, TimePoint now) mutable {
    pending_requests_.emplace(id, std::move(done));
    observations_.emplace(id, std::move(notified));
    ep.start_observe(id, std::move(request), now);
  });
}

void Engine::post_timer_probe(coap::Duration interval, int count, TimerProbe::Done done) {
  post([this, interval, count, done = std::move(done)](coap::Endpoint&, TimePoint now) mutable {
    probe_.start(interval, count, now, std::move(done));
  });
}

// --- the engine thread ------------------------------------------------------------

void Engine::run() {
  // Wake for timers within a microsecond of their deadline rather than the
  // default 50 us slack: timers are the engine's whole schedule.
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  pthread_setname_np(pthread_self(), "coapd-engine");
  bool busy = false;  // the last pass had work
  for (;;) {
    mailbox_.take(next_deadline(), busy, spin_, &batch_);
    busy = !batch_.items.empty();
    if (pass(coap::Clock::now())) break;
  }
  // Requests still waiting for an answer were cancelled by shutdown(); any
  // callback left would have been called exactly once by then.
  assert(pending_requests_.empty());
}

bool Engine::pass(TimePoint now) {
  wakeups_.fetch_add(1, std::memory_order_relaxed);
  ++stats_.wakeups;
  stats_.udp_dropped = batch_.dropped_total;
  const bool stopping =
      std::any_of(batch_.items.begin(), batch_.items.end(),
                  [](const Mailbox::Item& it) { return it.kind == Mailbox::Item::kStop; });
  process(batch_, now);
  if (stopping) endpoint_->shutdown(now);
  if (endpoint_->next_deadline() <= now) endpoint_->on_timer(now);
  if (io_.flush(*endpoint_, now)) ++stats_.flushes;
  for (const coap::Event& e : deferred_events_) hooks_.on_event(e);
  deferred_events_.clear();
  batch_.clear();
  batch_.trim();  // becomes the mailbox next: a burst's memory is not kept
  if (hooks_.on_pass) hooks_.on_pass(now);
  probe_.on_pass(now);
  return stopping;
}

TimePoint Engine::next_deadline() const {
  TimePoint deadline = std::min(endpoint_->next_deadline(), probe_.deadline());
  if (hooks_.next_alive_deadline) deadline = std::min(deadline, hooks_.next_alive_deadline());
  return deadline;
}

void Engine::process(const Mailbox::Batch& batch, TimePoint now) {
  coap::Endpoint& ep = *endpoint_;
  stats_.items += batch.items.size();
  for (const Mailbox::Item& it : batch.items) {
    const std::span<const uint8_t> bytes = batch.bytes_of(it);
    switch (it.kind) {
      case Mailbox::Item::kDatagram:
        stats_.udp_wake_ns.record(nanos_since(it.posted, now));
        lwip_tap::trace_datagram("from", it.addr, bytes);
        if (it.to_group) {
          ep.on_group_datagram(it.addr, bytes, now);
        } else {
          ep.on_datagram(static_cast<coap::UdpSocket>(it.extra), it.addr, bytes, now);
        }
        break;
      case Mailbox::Item::kAccepted:
        ep.on_tcp_accepted(it.conn, static_cast<coap::ListenerKind>(it.extra), it.addr, it.addr2,
                           now);
        break;
      case Mailbox::Item::kConnected: ep.on_tcp_connected(it.conn, it.addr, now); break;
      case Mailbox::Item::kData:
        stats_.tcp_wake_ns.record(nanos_since(it.posted, now));
        spdlog::trace("tcp {} received {}B", it.conn, bytes.size());
        ep.on_tcp_data(it.conn, bytes, now);
        break;
      case Mailbox::Item::kPeerClosed: ep.on_tcp_peer_closed(it.conn, now); break;
      case Mailbox::Item::kError:
        ep.on_tcp_error(it.conn, static_cast<coap::TcpError>(it.extra), now);
        break;
      case Mailbox::Item::kWritable: ep.on_tcp_writable(it.conn, now); break;
      case Mailbox::Item::kJob: batch.jobs[it.offset](ep, now); break;
      case Mailbox::Item::kStop: break;
    }
  }
}

// --- coap::EndpointListener (engine thread) -------------------------------------------

void Engine::on_event(const coap::Event& event) {
  if (!hooks_.on_event) return;
  // Under the core lock (a write or close in flush() ending a session) the
  // event waits: logging it could block on stdout while lwIP is held.
  if (io_.flushing()) {
    deferred_events_.push_back(event);
    return;
  }
  hooks_.on_event(event);
}

void Engine::on_request_done(coap::RequestId id, coap::ClientResult result) {
  auto it = pending_requests_.find(id);
  if (it == pending_requests_.end()) return;
  RequestDone done = std::move(it->second);
  pending_requests_.erase(it);
  observations_.erase(id);
  done(std::move(result));
}

void Engine::on_notification(coap::RequestId id, uint32_t seq,
                             const coap::ClientResult& notification) {
  if (auto it = observations_.find(id); it != observations_.end()) it->second(seq, notification);
}

}  // namespace coapd
