// The harness's invariant checks (the list is in endpoint_harness.h).
#include <algorithm>

#include "test/fuzz/endpoint_harness.h"

namespace coap::fuzz {
namespace {

// Per-session and total observation limits of endpoint_observe.cc.
constexpr std::size_t kMaxObservationsPerSession = 64;
constexpr std::size_t kMaxObservations = 4096;

int peer_index(const Address& a) {
  for (int i = 0; i < kPeers; ++i)
    if (peer_address(i) == a) return i;
  return -1;
}

unsigned long long ull(uint64_t v) { return v; }

}  // namespace

void Harness::begin() {
  // Sessions that hold observations or requests of ours are never evicted;
  // the UDP session bound below allows for the most there have been.
  pinned_peak_ = std::max(pinned_peak_, ep_->observation_count() + ep_->exchange_count());
}

void Harness::check() {
  check_datagrams();
  track_udp_sessions();
  check_conns();
  check_bounds();
  check_counters();
}

void Harness::check_datagrams() {
  for (const FuzzNet::Datagram& d : net_.datagrams) {
    const int peer = peer_index(d.to);
    FUZZ_CHECK(peer >= 0, "datagram to %s, which is no peer", d.to.to_string().c_str());
    FUZZ_CHECK(!d.bytes.empty(), "empty datagram sent to peer %d", peer);
    Message m;
    const ParseError e = parse_udp(d.bytes, m);
    FUZZ_CHECK(e == ParseError::kNone, "malformed datagram sent to peer %d (%s): %s", peer,
               parse_error_name(e), hex(d.bytes).c_str());
    FUZZ_TRACE("  -> peer %d: %s", peer, describe(m).c_str());
    if (m.type == Type::kCon || m.type == Type::kNon) check_originated(peer, m, d.bytes);
    auto& recent = recent_[peer];
    recent.push_back(d.bytes);
    if (recent.size() > 8) recent.pop_front();
  }
  net_.datagrams.clear();
}

// RFC 7252 4.4: "The same Message ID MUST NOT be reused (in the
// communication with the same endpoint) within the EXCHANGE_LIFETIME".
void Harness::check_originated(int peer, const Message& m, std::span<const uint8_t> bytes) {
  uint64_t digest = 1469598103934665603ull;  // FNV-1a: the bytes need not be kept
  for (uint8_t b : bytes) digest = (digest ^ b) * 1099511628211ull;
  auto [it, fresh] = mids_.try_emplace(uint32_t(peer) << 16 | m.mid);
  if (!fresh && now_ < it->second.first + lifetime_) {
    FUZZ_CHECK(it->second.digest == digest,
               "Message ID %u reused towards peer %d after %.3f s (EXCHANGE_LIFETIME %.0f s) "
               "for another message: %s",
               m.mid, peer, to_seconds(now_ - it->second.first), to_seconds(lifetime_),
               hex(bytes).c_str());
    return;  // a retransmission
  }
  it->second = {now_, digest};
  if (mids_.size() > mids_prune_at_) {  // amortised: at most once per doubling
    std::erase_if(mids_, [&](const auto& e) { return e.second.first + lifetime_ <= now_; });
    mids_prune_at_ = std::max<std::size_t>(8192, 2 * mids_.size());
  }
}

// RFC 7252 4.5: a duplicate of a request within EXCHANGE_LIFETIME is not
// processed again; a CON gets the response the first one got. The model
// follows the cache entry of each (peer, MID) while it can be sure of it:
// the first request with a MID makes the entry; it outlives
// dedup_entries - 1 more datagrams at least; a CON response may or may not
// make one, so such a MID is no longer followed ("tainted").
void Harness::check_duplicate(int peer, const Message& in, uint64_t duplicates_before) {
  const auto key = std::make_pair(peer, in.mid);
  const bool request = in.code.is_request() && (in.type == Type::kCon || in.type == Type::kNon);
  const bool con_response = in.type == Type::kCon && in.code.is_response();
  if ((!request && !con_response) || dedup_tainted_.count(key)) return;
  const uint64_t index = datagrams_in_ - 1;  // datagrams received before this one
  auto it = dedup_.find(key);
  if (it != dedup_.end() && now_ >= it->second.first + lifetime_) {
    dedup_.erase(it);
    it = dedup_.end();
  }
  if (con_response || (it != dedup_.end() &&
                       (!it->second.known || index - it->second.index >= config_.dedup_entries))) {
    dedup_tainted_.insert(key);
    return;
  }
  std::vector<const FuzzNet::Datagram*> acks;
  for (const FuzzNet::Datagram& d : net_.datagrams) {
    Message m;
    if (d.to == peer_address(peer) && parse_udp(d.bytes, m) == ParseError::kNone &&
        m.type == Type::kAck && m.mid == in.mid)
      acks.push_back(&d);
  }
  const bool fresh = it == dedup_.end() || it->second.bytes.size() > config_.dedup_max_response;
  const uint64_t duplicates = ep_->counters().duplicates - duplicates_before;
  FUZZ_CHECK(duplicates == (fresh ? 0u : 1u),
             "request MID %u from peer %d counted as %llu duplicates, the cache %s it", in.mid,
             peer, ull(duplicates), fresh ? "did not hold" : "held");
  if (fresh) {  // processed, and answered (a CON with one ACK); the entry keeps its age
    if (it == dedup_.end()) it = dedup_.emplace(key, DedupRecord{now_, index}).first;
    it->second.known = in.type == Type::kCon;
    if (in.type == Type::kNon) return;
    FUZZ_CHECK(acks.size() == 1, "CON request MID %u from peer %d answered with %zu ACKs", in.mid,
               peer, acks.size());
    it->second.bytes = acks[0]->bytes;
    return;
  }
  const DedupRecord& r = it->second;
  if (in.type == Type::kNon) {
    FUZZ_CHECK(net_.datagrams.empty(), "duplicate NON MID %u from peer %d was answered", in.mid,
               peer);
    return;
  }
  FUZZ_CHECK(net_.datagrams.size() == 1 && net_.datagrams[0].bytes == r.bytes,
             "duplicate CON MID %u from peer %d after %.3f s: sent %zu datagrams (%s), the "
             "first got %s",
             in.mid, peer, to_seconds(now_ - r.first), net_.datagrams.size(),
             net_.datagrams.empty() ? "-" : hex(net_.datagrams[0].bytes).c_str(),
             hex(r.bytes).c_str());
}

void Harness::track_udp_sessions() {
  std::array<SessionId, kPeers> now_sessions{};
  for (const SessionInfo& s : ep_->sessions(now_)) {
    if (s.proto != Proto::kUdp) continue;
    const int p = peer_index(s.peer);
    FUZZ_CHECK(p >= 0, "UDP session with %s, which is no peer", s.peer.to_string().c_str());
    now_sessions[p] = s.id;
  }
  for (int p = 0; p < kPeers; ++p) {
    const bool lost = udp_session_[p] != 0 && now_sessions[p] != udp_session_[p];
    if (lost && !in_timer_)
      std::erase_if(mids_, [p](const auto& e) { return e.first >> 16 == uint32_t(p); });
  }
  udp_session_ = now_sessions;
}

void Harness::on_written_frame(Conn& c, const Message& m) {
  FUZZ_TRACE("  -> conn %llu: %s", ull(c.id), describe(m).c_str());
  if (c.frames++ == 0)
    FUZZ_CHECK(m.code == codes::kCsm, "first frame on connection %llu is %s, not a CSM", ull(c.id),
               m.code.str().c_str());
  c.recent.push_back(own(m));
  if (c.recent.size() > 8) c.recent.pop_front();
}

void Harness::check_conns() {
  for (auto& [conn_id, c] : net_.conns) {
    const ConnId id = conn_id;
    const std::span<const uint8_t> pending = ep_->tcp_pending(id);
    if (c.ended) {
      FUZZ_CHECK(pending.empty(), "%zu bytes queued on connection %llu after it was %s",
                 pending.size(), ull(id), c.end_reason);
      continue;
    }
    FUZZ_CHECK(c.consumed == c.fed, "connection %llu: %zu bytes received, %zu reported consumed",
               ull(id), c.fed, c.consumed);
    if (pending.empty()) {
      c.write_requested = false;
      c.forget_checked();
      continue;
    }
    FUZZ_CHECK(c.connected, "bytes queued on connection %llu before it is up", ull(id));
    FUZZ_CHECK(c.write_requested, "%zu bytes queued on connection %llu without tcp_want_write",
               pending.size(), ull(id));
    check_pending(c, pending);
  }
}

// The queued bytes must decode as whole frames after those written. Only
// what was queued since the last check is decoded, unless the queue
// changed otherwise (a frame put ahead of others, frames dropped): a slow
// reader's queue is not decoded again at every step.
void Harness::check_pending(Conn& c, std::span<const uint8_t> pending) {
  std::span<const uint8_t> fresh = pending;
  if (pending.size() >= c.checked.size() &&
      std::equal(c.checked.begin(), c.checked.end(), pending.begin())) {
    fresh = pending.subspan(c.checked.size());
  } else {
    c.forget_checked();
  }
  const FrameError e = c.after_checked.feed(fresh, [&](const Message& m, std::size_t size) {
    if (c.frames_checked++ == 0)
      FUZZ_CHECK(m.code == codes::kCsm, "first frame queued on connection %llu is %s", ull(c.id),
                 m.code.str().c_str());
    // RFC 8323 5.3.1: the peer's Max-Message-Size bounds what it is sent.
    FUZZ_CHECK(c.mms_unknown || size <= c.peer_mms,
               "%zu-byte %s frame queued on connection %llu, whose peer takes %zu at most", size,
               m.code.str().c_str(), ull(c.id), c.peer_mms);
    return true;
  });
  FUZZ_CHECK(e == FrameError::kNone && c.after_checked.buffered() == 0,
             "bytes queued on connection %llu do not decode (error %d, %zu bytes over)", ull(c.id),
             static_cast<int>(e), c.after_checked.buffered());
  c.checked.insert(c.checked.end(), fresh.begin(), fresh.end());
}

void Harness::check_bounds() {
  FUZZ_CHECK(ep_->exchange_count() == listener_.outstanding.size(),
             "%zu exchanges for %zu outstanding requests", ep_->exchange_count(),
             listener_.outstanding.size());
  FUZZ_CHECK(ep_->dedup_entries() <= config_.dedup_entries,
             "%zu duplicate-cache entries, limit %zu", ep_->dedup_entries(), config_.dedup_entries);
  FUZZ_CHECK(ep_->observation_count() <= kMaxObservations, "%zu observations",
             ep_->observation_count());
  const std::vector<SessionInfo> all = ep_->sessions(now_);
  std::size_t udp = 0, accepted = 0, live_accepted = 0;
  for (const SessionInfo& s : all) {
    udp += s.proto == Proto::kUdp;
    accepted += s.proto == Proto::kTcp && !s.outgoing;
    FUZZ_CHECK(s.observers <= kMaxObservationsPerSession, "session %llu has %zu observations",
               ull(s.id), s.observers);
  }
  for (const auto& [id, c] : net_.conns) live_accepted += !c.outgoing && !c.ended;
  const std::size_t udp_limit = std::max<std::size_t>(config_.max_udp_sessions, pinned_peak_ + 1);
  FUZZ_CHECK(udp <= udp_limit, "%zu UDP sessions, limit %zu (%zu at most pinned)", udp,
             config_.max_udp_sessions, pinned_peak_);
  FUZZ_CHECK(accepted <= config_.max_tcp_sessions, "%zu accepted TCP sessions, limit %zu", accepted,
             config_.max_tcp_sessions);
  FUZZ_CHECK(ep_->session_count() - all.size() <= live_accepted,
             "%zu rejected sessions outlive their connections", ep_->session_count() - all.size());
}

void Harness::check_counters() {
  const EndpointCounters& k = ep_->counters();
  FUZZ_CHECK(k.datagrams_out == net_.datagrams_total, "datagrams_out %llu, %llu datagrams sent",
             ull(k.datagrams_out), ull(net_.datagrams_total));
  FUZZ_CHECK(k.datagrams_in == datagrams_in_, "datagrams_in %llu, %llu datagrams received",
             ull(k.datagrams_in), ull(datagrams_in_));
  FUZZ_CHECK(k.tcp_accepted == accepts_, "tcp_accepted %llu, %llu accepted", ull(k.tcp_accepted),
             ull(accepts_));
  FUZZ_CHECK(k.tcp_rejected <= k.tcp_accepted, "tcp_rejected %llu of %llu accepted",
             ull(k.tcp_rejected), ull(k.tcp_accepted));
  FUZZ_CHECK(k.client_requests == requests_, "client_requests %llu, %llu started",
             ull(k.client_requests), ull(requests_));
}

}  // namespace coap::fuzz
