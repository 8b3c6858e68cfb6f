#include "coap/dedup_cache.h"

#include <algorithm>
#include <bit>
#include <cassert>

namespace coap {

DedupCache::DedupCache(std::size_t max_entries, std::size_t max_response, Duration lifetime,
                       uint64_t hash_secret)
    : ring_(std::max<std::size_t>(max_entries, 1)),
      slots_(std::bit_ceil(2 * ring_.size()), -1),
      mask_(slots_.size() - 1),
      max_response_(max_response),
      lifetime_(lifetime),
      hash_secret_(hash_secret) {}

std::size_t DedupCache::slot_for(const Address& peer, uint16_t mid, uint8_t space) const {
  // The MID goes in with the secret: for one address the hash is a
  // bijection of that argument, so two MIDs of one peer never share a full
  // hash value.
  return peer.hash(hash_secret_ ^ mid ^ (uint64_t{space} << 16)) & mask_;
}

int32_t DedupCache::find(const Address& peer, uint16_t mid, uint8_t space) const {
  for (std::size_t s = slot_for(peer, mid, space);; s = (s + 1) & mask_) {
    const int32_t e = slots_[s];
    if (e < 0) return -1;
    if (ring_[e].mid == mid && ring_[e].space == space && ring_[e].peer == peer) return e;
  }
}

void DedupCache::index_insert(int32_t entry) {
  std::size_t s = slot_for(ring_[entry].peer, ring_[entry].mid, ring_[entry].space);
  while (slots_[s] >= 0) s = (s + 1) & mask_;
  slots_[s] = entry;
}

void DedupCache::index_erase(int32_t entry) {
  std::size_t s = slot_for(ring_[entry].peer, ring_[entry].mid, ring_[entry].space);
  while (slots_[s] != entry) s = (s + 1) & mask_;
  // Backward-shift deletion keeps every probe chain unbroken without tombstones.
  std::size_t hole = s;
  for (std::size_t j = (s + 1) & mask_; slots_[j] >= 0; j = (j + 1) & mask_) {
    const int32_t e = slots_[j];
    const std::size_t home = slot_for(ring_[e].peer, ring_[e].mid, ring_[e].space);
    // Move e into the hole if its home is not in (hole, j] cyclically.
    const bool home_in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!home_in_range) {
      slots_[hole] = e;
      hole = j;
    }
  }
  slots_[hole] = -1;
}

void DedupCache::pop_oldest() {
  assert(count_ > 0);
  index_erase(static_cast<int32_t>(head_));
  head_ = (head_ + 1) % ring_.size();
  --count_;
}

DedupCache::Hit DedupCache::lookup(const Address& peer, uint16_t mid, TimePoint now,
                                   std::span<const uint8_t>* response, uint8_t space) {
  const int32_t e = find(peer, mid, space);
  if (e < 0 || ring_[e].expires <= now) return Hit::kMiss;
  if (!ring_[e].has_response) return Hit::kSeen;
  if (response) *response = ring_[e].response;
  return Hit::kSeenWithResponse;
}

void DedupCache::insert(const Address& peer, uint16_t mid, std::span<const uint8_t> response,
                        TimePoint now, uint8_t space) {
  expire(now);
  if (int32_t e = find(peer, mid, space); e >= 0) {  // an expired-but-present twin cannot exist now
    ring_[e].has_response = response.size() <= max_response_;
    if (ring_[e].has_response) ring_[e].response.assign(response.begin(), response.end());
    return;
  }
  if (count_ == ring_.size()) {
    pop_oldest();
    ++evicted_early_;
  }
  const std::size_t idx = (head_ + count_) % ring_.size();
  Entry& en = ring_[idx];
  en.peer = peer;
  en.mid = mid;
  en.space = space;
  en.expires = now + lifetime_;
  en.has_response = response.size() <= max_response_;
  if (en.has_response) en.response.assign(response.begin(), response.end());
  ++count_;
  index_insert(static_cast<int32_t>(idx));
}

TimePoint DedupCache::expire(TimePoint now) {
  while (count_ > 0 && ring_[head_].expires <= now) pop_oldest();
  return next_expiry();
}

TimePoint DedupCache::next_expiry() const { return count_ ? ring_[head_].expires : kNever; }

}  // namespace coap
