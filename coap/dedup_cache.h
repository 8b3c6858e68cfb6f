// Duplicate detection for CoAP over UDP (RFC 7252 section 4.5): remembers
// (peer, Message ID) with the response that was sent, so that a retransmitted
// request is answered with the same response instead of being processed again.
//
// Memory is bounded: at most max_entries entries, each keeping at most
// max_response bytes. Entries expire after `lifetime` (EXCHANGE_LIFETIME) or,
// when the cache is full, oldest first. All storage is allocated up front and
// reused, so the request path does not touch the heap once warm.
//
// Slots are chosen with a keyed hash (Address::hash): the secret, random per
// endpoint, keeps a peer from sending Message IDs or using ports that pile
// up in one probe chain. Each slot keeps the hash with the entry index, so
// that probing and deletion (backward shift, at every insert once the cache
// is full) read the slot array alone and never hash an address again.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "coap/address.h"
#include "coap/time.h"

namespace coap {

class DedupCache {
 public:
  DedupCache(std::size_t max_entries, std::size_t max_response, Duration lifetime,
             uint64_t hash_secret);

  enum class Hit { kMiss, kSeen, kSeenWithResponse };
  // Looks (peer, mid) up. `space` keeps peers apart that share an address
  // but not a port of ours (CoAP and CoAP over DTLS). On kSeenWithResponse
  // *response views the cached bytes, valid until the next insert.
  Hit lookup(const Address& peer, uint16_t mid, TimePoint now, std::span<const uint8_t>* response,
             uint8_t space = 0);

  // Records (peer, mid). A response longer than max_response is not kept
  // (the entry then only marks the message as seen).
  void insert(const Address& peer, uint16_t mid, std::span<const uint8_t> response, TimePoint now,
              uint8_t space = 0);

  // Drops expired entries; returns the next expiry time (kNever when empty).
  TimePoint expire(TimePoint now);
  TimePoint next_expiry() const;

  std::size_t size() const { return count_; }
  std::size_t capacity() const { return ring_.size(); }
  uint64_t evicted_early() const { return evicted_early_; }

 private:
  struct Entry {
    Address peer;
    uint16_t mid = 0;
    uint8_t space = 0;
    bool has_response = false;
    uint32_t hash = 0;  // of (peer, mid, space): its home slot is hash & mask_
    TimePoint expires;
    std::vector<uint8_t> response;  // capacity kept across reuse
  };

  struct Slot {
    int32_t entry = -1;  // -1: empty
    uint32_t hash = 0;   // the entry's hash
  };

  uint32_t hash_of(const Address& peer, uint16_t mid, uint8_t space) const;
  // Entry index or -1.
  int32_t find(const Address& peer, uint16_t mid, uint8_t space, uint32_t hash) const;
  void index_insert(int32_t entry);
  void index_erase(int32_t entry);
  void pop_oldest();

  std::vector<Entry> ring_;
  std::size_t head_ = 0;  // oldest entry
  std::size_t count_ = 0;
  std::vector<Slot> slots_;  // open addressing, linear probing
  std::size_t mask_;
  std::size_t max_response_;
  Duration lifetime_;
  uint64_t hash_secret_;
  uint64_t evicted_early_ = 0;
};

}  // namespace coap
