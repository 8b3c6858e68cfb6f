#include "coap/dedup_cache.h"

#include <algorithm>
#include <bit>
#include <cassert>

namespace coap {

DedupCache::DedupCache(std::size_t max_entries, std::size_t max_response, Duration lifetime,
                       uint64_t hash_secret)
    : ring_(std::max<std::size_t>(max_entries, 1)),
      slots_(std::bit_ceil(2 * ring_.size())),
      mask_(slots_.size() - 1),
      max_response_(max_response),
      lifetime_(lifetime),
      hash_secret_(hash_secret) {}

uint32_t DedupCache::hash_of(const Address& peer, uint16_t mid, uint8_t space) const {
  // The MID goes in with the secret: for one address the hash is a
  // bijection of that argument, so two MIDs of one peer never share a full
  // hash value.
  return static_cast<uint32_t>(peer.hash(hash_secret_ ^ mid ^ (uint64_t{space} << 16)));
}

int32_t DedupCache::find(const Address& peer, uint16_t mid, uint8_t space, uint32_t hash) const {
  for (std::size_t s = hash & mask_;; s = (s + 1) & mask_) {
    const Slot& slot = slots_[s];
    if (slot.entry < 0) return -1;
    if (slot.hash != hash) continue;  // most of a probe chain: no entry read
    const Entry& en = ring_[slot.entry];
    if (en.mid == mid && en.space == space && en.peer == peer) return slot.entry;
  }
}

void DedupCache::index_insert(int32_t entry) {
  const uint32_t hash = ring_[entry].hash;
  std::size_t s = hash & mask_;
  while (slots_[s].entry >= 0) s = (s + 1) & mask_;
  slots_[s] = {entry, hash};
}

void DedupCache::index_erase(int32_t entry) {
  std::size_t s = ring_[entry].hash & mask_;
  while (slots_[s].entry != entry) s = (s + 1) & mask_;
  // Backward-shift deletion keeps every probe chain unbroken without tombstones.
  std::size_t hole = s;
  for (std::size_t j = (s + 1) & mask_; slots_[j].entry >= 0; j = (j + 1) & mask_) {
    const std::size_t home = slots_[j].hash & mask_;
    // Move the entry at j into the hole if its home is not in (hole, j] cyclically.
    const bool home_in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!home_in_range) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = Slot{};
}

void DedupCache::pop_oldest() {
  assert(count_ > 0);
  index_erase(static_cast<int32_t>(head_));
  head_ = (head_ + 1) % ring_.size();
  --count_;
}

DedupCache::Hit DedupCache::lookup(const Address& peer, uint16_t mid, TimePoint now,
                                   std::span<const uint8_t>* response, uint8_t space) {
  const int32_t e = find(peer, mid, space, hash_of(peer, mid, space));
  if (e < 0 || ring_[e].expires <= now) return Hit::kMiss;
  if (!ring_[e].has_response) return Hit::kSeen;
  if (response) *response = ring_[e].response;
  return Hit::kSeenWithResponse;
}

void DedupCache::insert(const Address& peer, uint16_t mid, std::span<const uint8_t> response,
                        TimePoint now, uint8_t space) {
  expire(now);
  const uint32_t hash = hash_of(peer, mid, space);
  if (int32_t e = find(peer, mid, space, hash);
      e >= 0) {  // an expired-but-present twin cannot exist now
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
  en.hash = hash;
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
