// SessionTable: the indexes by id, connection and UDP peer, retirement.
#include <gtest/gtest.h>

#include "coap/session.h"

namespace coap {
namespace {

const TimePoint kT0 = TimePoint{} + seconds(100);
const Address kA = Address::v4(192, 0, 2, 10, 1000);
const Address kB = Address::v4(192, 0, 2, 11, 1000);
const Duration kLifetime = seconds(247);  // EXCHANGE_LIFETIME for the defaults

class SessionTableTest : public ::testing::Test {
 protected:
  Session& udp(const Address& peer, TimePoint at) {
    Session& s = table.create(Proto::kUdp, Role::kServer, peer, at);
    s.udp.emplace();
    table.bind_udp(s);
    return s;
  }
  Session& tcp(ConnId conn) {
    Session& s = table.create(Proto::kTcp, Role::kServer, kA, kT0);
    s.tcp = std::make_unique<TcpConnectionPart>(1152);
    table.bind_conn(s, conn);
    return s;
  }
  SessionTable table{12345};
};

TEST_F(SessionTableTest, IdsAreIncreasingAndFoundByEveryIndex) {
  Session& a = udp(kA, kT0);
  Session& t = tcp(77);
  EXPECT_LT(a.id, t.id);
  EXPECT_EQ(table.find(a.id), &a);
  EXPECT_EQ(table.by_udp_peer(kA), &a);
  EXPECT_EQ(table.by_udp_peer(kB), nullptr);
  EXPECT_EQ(table.by_conn(77), &t);
  EXPECT_EQ(table.ids(), (std::vector<SessionId>{a.id, t.id}));
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.udp_count(), 1u);
  EXPECT_EQ(table.tcp_count(), 1u);
}

TEST_F(SessionTableTest, UnbindForgetsTheConnectionOnly) {
  Session& t = tcp(5);
  table.unbind_conn(t);
  EXPECT_EQ(t.conn(), 0u);
  EXPECT_FALSE(t.connected());
  EXPECT_EQ(table.by_conn(5), nullptr);
  EXPECT_EQ(table.find(t.id), &t);
  table.bind_conn(t, 6);  // the next connection of the session
  EXPECT_EQ(table.by_conn(6), &t);
}

TEST_F(SessionTableTest, RetiredSessionsStayValidUntilReap) {
  Session& t = tcp(5);
  const SessionId id = t.id;
  table.retire(t);
  EXPECT_EQ(table.find(id), nullptr);
  EXPECT_EQ(table.by_conn(5), nullptr);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(t.id, id);  // still readable: it is in the graveyard
  table.reap();
}

TEST_F(SessionTableTest, RejectedSessionsDoNotCountAgainstTheTcpLimit) {
  tcp(1);
  tcp(2).rejected = true;
  EXPECT_EQ(table.tcp_count(), 1u);
}

TEST_F(SessionTableTest, QuietestUdpSkipsBusySessions) {
  Session& old = udp(kA, kT0);
  Session& newer = udp(kB, kT0 + seconds(5));
  EXPECT_EQ(table.quietest_udp(), &old);
  old.observations.push_back(1);
  EXPECT_EQ(table.quietest_udp(), &newer);
  newer.exchanges.push_back(1);
  EXPECT_EQ(table.quietest_udp(), nullptr);
}

TEST_F(SessionTableTest, ExpiredUdpReportsTheNextExpiry) {
  Session& a = udp(kA, kT0);
  udp(kB, kT0 + seconds(10));
  TimePoint next = kNever;
  auto expired = table.expired_udp(kT0 + seconds(30), seconds(30), kLifetime, &next);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0], &a);
  EXPECT_EQ(next, kT0 + seconds(40));
  a.exchanges.push_back(3);  // busy: never expires
  next = kNever;
  EXPECT_TRUE(table.expired_udp(kT0 + seconds(35), seconds(30), kLifetime, &next).empty());
}

// RFC 7252 4.4: a quiet peer is kept while a Message ID coapd sent it is
// live, and the walk goes on past it to the next one.
TEST_F(SessionTableTest, ExpiredUdpKeepsASessionWhileItsMessageIdsAreLive) {
  Session& a = udp(kA, kT0);
  Session& b = udp(kB, kT0 + seconds(1));
  a.udp->mid_block_used[a.udp->next_mid >> 12] = kT0 + seconds(20);
  ++a.udp->next_mid;
  TimePoint next = kNever;
  auto expired = table.expired_udp(kT0 + seconds(40), seconds(30), kLifetime, &next);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0], &b);
  EXPECT_EQ(next, kT0 + seconds(20) + kLifetime);
  next = kNever;
  expired = table.expired_udp(kT0 + seconds(20) + kLifetime, seconds(30), kLifetime, &next);
  ASSERT_EQ(expired.size(), 2u);
  EXPECT_EQ(expired[0], &a);
}

TEST_F(SessionTableTest, TouchingASessionMakesItTheLastToGo) {
  Session& a = udp(kA, kT0);
  Session& b = udp(kB, kT0 + seconds(1));
  const Address kC = Address::v4(192, 0, 2, 12, 1000);
  Session& c = udp(kC, kT0 + seconds(2));
  EXPECT_EQ(table.quietest_udp(), &a);
  table.touch(a, kT0 + seconds(3));
  EXPECT_EQ(table.quietest_udp(), &b);
  table.retire(b);
  EXPECT_EQ(table.quietest_udp(), &c);
  // Expiry follows the same order: c went quiet at 2 s, a at 3 s.
  TimePoint next = kNever;
  auto expired = table.expired_udp(kT0 + seconds(32), seconds(30), kLifetime, &next);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0], &c);
  EXPECT_EQ(next, kT0 + seconds(33));
  table.reap();
}

TEST_F(SessionTableTest, ADtlsSessionIsNeitherEvictedNorInThePlainOrder) {
  Session& d = table.create(Proto::kUdp, Role::kServer, kA, kT0);
  d.udp.emplace();
  d.udp->socket = UdpSocket::kSecure;
  table.bind_udp(d);
  EXPECT_EQ(table.quietest_udp(), nullptr);  // only plain peers are forgotten to make room
  table.touch(d, kT0 + seconds(1));
  EXPECT_EQ(table.by_udp_peer(kA, UdpSocket::kSecure), &d);
  TimePoint next = kNever;
  EXPECT_EQ(table.expired_udp(kT0 + seconds(40), seconds(30), kLifetime, &next).size(), 1u);
}

}  // namespace
}  // namespace coap
