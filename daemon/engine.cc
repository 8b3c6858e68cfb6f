#include "daemon/engine.h"

#include <pthread.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cassert>
#include <cstring>

namespace coapd {
namespace {

// Set on the io thread while it feeds a TAP batch to lwIP, with the time
// the batch was read off the TAP.
thread_local bool t_in_input_batch = false;
thread_local TimePoint t_batch_time{};

// Packet trace, only when the log level asks for it (it parses again).
void trace_datagram(const char* dir, const coap::Address& peer, std::span<const uint8_t> bytes) {
  if (!spdlog::should_log(spdlog::level::trace)) return;
  coap::Message m;
  const coap::ParseError err = coap::parse_udp(bytes, m);
  spdlog::trace("udp {} {} {}B: {}", dir, peer.to_string(), bytes.size(),
                err == coap::ParseError::kNone ? coap::describe(m) : coap::parse_error_name(err));
}

}  // namespace

Engine::Engine(const coap::EndpointConfig& config, coap::ResourceDirectory& resources,
               lwip_tap::Stack& stack, EngineHooks hooks, uint64_t seed)
    : stack_(stack), hooks_(std::move(hooks)) {
  endpoint_ = std::make_unique<coap::Endpoint>(config, resources, *this, *this, seed);
}

Engine::~Engine() { assert(!thread_.joinable() && "stop() the engine before destroying it"); }

void Engine::attach(lwip_tap::UdpTransport* udp, lwip_tap::TcpTransport* tcp) {
  udp_ = udp;
  tcp_ = tcp;
}

void Engine::start() {
  ended_future_ = ended_.get_future();
  thread_ = std::thread([this] {
    run();
    ended_.set_value();
  });
}

bool Engine::stop(coap::Duration limit) {
  if (!thread_.joinable()) return true;
  Item item{Item::kStop};
  post_item(item, nullptr);
  if (ended_future_.wait_for(limit) != std::future_status::ready) return false;
  thread_.join();
  return true;
}

// --- posting (any thread) -------------------------------------------------------

void Engine::begin_input_batch() {
  t_in_input_batch = true;
  t_batch_time = coap::Clock::now();
}

void Engine::end_input_batch() {
  t_in_input_batch = false;
  bool wake = false;
  {
    std::lock_guard lk(mu_);
    wake = wake_owed_ && waiting_;
    wake_owed_ = false;
  }
  if (wake) cv_.notify_one();
}

void Engine::post_item(const Item& item, const pbuf* p, bool droppable) {
  bool wake = false;
  {
    std::lock_guard lk(mu_);
    if (droppable) {
      const std::size_t cost = sizeof(Item) + (p ? p->tot_len : 0);
      if (datagram_cost_ + cost > kMaxInboxDatagramBytes) {
        ++dropped_;
        return;
      }
      datagram_cost_ += cost;
    }
    Item it = item;
    it.posted = t_in_input_batch ? t_batch_time : coap::Clock::now();
    if (p) {
      it.offset = static_cast<uint32_t>(inbox_.bytes.size());
      it.length = p->tot_len;
      inbox_.bytes.resize(inbox_.bytes.size() + p->tot_len);
      pbuf_copy_partial(p, inbox_.bytes.data() + it.offset, p->tot_len, 0);
    }
    inbox_.items.push_back(it);
    posted_.store(true, std::memory_order_release);
    if (t_in_input_batch) {
      wake_owed_ = true;  // woken once, by end_input_batch()
    } else {
      wake = waiting_;
    }
  }
  if (wake) cv_.notify_one();
}

void Engine::trim(Inbox& inbox) {
  if (inbox.bytes.capacity() > kKeepInboxBytes) std::vector<uint8_t>().swap(inbox.bytes);
  if (inbox.items.capacity() > kKeepInboxItems) std::vector<Item>().swap(inbox.items);
  if (inbox.jobs.capacity() > kKeepInboxItems) std::vector<Job>().swap(inbox.jobs);
}

void Engine::post(Job job) {
  bool wake = false;
  {
    std::lock_guard lk(mu_);
    Item it{Item::kJob};
    it.offset = static_cast<uint32_t>(inbox_.jobs.size());
    inbox_.jobs.push_back(std::move(job));
    inbox_.items.push_back(it);
    posted_.store(true, std::memory_order_release);
    wake = waiting_;
  }
  if (wake) cv_.notify_one();
}

void Engine::post_request(coap::ClientRequest request, RequestDone done) {
  post([this, request = std::move(request), done = std::move(done)](coap::Endpoint& ep,
                                                                    TimePoint now) mutable {
    const coap::RequestId id = next_request_id_++;
    pending_requests_.emplace(id, std::move(done));
    ep.start_request(id, std::move(request), now);
  });
}

void Engine::post_timer_probe(coap::Duration interval, int count,
                              std::function<void(TimerProbeResult)> done) {
  post([this, interval, count, done = std::move(done)](coap::Endpoint&, TimePoint now) mutable {
    if (probe_ || count <= 0) {
      done(TimerProbeResult{interval, {}});
      return;
    }
    probe_ =
        Probe{interval, count, now + interval, TimerProbeResult{interval, {}}, std::move(done)};
  });
}

void Engine::on_udp_datagram(const coap::Address& from, const pbuf* p) {
  Item it{Item::kDatagram};
  it.addr = from;
  post_item(it, p, /*droppable=*/true);  // dropped, and counted, when the mailbox is full
}

void Engine::on_tcp_accepted(coap::ConnId conn, coap::ListenerKind kind, const coap::Address& peer,
                             const coap::Address& local) {
  Item it{Item::kAccepted, static_cast<uint8_t>(kind), conn, peer, local};
  post_item(it, nullptr);
}

void Engine::on_tcp_connected(coap::ConnId conn, const coap::Address& local) {
  Item it{Item::kConnected, 0, conn, local};
  post_item(it, nullptr);
}

void Engine::on_tcp_data(coap::ConnId conn, const pbuf* p) {
  Item it{Item::kData, 0, conn};
  post_item(it, p);
}

void Engine::on_tcp_peer_closed(coap::ConnId conn) {
  Item it{Item::kPeerClosed, 0, conn};
  post_item(it, nullptr);
}

void Engine::on_tcp_error(coap::ConnId conn, coap::TcpError error, err_t lwip_err) {
  spdlog::debug("tcp: connection {} error {}", conn, lwip_tap::err_name(lwip_err));
  Item it{Item::kError, static_cast<uint8_t>(error), conn};
  post_item(it, nullptr);
}

void Engine::on_tcp_writable(coap::ConnId conn) {
  Item it{Item::kWritable, 0, conn};
  post_item(it, nullptr);
}

// --- the engine thread ------------------------------------------------------------

void Engine::run() {
  // Wake for timers within a microsecond of their deadline rather than the
  // default 50 us slack: timers are the engine's whole schedule.
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  pthread_setname_np(pthread_self(), "coapd-engine");
  TimePoint deadline = coap::kNever;
  bool stopping = false;
  bool busy = false;  // the last pass had work
  std::unique_lock lk(mu_);
  while (!stopping) {
    if (busy && inbox_.items.empty() && spin_ > Duration::zero()) {
      // Right after a pass with work more usually follows within
      // microseconds: look for it briefly before sleeping, which saves both
      // sides a futex call and a context switch. Bounded, and only after
      // work: an idle engine goes straight to sleep.
      lk.unlock();
      const TimePoint until = std::min(coap::Clock::now() + spin_, deadline);
      // Yield while looking: a thread that has work for this core (the io
      // thread, a peer) gets it, instead of losing it to the spin.
      while (!posted_.load(std::memory_order_acquire) && coap::Clock::now() < until)
        sched_yield();
      lk.lock();
    }
    // Sleep until there is work or the earliest timer is due. The predicate
    // is re-checked after every return, so a spurious or early return from
    // the wait never fires a timer early.
    while (inbox_.items.empty()) {
      const TimePoint now = coap::Clock::now();
      if (now >= deadline) break;
      waiting_ = true;
      if (deadline == coap::kNever) {
        cv_.wait(lk);
      } else {
        cv_.wait_until(lk, deadline);
      }
      waiting_ = false;
    }
    std::swap(inbox_, batch_);
    datagram_cost_ = 0;
    stats_.udp_dropped = dropped_;
    wake_owed_ = false;
    posted_.store(false, std::memory_order_relaxed);
    lk.unlock();
    busy = !batch_.items.empty();

    wakeups_.fetch_add(1, std::memory_order_relaxed);
    ++stats_.wakeups;
    const TimePoint now = coap::Clock::now();
    for (const Item& it : batch_.items) stopping |= it.kind == Item::kStop;
    process(batch_, now);
    if (stopping) endpoint_->shutdown(now);
    if (endpoint_->next_deadline() <= now) endpoint_->on_timer(now);
    flush(now);
    batch_.clear();
    trim(batch_);  // becomes the mailbox next: a burst's memory is not kept
    if (hooks_.on_pass) hooks_.on_pass(now);
    run_probe(now);
    deadline = endpoint_->next_deadline();
    if (hooks_.next_alive_deadline) deadline = std::min(deadline, hooks_.next_alive_deadline(now));
    if (probe_) deadline = std::min(deadline, probe_->deadline);

    lk.lock();
  }
  lk.unlock();
  // Requests still waiting for an answer were cancelled by shutdown(); any
  // callback left would have been called exactly once by then.
  assert(pending_requests_.empty());
}

void Engine::run_probe(TimePoint now) {
  if (!probe_ || now < probe_->deadline) return;
  probe_->result.lateness_ns.push_back(
      std::chrono::duration_cast<std::chrono::nanoseconds>(now - probe_->deadline).count());
  if (--probe_->remaining > 0) {
    probe_->deadline = now + probe_->interval;
    return;
  }
  Probe done = std::move(*probe_);
  probe_.reset();
  done.done(std::move(done.result));
}

void Engine::process(Inbox& batch, TimePoint now) {
  coap::Endpoint& ep = *endpoint_;
  stats_.items += batch.items.size();
  for (const Item& it : batch.items) {
    const std::span<const uint8_t> bytes(batch.bytes.data() + it.offset, it.length);
    switch (it.kind) {
      case Item::kDatagram:
        stats_.udp_wake_ns.record(static_cast<uint64_t>((now - it.posted).count()));
        trace_datagram("from", it.addr, bytes);
        ep.on_datagram(it.addr, bytes, now);
        break;
      case Item::kAccepted:
        ep.on_tcp_accepted(it.conn, static_cast<coap::ListenerKind>(it.extra), it.addr, it.addr2,
                           now);
        break;
      case Item::kConnected:
        ep.on_tcp_connected(it.conn, it.addr, now);
        break;
      case Item::kData:
        stats_.tcp_wake_ns.record(static_cast<uint64_t>((now - it.posted).count()));
        spdlog::trace("tcp {} received {}B", it.conn, bytes.size());
        ep.on_tcp_data(it.conn, bytes, now);
        break;
      case Item::kPeerClosed:
        ep.on_tcp_peer_closed(it.conn, now);
        break;
      case Item::kError:
        ep.on_tcp_error(it.conn, static_cast<coap::TcpError>(it.extra), now);
        break;
      case Item::kWritable:
        ep.on_tcp_writable(it.conn, now);
        break;
      case Item::kJob:
        batch.jobs[it.offset](ep, now);
        break;
      case Item::kStop:
        break;
    }
  }
}

void Engine::flush(TimePoint now) {
  if (commands_.empty()) return;
  ++stats_.flushes;
  // Frames lwIP sends for this batch are written after the lock is released.
  lwip_tap::Stack::open_batch(tx_);
  // No engine lock is held here: taking the core lock cannot invert.
  {
    lwip_tap::CoreLock lock;
    flushing_ = true;
    // The endpoint may add commands while they run (a write that empties a
    // closing session's queue makes it close): index, do not iterate.
    for (std::size_t i = 0; i < commands_.size(); ++i) {
      const Command c = commands_[i];
      switch (c.kind) {
        case Command::kDatagram: {
          const std::span<const uint8_t> bytes(command_bytes_.data() + c.offset, c.length);
          trace_datagram("to", c.addr, bytes);
          if (udp_ && !udp_->send(c.addr, bytes))
            spdlog::debug("udp: send to {} failed", c.addr.to_string());
          break;
        }
        case Command::kConnect:
          tcp_->connect(c.conn, c.addr);
          break;
        case Command::kWrite:
          for (;;) {
            const auto pending = endpoint_->tcp_pending(c.conn);
            if (pending.empty()) break;
            const std::size_t n = tcp_->write(c.conn, pending);
            if (n == 0) break;  // full: tcp_sent will report room
            written_.insert(c.conn);
            endpoint_->tcp_written(c.conn, n, now);
          }
          break;
        case Command::kConsumed:
          tcp_->recved(c.conn, c.length);
          break;
        case Command::kClose:
          tcp_->close(c.conn);
          break;
        case Command::kAbort:
          tcp_->abort(c.conn);
          break;
      }
    }
    // One tcp_output per connection per batch: pipelined answers leave in as
    // few segments as TCP allows.
    for (coap::ConnId conn : written_) tcp_->output(conn);
    flushing_ = false;
  }
  lwip_tap::Stack::close_batch();
  stack_.write_batch(tx_);
  for (const coap::Event& e : deferred_events_) hooks_.on_event(e);
  deferred_events_.clear();
  written_.clear();
  commands_.clear();
  command_bytes_.clear();
  if (command_bytes_.capacity() > kKeepInboxBytes) std::vector<uint8_t>().swap(command_bytes_);
  if (commands_.capacity() > kKeepInboxItems) std::vector<Command>().swap(commands_);
}

// --- coap::NetworkIo (engine thread) --------------------------------------------------

void Engine::send_datagram(const coap::Address& to, std::span<const uint8_t> bytes) {
  Command c{Command::kDatagram, 0, to, static_cast<uint32_t>(command_bytes_.size()),
            static_cast<uint32_t>(bytes.size())};
  command_bytes_.insert(command_bytes_.end(), bytes.begin(), bytes.end());
  commands_.push_back(c);
}

coap::ConnId Engine::tcp_connect(const coap::Address& to) {
  const coap::ConnId id = tcp_->allocate_id();
  commands_.push_back(Command{Command::kConnect, id, to});
  return id;
}

void Engine::tcp_want_write(coap::ConnId conn) {
  commands_.push_back(Command{Command::kWrite, conn});
}

void Engine::tcp_consumed(coap::ConnId conn, std::size_t n) {
  Command c{Command::kConsumed, conn};
  c.length = static_cast<uint32_t>(n);
  commands_.push_back(c);
}

void Engine::tcp_close(coap::ConnId conn) { commands_.push_back(Command{Command::kClose, conn}); }

void Engine::tcp_abort(coap::ConnId conn) { commands_.push_back(Command{Command::kAbort, conn}); }

// --- coap::EndpointListener (engine thread) -------------------------------------------

void Engine::on_event(const coap::Event& event) {
  if (!hooks_.on_event) return;
  // Under the core lock (a write or close in flush() ending a session) the
  // event waits: logging it could block on stdout while lwIP is held.
  if (flushing_) {
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
  done(std::move(result));
}

}  // namespace coapd
