// ExchangeTable and the event names: client requests found by id and token.
#include "coap/exchange_table.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace coap {
namespace {

const TimePoint kT0 = TimePoint{} + seconds(100);

TEST(ExchangeTableTest, TokensAreEightBytesAndDistinct) {
  ExchangeTable table(7);
  std::set<std::string> tokens;
  for (RequestId id = 1; id <= 1000; ++id) {
    Exchange& x = table.add(id, ClientRequest{}, 3, kT0);
    EXPECT_EQ(x.token.len, 8);
    tokens.insert(x.token.hex());
  }
  EXPECT_EQ(tokens.size(), 1000u);
}

TEST(ExchangeTableTest, FoundByIdAndTokenUntilTaken) {
  ExchangeTable table(7);
  ClientRequest r;
  r.timeout = seconds(5);
  Exchange& x = table.add(10, r, 3, kT0);
  EXPECT_EQ(x.deadline, kT0 + seconds(5));
  EXPECT_EQ(x.session, 3u);
  EXPECT_EQ(table.find(10), &x);
  EXPECT_EQ(table.by_token(x.token), &x);
  Token shorter = x.token;
  shorter.len = 4;
  EXPECT_EQ(table.by_token(shorter), nullptr);
  const Token token = x.token;
  auto taken = table.take(10);
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->id, 10u);
  EXPECT_EQ(table.find(10), nullptr);
  EXPECT_EQ(table.by_token(token), nullptr);
  EXPECT_EQ(table.take(10), nullptr);
}

TEST(ExchangeTableTest, IdsAreSorted) {
  ExchangeTable table(1);
  for (RequestId id : {5, 1, 9, 3}) table.add(id, ClientRequest{}, 1, kT0);
  EXPECT_EQ(table.ids(), (std::vector<RequestId>{1, 3, 5, 9}));
}

TEST(EventNamesTest, EveryKindHasItsDocumentedName) {
  EXPECT_STREQ(event_name(EventKind::kServerSessionNew), "server_session_new");
  EXPECT_STREQ(event_name(EventKind::kTcpFailed), "tcp_failed");
  EXPECT_STREQ(event_name(EventKind::kReconnectNoMore), "reconnect_no_more");
  EXPECT_STREQ(event_name(EventKind::kBadPacket), "bad_packet");
  EXPECT_STREQ(event_name(EventKind::kObserveReregistered), "observe_reregistered");
  std::set<std::string> names;
  for (int k = 0; k <= static_cast<int>(EventKind::kObserveReregistered); ++k)
    names.insert(event_name(static_cast<EventKind>(k)));
  EXPECT_EQ(names.size(), static_cast<std::size_t>(EventKind::kObserveReregistered) + 1);
}

}  // namespace
}  // namespace coap
