#include "daemon/coapd/mailbox.h"

#include <sched.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace coapd {
namespace {

// A batch that grew past these gives its memory back when empty.
constexpr std::size_t kKeepBytes = 1 << 20;
constexpr std::size_t kKeepItems = 16384;

template <typename V>
void shrink_if_above(V& v, std::size_t keep) {
  if (v.capacity() > keep) V().swap(v);
}

}  // namespace

void Mailbox::Batch::clear() {
  items.clear();
  bytes.clear();
  jobs.clear();
}

void Mailbox::Batch::trim() {
  shrink_if_above(bytes, kKeepBytes);
  shrink_if_above(items, kKeepItems);
  shrink_if_above(jobs, kKeepItems);
}

void Mailbox::wake_if_waiting(bool wake) {
  if (wake) cv_.notify_one();
}

void Mailbox::post(const Item& item, const pbuf* p, bool droppable) {
  bool wake = false;
  {
    lwip_tap::MutexLock lock(mu_);
    if (droppable) {
      const std::size_t cost = sizeof(Item) + (p ? p->tot_len : 0);
      if (datagram_cost_ + cost > kMaxDatagramCost) {
        ++dropped_;
        return;
      }
      datagram_cost_ += cost;
    }
    Item it = item;
    it.posted = in_input_batch_ ? batch_time_ : coap::Clock::now();
    if (p) {
      it.offset = static_cast<uint32_t>(inbox_.bytes.size());
      it.length = p->tot_len;
      inbox_.bytes.resize(inbox_.bytes.size() + p->tot_len);
      pbuf_copy_partial(p, inbox_.bytes.data() + it.offset, p->tot_len, 0);
    }
    inbox_.items.push_back(it);
    posted_.store(true, std::memory_order_release);
    if (in_input_batch_) {
      wake_owed_ = true;  // woken once, by end_input_batch()
    } else {
      wake = waiting_;
    }
  }
  wake_if_waiting(wake);
}

void Mailbox::post_job(Job job) {
  bool wake = false;
  {
    lwip_tap::MutexLock lock(mu_);
    Item it{Item::kJob};
    it.offset = static_cast<uint32_t>(inbox_.jobs.size());
    it.posted = coap::Clock::now();
    inbox_.jobs.push_back(std::move(job));
    inbox_.items.push_back(it);
    posted_.store(true, std::memory_order_release);
    wake = waiting_ && !in_input_batch_;
    if (in_input_batch_) wake_owed_ = true;
  }
  wake_if_waiting(wake);
}

void Mailbox::post_stop() { post(Item{Item::kStop}, nullptr, false); }

void Mailbox::begin_input_batch(coap::TimePoint read_at) {
  lwip_tap::MutexLock lock(mu_);
  in_input_batch_ = true;
  batch_time_ = read_at;
}

void Mailbox::end_input_batch() {
  bool wake = false;
  {
    lwip_tap::MutexLock lock(mu_);
    in_input_batch_ = false;
    wake = wake_owed_ && waiting_;
    wake_owed_ = false;
  }
  wake_if_waiting(wake);
}

void Mailbox::take(coap::TimePoint deadline, bool look_first, coap::Duration spin, Batch* out) {
  if (look_first && spin > coap::Duration::zero()) {
    // Right after a pass with work more usually follows within microseconds:
    // look for it briefly before sleeping, which saves both sides a futex
    // call and a context switch. Yield while looking: a thread that has work
    // for this core (the io thread, a peer) gets it instead.
    const coap::TimePoint until = std::min(coap::Clock::now() + spin, deadline);
    while (!posted_.load(std::memory_order_acquire) && coap::Clock::now() < until) sched_yield();
  }
  lwip_tap::MutexLock lock(mu_);
  // The predicate is re-checked after every return, so a spurious or early
  // return from the wait never fires a timer early.
  while (inbox_.items.empty()) {
    if (coap::Clock::now() >= deadline) break;
    waiting_ = true;
    if (deadline == coap::kNever) {
      cv_.wait(mu_);
    } else {
      cv_.wait_until(mu_, deadline);
    }
    waiting_ = false;
  }
  std::swap(inbox_, *out);
  out->dropped_total = dropped_;
  datagram_cost_ = 0;
  wake_owed_ = false;
  posted_.store(false, std::memory_order_relaxed);
}

// --- lwip_tap::TransportSink (core lock held) ------------------------------------

void Mailbox::on_udp_datagram(coap::UdpSocket socket, const coap::Address& from, const pbuf* p,
                              bool to_group) {
  Item it{Item::kDatagram, static_cast<uint8_t>(socket)};
  it.to_group = to_group;
  it.addr = from;
  post(it, p, /*droppable=*/true);  // dropped, and counted, when the mailbox is full
}

void Mailbox::on_tcp_accepted(coap::ConnId conn, coap::ListenerKind kind, const coap::Address& peer,
                              const coap::Address& local) {
  post(Item{Item::kAccepted, static_cast<uint8_t>(kind), conn, peer, local}, nullptr, false);
}

void Mailbox::on_tcp_connected(coap::ConnId conn, const coap::Address& local) {
  post(Item{Item::kConnected, 0, conn, local}, nullptr, false);
}

void Mailbox::on_tcp_data(coap::ConnId conn, const pbuf* p) {
  post(Item{Item::kData, 0, conn}, p, false);
}

void Mailbox::on_tcp_peer_closed(coap::ConnId conn) {
  post(Item{Item::kPeerClosed, 0, conn}, nullptr, false);
}

void Mailbox::on_tcp_error(coap::ConnId conn, coap::TcpError error, err_t lwip_err) {
  spdlog::debug("tcp: connection {} error {}", conn, lwip_tap::err_name(lwip_err));
  post(Item{Item::kError, static_cast<uint8_t>(error), conn}, nullptr, false);
}

void Mailbox::on_tcp_writable(coap::ConnId conn) {
  post(Item{Item::kWritable, 0, conn}, nullptr, false);
}

}  // namespace coapd
