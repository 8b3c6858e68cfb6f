// ObserveRegistry: registrations, limits, sequence numbers, and when a UDP
// notification must be Confirmable (RFC 7641 4.5).
#include "coap/observe_registry.h"

#include <gtest/gtest.h>

namespace coap {
namespace {

const TimePoint kT0 = TimePoint{} + seconds(100);

class StaticResource final : public Resource {
 public:
  explicit StaticResource(std::string path) : Resource(std::move(path), {}, true) {}
  bool allows(Code) const override { return true; }
  void handle(const Request&, Response&) override {}
};

class ObserveRegistryTest : public ::testing::Test {
 protected:
  Session& session(Proto proto) {
    Session& s = table.create(proto, Role::kServer, Address::v4(192, 0, 2, 9, 9), kT0);
    return s;
  }
  SessionTable table{1};
  ObserveRegistry reg;
  StaticResource r1{"/a"};
  StaticResource r2{"/b"};
};

TEST_F(ObserveRegistryTest, SameTokenReRegistersTheSameObservation) {
  Session& s = session(Proto::kUdp);
  Observation* o = reg.observe(s, r1, Token::from_u64(1, 2), kT0);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->sent, 1u);
  EXPECT_TRUE(o->udp);
  EXPECT_EQ(o->con_due, kT0 + ObserveRegistry::kConInterval);
  Observation* again = reg.observe(s, r2, Token::from_u64(1, 2), kT0 + seconds(1));
  EXPECT_EQ(again, o);
  EXPECT_EQ(o->resource, &r2);
  EXPECT_EQ(o->sent, 2u);
  EXPECT_EQ(reg.size(), 1u);
  EXPECT_EQ(s.observations, std::vector<uint64_t>{o->id});
  EXPECT_EQ(reg.of_resource(&r1), std::vector<uint64_t>{});
  EXPECT_EQ(reg.of_resource(&r2), std::vector<uint64_t>{o->id});
}

TEST_F(ObserveRegistryTest, PerSessionLimitDeclinesNewTokensOnly) {
  Session& s = session(Proto::kTcp);
  for (uint64_t i = 0; i < ObserveRegistry::kMaxPerSession; ++i)
    ASSERT_TRUE(reg.observe(s, r1, Token::from_u64(i, 8), kT0));
  EXPECT_FALSE(reg.observe(s, r1, Token::from_u64(999, 8), kT0));
  EXPECT_TRUE(reg.observe(s, r1, Token::from_u64(3, 8), kT0));  // known token: allowed
  EXPECT_EQ(reg.size(), ObserveRegistry::kMaxPerSession);
}

TEST_F(ObserveRegistryTest, RemoveReturnsTheCONInFlight) {
  Session& s = session(Proto::kUdp);
  Observation* o = reg.observe(s, r1, Token::from_u64(1, 1), kT0);
  o->pending_con = 44;
  const uint64_t id = o->id;
  EXPECT_EQ(reg.remove(id, &s), 44u);
  EXPECT_TRUE(s.observations.empty());
  EXPECT_EQ(reg.find(id), nullptr);
  EXPECT_EQ(reg.remove(id, &s), 0u);
}

TEST_F(ObserveRegistryTest, EveryTwentiethNotificationAndEveryDayIsConfirmable) {
  Session& s = session(Proto::kUdp);
  Observation* o = reg.observe(s, r1, Token::from_u64(1, 1), kT0);
  unsigned cons = 0;
  for (unsigned i = 0; i < 100; ++i) {
    ++o->sent;
    cons += ObserveRegistry::next_is_con(*o, kT0 + seconds(1));
  }
  EXPECT_EQ(cons, 5u);
  o->sent = 1;
  EXPECT_FALSE(ObserveRegistry::next_is_con(*o, o->con_due - seconds(1)));
  EXPECT_TRUE(ObserveRegistry::next_is_con(*o, o->con_due));
  o->pending_con = 1;  // one in flight already checks the observer
  EXPECT_FALSE(ObserveRegistry::next_is_con(*o, o->con_due));
}

TEST_F(ObserveRegistryTest, DueForCheckListsUdpObserversOnly) {
  Session& u = session(Proto::kUdp);
  Session& t = session(Proto::kTcp);
  Observation* ou = reg.observe(u, r1, Token::from_u64(1, 1), kT0);
  reg.observe(t, r1, Token::from_u64(2, 1), kT0);
  TimePoint next = kNever;
  EXPECT_TRUE(reg.due_for_check(kT0, &next).empty());
  EXPECT_EQ(next, ou->con_due);
  next = kNever;
  EXPECT_EQ(reg.due_for_check(ou->con_due, &next), std::vector<uint64_t>{ou->id});
  ou->pending_con = 9;
  EXPECT_TRUE(reg.due_for_check(ou->con_due, &next).empty());
}

TEST_F(ObserveRegistryTest, SequenceNumbersIncreaseAndWrapAt24Bits) {
  const uint32_t first = reg.next_sequence();
  EXPECT_EQ(reg.next_sequence(), first + 1);
  uint32_t last = 0;
  for (uint32_t i = 0; i < (1u << 24); ++i) last = reg.next_sequence();
  EXPECT_LT(last, 1u << 24);
  EXPECT_EQ(last, (first + 1 + (1u << 24)) & 0xffffff);
}

TEST_F(ObserveRegistryTest, TickingStartsOncePerIdlePeriod) {
  reg.add_ticking(&r1);
  auto i = reg.start_ticking(&r1);
  ASSERT_TRUE(i);
  EXPECT_EQ(reg.ticking(*i), &r1);
  EXPECT_FALSE(reg.start_ticking(&r1));  // already armed
  EXPECT_FALSE(reg.start_ticking(&r2));  // no notify interval
  reg.stop_ticking(*i);
  EXPECT_TRUE(reg.start_ticking(&r1));
  EXPECT_EQ(reg.ticking(99), nullptr);
}

}  // namespace
}  // namespace coap
