// Duplicate detection (RFC 7252 section 4.5): hits, expiry at exactly
// EXCHANGE_LIFETIME, eviction oldest first, and the open-addressing index
// checked against a simple model under random operations.
#include "coap/dedup_cache.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>

#include "test/coap/test_util.h"

namespace coap {
namespace {

const TimePoint kT0 = TimePoint{} + seconds(100);
const Address kPeerA = Address::v4(192, 0, 2, 1, 5683);
const Address kPeerB = Address::v4(192, 0, 2, 2, 5683);
const uint64_t kSecret = 0x5eed5eed5eed5eedull;

std::string lookup_response(DedupCache& c, const Address& p, uint16_t mid, TimePoint now) {
  std::span<const uint8_t> r;
  if (c.lookup(p, mid, now, &r) != DedupCache::Hit::kSeenWithResponse) return "<none>";
  return test::string_of(r);
}

TEST(DedupCacheTest, MissThenHitWithTheResponse) {
  DedupCache c(16, 100, seconds(247), kSecret);
  std::span<const uint8_t> r;
  EXPECT_EQ(c.lookup(kPeerA, 7, kT0, &r), DedupCache::Hit::kMiss);
  c.insert(kPeerA, 7, test::bytes_of("resp7"), kT0);
  EXPECT_EQ(c.size(), 1u);
  EXPECT_EQ(c.lookup(kPeerA, 7, kT0 + seconds(1), &r), DedupCache::Hit::kSeenWithResponse);
  EXPECT_EQ(test::string_of(r), "resp7");
  // The key is (peer, MID): another MID, another peer, another port all miss.
  EXPECT_EQ(c.lookup(kPeerA, 8, kT0, &r), DedupCache::Hit::kMiss);
  EXPECT_EQ(c.lookup(kPeerB, 7, kT0, &r), DedupCache::Hit::kMiss);
  Address other_port = kPeerA;
  other_port.port = 5684;
  EXPECT_EQ(c.lookup(other_port, 7, kT0, &r), DedupCache::Hit::kMiss);
  const Address v6 = *Address::parse_ip("2001:db8::1", 5683);
  EXPECT_EQ(c.lookup(v6, 7, kT0, &r), DedupCache::Hit::kMiss);
}

TEST(DedupCacheTest, OversizedResponseOnlyMarksSeen) {
  DedupCache c(16, 4, seconds(247), kSecret);
  c.insert(kPeerA, 1, test::bytes_of("12345"), kT0);
  c.insert(kPeerA, 2, test::bytes_of("1234"), kT0);
  std::span<const uint8_t> r;
  EXPECT_EQ(c.lookup(kPeerA, 1, kT0, &r), DedupCache::Hit::kSeen);
  EXPECT_EQ(c.lookup(kPeerA, 2, kT0, &r), DedupCache::Hit::kSeenWithResponse);
  EXPECT_EQ(test::string_of(r), "1234");
}

TEST(DedupCacheTest, ReinsertReplacesTheResponse) {
  DedupCache c(16, 100, seconds(247), kSecret);
  c.insert(kPeerA, 1, test::bytes_of("first"), kT0);
  c.insert(kPeerA, 1, test::bytes_of("second"), kT0 + seconds(1));
  EXPECT_EQ(c.size(), 1u);
  EXPECT_EQ(lookup_response(c, kPeerA, 1, kT0 + seconds(2)), "second");
}

TEST(DedupCacheTest, ExpiresAtExactlyTheLifetime) {
  const Duration life = seconds(247);
  DedupCache c(16, 100, life, kSecret);
  c.insert(kPeerA, 1, test::bytes_of("a"), kT0);
  c.insert(kPeerA, 2, test::bytes_of("b"), kT0 + seconds(10));
  EXPECT_EQ(c.next_expiry(), kT0 + life);
  std::span<const uint8_t> r;
  EXPECT_EQ(c.lookup(kPeerA, 1, kT0 + life - std::chrono::nanoseconds(1), &r),
            DedupCache::Hit::kSeenWithResponse);
  EXPECT_EQ(c.lookup(kPeerA, 1, kT0 + life, &r), DedupCache::Hit::kMiss);
  // expire() drops it and reports the next one.
  EXPECT_EQ(c.expire(kT0 + life), kT0 + seconds(10) + life);
  EXPECT_EQ(c.size(), 1u);
  EXPECT_EQ(c.expire(kT0 + seconds(10) + life), kNever);
  EXPECT_EQ(c.size(), 0u);
  EXPECT_EQ(c.next_expiry(), kNever);
  EXPECT_EQ(c.evicted_early(), 0u);
}

TEST(DedupCacheTest, FullCacheEvictsOldestFirst) {
  DedupCache c(4, 100, seconds(247), kSecret);
  EXPECT_EQ(c.capacity(), 4u);
  for (uint16_t mid = 1; mid <= 4; ++mid)
    c.insert(kPeerA, mid, test::bytes_of("r" + std::to_string(mid)), kT0 + seconds(mid));
  EXPECT_EQ(c.size(), 4u);
  c.insert(kPeerB, 9, test::bytes_of("r9"), kT0 + seconds(5));
  EXPECT_EQ(c.size(), 4u);
  EXPECT_EQ(c.evicted_early(), 1u);
  std::span<const uint8_t> r;
  EXPECT_EQ(c.lookup(kPeerA, 1, kT0 + seconds(6), &r), DedupCache::Hit::kMiss);
  for (uint16_t mid = 2; mid <= 4; ++mid)
    EXPECT_EQ(lookup_response(c, kPeerA, mid, kT0 + seconds(6)), "r" + std::to_string(mid));
  EXPECT_EQ(lookup_response(c, kPeerB, 9, kT0 + seconds(6)), "r9");
  c.insert(kPeerB, 10, {}, kT0 + seconds(6));
  EXPECT_EQ(c.lookup(kPeerA, 2, kT0 + seconds(6), &r), DedupCache::Hit::kMiss);
  EXPECT_EQ(c.evicted_early(), 2u);
  // Expired entries make room without counting as early evictions.
  c.insert(kPeerB, 11, {}, kT0 + seconds(4) + seconds(247));
  EXPECT_EQ(c.evicted_early(), 2u);
  EXPECT_EQ(c.size(), 3u);  // 3 and 4 expired, 9, 10, 11 remain
}

TEST(DedupCacheTest, CapacityOfZeroStillHoldsOne) {
  DedupCache c(0, 100, seconds(10), kSecret);
  EXPECT_EQ(c.capacity(), 1u);
  c.insert(kPeerA, 1, test::bytes_of("x"), kT0);
  c.insert(kPeerA, 2, test::bytes_of("y"), kT0);
  EXPECT_EQ(lookup_response(c, kPeerA, 2, kT0), "y");
  EXPECT_EQ(lookup_response(c, kPeerA, 1, kT0), "<none>");
}

// The model: entries in insertion order (the cache's eviction and expiry order).
struct Model {
  struct Entry {
    Address peer;
    uint16_t mid;
    TimePoint expires;
    std::string response;
  };
  std::deque<Entry> entries;
  std::size_t capacity;
  Duration life;
  std::size_t max_response;

  Entry* find(const Address& p, uint16_t mid) {
    for (Entry& e : entries)
      if (e.peer == p && e.mid == mid) return &e;
    return nullptr;
  }
  void expire(TimePoint now) {
    while (!entries.empty() && entries.front().expires <= now) entries.pop_front();
  }
  void insert(const Address& p, uint16_t mid, const std::string& resp, TimePoint now) {
    expire(now);
    if (Entry* e = find(p, mid)) {
      e->response = resp;
      return;
    }
    if (entries.size() == capacity) entries.pop_front();
    entries.push_back({p, mid, now + life, resp});
  }
  std::string lookup(const Address& p, uint16_t mid, TimePoint now) {
    Entry* e = find(p, mid);
    if (!e || e->expires <= now) return "<none>";
    return e->response.size() <= max_response ? e->response : "<seen>";
  }
};

std::string lookup_any(DedupCache& c, const Address& p, uint16_t mid, TimePoint now) {
  std::span<const uint8_t> r;
  switch (c.lookup(p, mid, now, &r)) {
    case DedupCache::Hit::kMiss: return "<none>";
    case DedupCache::Hit::kSeen: return "<seen>";
    case DedupCache::Hit::kSeenWithResponse: return test::string_of(r);
  }
  return "?";
}

void run_model(std::size_t capacity, std::size_t peers, std::size_t mids, int ops, uint32_t seed,
               uint64_t secret = kSecret) {
  const Duration life = seconds(50);
  DedupCache c(capacity, 12, life, secret);
  Model m{{}, capacity, life, 12};
  std::mt19937 rng(seed);
  std::vector<Address> peer_list;
  for (std::size_t i = 0; i < peers; ++i)
    peer_list.push_back(Address::v4(10, 0, static_cast<uint8_t>(i / 250),
                                    static_cast<uint8_t>(i % 250),
                                    static_cast<uint16_t>(5683 + i % 3)));
  TimePoint now = kT0;
  for (int op = 0; op < ops; ++op) {
    const Address& p = peer_list[rng() % peers];
    const uint16_t mid = static_cast<uint16_t>(rng() % mids);
    const unsigned what = rng() % 10;
    if (what < 5) {
      const std::string resp = test::pattern(rng() % 16, op);  // some too long to keep
      c.insert(p, mid, test::bytes_of(resp), now);
      m.insert(p, mid, resp, now);
    } else if (what < 9) {
      ASSERT_EQ(lookup_any(c, p, mid, now), m.lookup(p, mid, now)) << "op " << op;
    } else {
      now += milliseconds(rng() % 3000);
      c.expire(now);
      m.expire(now);
    }
    ASSERT_EQ(c.size(), m.entries.size()) << "op " << op;
    if (op % 97 == 0) {
      // Every key the model holds is found; the size matches.
      for (const auto& e : m.entries)
        ASSERT_EQ(lookup_any(c, e.peer, e.mid, now), m.lookup(e.peer, e.mid, now)) << "op " << op;
      ASSERT_EQ(c.next_expiry(), m.entries.empty() ? kNever : m.entries.front().expires);
    }
  }
  // Exhaustive final check over the whole key space.
  for (const Address& p : peer_list)
    for (uint16_t mid = 0; mid < mids; ++mid)
      ASSERT_EQ(lookup_any(c, p, mid, now), m.lookup(p, mid, now));
}

// A tiny table (8 entries, 16 slots) under constant churn: every insert evicts
// and every eviction runs the backward-shift deletion through long chains.
TEST(DedupCacheTest, RandomOperationsMatchModelSmallTable) { run_model(8, 5, 20, 20000, 1); }

TEST(DedupCacheTest, RandomOperationsMatchModelManyKeys) { run_model(300, 40, 50, 40000, 2); }

TEST(DedupCacheTest, RandomOperationsMatchModelSinglePeer) { run_model(33, 1, 200, 20000, 3); }

// The hash secret moves entries to other slots, and changes nothing else.
TEST(DedupCacheTest, RandomOperationsMatchModelWhateverTheSecret) {
  for (uint64_t secret : {uint64_t{0}, uint64_t{1}, uint64_t{0x9e3779b97f4a7c15}, ~uint64_t{0}}) {
    SCOPED_TRACE("secret " + std::to_string(secret));
    run_model(8, 5, 20, 5000, 4, secret);
    run_model(33, 1, 200, 5000, 5, secret);
  }
}

}  // namespace
}  // namespace coap
