// Every control message survives encode, JSON text and decode unchanged, and
// a field of the wrong type is refused with a sentence naming it.
#include "daemon/control/messages.h"

#include <gtest/gtest.h>

#include "daemon/control/messages_discover.h"
#include "daemon/control/messages_observe.h"

namespace control {
namespace {

template <typename T>
T round_trip(const T& value) {
  const std::string text = value.encode().dump();
  Result<T> back = T::decode(nlohmann::json::parse(text));
  EXPECT_TRUE(back.ok()) << text << ": " << (back.ok() ? "" : back.error());
  return back.ok() ? *back : T{};
}

Snapshot sample_snapshot() {
  return {"1.2.3", 42, 12.5, 3, {{"tcp_active", 1}, {"udp", 2}}, {{"requests", 9}}, 4, 5};
}

TEST(Messages, StatusRoundTrips) {
  StatusResult s;
  s.snapshot = sample_snapshot();
  s.tap = "coap0";
  s.mac = "02:00:00:00:00:01";
  s.addresses = {{"192.0.2.2/24", "preferred"}, {"fe80::1%coap0/64", "tentative"}};
  s.host_address = "198.51.100.1/24";
  s.address_note = "192.0.2.0/24 is taken (overlaps 192.0.2.2/24 on eth0); using 198.51.100.0/24";
  s.udp_port = 5683;
  s.tcp_port = 5683;
  s.call_home_port = 5700;
  s.control_socket = "/run/coapd/coapd.sock";
  s.engine_alive = true;
  s.engine_wakeups = 77;
  EXPECT_EQ(round_trip(s), s);
}

TEST(Messages, RuntimeControlRoundTrips) {
  EXPECT_EQ(round_trip(LogLevelArgs{"debug"}), LogLevelArgs{"debug"});
  EXPECT_EQ(round_trip(LogLevelResult{"debug", "info"}), (LogLevelResult{"debug", "info"}));
  ReloadResult r{"warn", {"coap+tcp://192.0.2.1"}, {"coap+tcp://192.0.2.9:5684"}, {"tap", "mac"}};
  EXPECT_EQ(round_trip(r), r);
  EXPECT_FALSE(LogLevelArgs::decode(nlohmann::json::object()));
  EXPECT_FALSE(ReloadResult::decode({{"restart_needed", {1, 2}}}));
  r.resources_added = {"/a"};
  r.resources_removed = {"/b", "/c"};
  r.resources_changed = {"/d"};
  EXPECT_EQ(round_trip(r), r);
}

TEST(Messages, DiscoverRoundTrips) {
  EXPECT_EQ(round_trip(DiscoverArgs{"ff02::fd", 2.5}), (DiscoverArgs{"ff02::fd", 2.5}));
  EXPECT_EQ(DiscoverArgs::decode(nlohmann::json::object())->group, "224.0.1.187");
  EXPECT_FALSE(DiscoverArgs::decode({{"wait", -1}}));
  DiscoverResult r;
  r.nodes = {{"192.0.2.1:5683", "</time>;ct=0"}, {"[fe80::1%2]:5683", ""}};
  EXPECT_EQ(round_trip(r), r);
  EXPECT_FALSE(DiscoverResult::decode({{"nodes", {{{"address", 1}}}}}));
}

TEST(Messages, CaptureRoundTripsAndChecksItsArguments) {
  const CaptureArgs a{"/tmp/x.pcap", 10, 2.5, "coap"};
  EXPECT_EQ(round_trip(a), a);
  const CaptureResult res{"/tmp/x.pcap", 10, 1200, 3, 1.5, "count"};
  EXPECT_EQ(round_trip(res), res);
  auto relative = CaptureArgs::decode({{"file", "x.pcap"}});
  ASSERT_FALSE(relative);
  EXPECT_NE(relative.error().find("absolute"), std::string::npos);
  auto filter = CaptureArgs::decode({{"file", "/x"}, {"filter", "icmp"}});
  ASSERT_FALSE(filter);
  EXPECT_NE(filter.error().find("'icmp'"), std::string::npos);
  EXPECT_FALSE(CaptureArgs::decode({{"file", "/x"}, {"count", -1}}));
  EXPECT_EQ(CaptureArgs::decode({{"file", "/x"}})->filter, "all");
}

TEST(Messages, StatsRoundTrip) {
  StatsResult s;
  s.snapshot = sample_snapshot();
  s.engine = {1, 2, 3, 4, 5, 7, "shared", 6, {10, 1.5, 2.5, 3.5}, {11, 0.5, 0.75, 9}};
  s.engine.tcp_wake_latency_us.sum = 20.5;
  s.engine.tcp_wake_latency_us.buckets = {{10, 4}, {100, 9}};
  EXPECT_EQ(round_trip(s), s);
}

TEST(Messages, SessionsRoundTrip) {
  SessionsResult s;
  s.sessions.push_back({3, "tcp", "client", "established", "192.0.2.1:5683", "192.0.2.2:49152",
                        7.25, 1, 2, 3, 4, true, true, 2, 10, 1});
  s.sessions.push_back({4, "udp", "server", "established", "[2001:db8::1]:40000", "", 0, 0, 0, 0, 0,
                        false, false, 0, 0, 0});
  EXPECT_EQ(round_trip(s), s);
}

TEST(Messages, EventsRoundTrip) {
  EXPECT_EQ(round_trip(EventsArgs{true}), EventsArgs{true});
  EventsResult r;
  r.events.push_back({"2026-12-01T10:00:00.123Z", "tcp_connected", 1, "192.0.2.1:5683", {}, {}});
  r.events.push_back({"t", "reconnect_failed", 2, "", "reset", 3});
  EXPECT_EQ(round_trip(r), r);
}

TEST(Messages, RequestArgsAndResultRoundTrip) {
  RequestArgs a;
  a.method = "PUT";
  a.uri = "coap+tcp://[2001:db8::1]/led";
  a.payload = std::vector<uint8_t>{0, 1, 2, 255};
  a.content_format = 60;
  a.accept = 0;
  a.timeout = 2.5;
  a.session = 7;
  EXPECT_EQ(round_trip(a), a);
  RequestArgs minimal;
  minimal.uri = "coap://192.0.2.1/";
  EXPECT_EQ(round_trip(minimal), minimal);

  RequestResult r;
  r.status = "response";
  r.session = 4;
  r.code = "2.05";
  r.code_name = "Content";
  r.options = {{12, "Content-Format", "uint", uint64_t{50}},
               {8, "Location-Path", "string", std::string("a b")},
               {4, "ETag", "opaque", std::string("0a0b")}};
  r.payload = {'h', 'i'};
  EXPECT_EQ(round_trip(r), r);
  RequestResult failed;
  failed.status = "error";
  failed.error = "no session 9";
  EXPECT_EQ(round_trip(failed), failed);
  // A status coapctl cannot act on is an error, not a silent default.
  auto odd = RequestResult::decode({{"status", "maybe"}, {"session", 1}});
  ASSERT_FALSE(odd);
  EXPECT_NE(odd.error().find("'maybe'"), std::string::npos);
  EXPECT_FALSE(RequestResult::decode(nlohmann::json::object()));
}

TEST(Messages, ConnectCloseAndDebugRoundTrip) {
  ConnectArgs c{"coap+tcp://192.0.2.1:5684", true, 0.5, 30.0, 3};
  EXPECT_EQ(round_trip(c), c);
  c.keepalive = 15;
  EXPECT_EQ(round_trip(c), c);
  EXPECT_EQ(c.encode()["keepalive"], 15);
  EXPECT_EQ(round_trip(ConnectArgs{"coap+tcp://192.0.2.1", false, {}, {}, {}}).reconnect_interval,
            std::nullopt);
  EXPECT_EQ(round_trip(ConnectResult{12, true}), (ConnectResult{12, true}));
  EXPECT_EQ(round_trip(CloseArgs{99}), CloseArgs{99});
  EXPECT_EQ(round_trip(DebugStallArgs{1.5}), DebugStallArgs{1.5});
  EXPECT_EQ(round_trip(TimerProbeArgs{20, 5}), (TimerProbeArgs{20, 5}));
  TimerProbeResult t{50, 100, 0, {100, 70, 210, 250}, 30};
  EXPECT_EQ(round_trip(t), t);
}

TEST(Messages, ResourceMessagesRoundTrip) {
  ResourceEntry user{
      "/sensors/temp", 0u,       true,   2,   "get|put", 4, "0102030405060708", "config",
      "temperature-c", "core.s", "Temp", 250, 30u};
  ResourceEntry builtin{"/echo", std::nullopt, true, 0, "get|post|put", 0, "", "builtin",
                        "echo",  "",           "",   0, std::nullopt};
  ResourceListResult list{{user, builtin}};
  EXPECT_EQ(round_trip(list), list);
  const nlohmann::json j = list.encode();
  EXPECT_TRUE(j["resources"][1]["ct"].is_null());
  EXPECT_EQ(j["resources"][0]["source"], "config");
  ResourceAddArgs add{"/led", 0u, "light", "", "", 4u, true, "get|put", {'o', 'n'}, 100, 5u};
  EXPECT_EQ(round_trip(add), add);
  ResourceAddArgs minimal;
  minimal.path = "/x";
  EXPECT_EQ(round_trip(minimal), minimal);
  ResourceSetArgs set{"/led", {'o', 'f', 'f'}, 50u};
  EXPECT_EQ(round_trip(set), set);
  EXPECT_EQ(round_trip(ResourceDeleteArgs{"/led"}), ResourceDeleteArgs{"/led"});
  EXPECT_FALSE(ResourceDeleteArgs::decode(nlohmann::json::object()).ok());
  EXPECT_FALSE(ResourceAddArgs::decode({{"path", "/x"}, {"ct", 70000}}).ok());
  auto bad = ResourceSetArgs::decode({{"path", "/x"}, {"value_b64", "no!"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("value_b64"), std::string::npos);
}

TEST(Messages, ObserveMessagesRoundTrip) {
  NotificationRecord n{4, 0xfffffe, "2.05", 0, {'h', 'i', 0}, "2026-12-02T04:00:00.123Z", 9};
  EXPECT_EQ(round_trip(n), n);
  n.content_format.reset();
  EXPECT_EQ(round_trip(n), n);
  EXPECT_TRUE(n.encode()["content_format"].is_null());
  ObserveResult r;
  r.response.status = "deregistered";
  r.response.session = 9;
  r.observation = 4;
  r.notifications = 12;
  EXPECT_EQ(round_trip(r), r);
  EXPECT_EQ(round_trip(ObserveCancelArgs{7}), ObserveCancelArgs{7});
  EXPECT_EQ(round_trip(ObserveCancelArgs{}), ObserveCancelArgs{});
  const ObserveCancelResult cancelled{{1, 2}};
  EXPECT_EQ(round_trip(cancelled), cancelled);
  ObservationsResult list{{{3, "coap://192.0.2.1/time", 5, "0a0b", 7, 123, true, false}}};
  EXPECT_EQ(round_trip(list), list);
  const auto keys = list.encode()["observations"][0];
  for (const char* k : {"id", "uri", "session_id", "token", "notifications", "last_seq"})
    EXPECT_TRUE(keys.contains(k)) << k;
}

TEST(Messages, BlockSizeIsAPowerOfTwoOrBertMultipleOf1024) {
  for (uint32_t ok : {16u, 64u, 1024u, 2048u, 4096u, 1048576u}) {
    auto r = RequestArgs::decode({{"uri", "coap+tcp://h/"}, {"block_size", ok}});
    ASSERT_TRUE(r.ok()) << ok << ": " << r.error();
    EXPECT_EQ(r->block_size, ok);
  }
  for (uint32_t bad : {0u, 8u, 100u, 1500u, 3000u, 1049600u}) {
    auto r = RequestArgs::decode({{"uri", "coap+tcp://h/"}, {"block_size", bad}});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().find("\"block_size\""), std::string::npos) << r.error();
  }
}

TEST(Messages, WrongTypesAreRefusedNamingTheField) {
  auto r = RequestArgs::decode({{"uri", "coap://h/"}, {"timeout", "soon"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "field \"timeout\" must be a number");
  auto big = RequestArgs::decode({{"uri", "coap://h/"}, {"content_format", 70000}});
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().find("\"content_format\""), std::string::npos);
  auto b64 = RequestArgs::decode({{"uri", "coap://h/"}, {"payload_b64", "no!"}});
  ASSERT_FALSE(b64.ok());
  EXPECT_EQ(b64.error(), "payload_b64 is not valid base64");
  auto close = CloseArgs::decode(nlohmann::json::object());
  ASSERT_FALSE(close.ok());
  EXPECT_EQ(close.error(), "close needs a session id");
  auto follow = EventsArgs::decode({{"follow", 1}});
  ASSERT_FALSE(follow.ok());
  EXPECT_EQ(follow.error(), "field \"follow\" must be true or false");
  EXPECT_FALSE(TimerProbeArgs::decode({{"count", 0}}).ok());
  EXPECT_FALSE(SessionsResult::decode({{"sessions", {{{"id", "x"}}}}}).ok());
}

}  // namespace
}  // namespace control
