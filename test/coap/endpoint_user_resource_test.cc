// User resources through the Endpoint, with the fake clock: ETags and
// conditional requests (RFC 7252 5.10), observe notifications when the value
// changes (UDP and TCP), removal with 4.04 to observers (RFC 7641 3.2),
// separate responses (RFC 7252 5.2.2), and JSON FETCH/PATCH/iPATCH (RFC 8132).
#include <gtest/gtest.h>

#include "coap/user_resource.h"
#include "test/coap/endpoint_fixture.h"

namespace coap {
namespace {

using namespace coap::test;

class UserResourceTest : public EndpointTest {
 protected:
  void add(std::string_view entry, ResourceSource source = ResourceSource::kConfig) {
    auto spec = parse_resource_entry(entry);
    ASSERT_TRUE(spec) << spec.error();
    Status st = ep().add_resource(std::make_unique<UserResource>(*spec, source, 1024), now);
    ASSERT_TRUE(st) << st.error();
  }
  Decoded con(Code method, std::string_view path, std::vector<Opt> opts = {},
              std::string_view payload = {}) {
    const uint16_t mid = ++mid_;
    udp_in(kUdpPeer, udp_msg(Type::kCon, method, mid, tok({0x70, uint8_t(mid)}),
                             path_opts(path) + opts, payload));
    return one_udp();
  }
  static Opt etag_opt(uint16_t n, const std::vector<uint8_t>& v) { return Opt{n, v}; }
  void set(std::string_view path, std::string_view value) {
    Status st = ep().set_resource_value(path, as_bytes(value), std::nullopt, now);
    ASSERT_TRUE(st) << st.error();
  }

  uint16_t mid_ = 100;
};

TEST_F(UserResourceTest, GetServesValueWithEtagMaxAgeAndLink) {
  add("/sensors/temp,ct=0,rt=temperature-c,if=core.s,obs,max-age=30,value=21.5");
  const Decoded r = con(codes::kGet, "/sensors/temp");
  EXPECT_EQ(r.code, codes::kContent);
  EXPECT_EQ(r.body(), "21.5");
  EXPECT_EQ(r.uint(opt::kContentFormat), 0u);
  EXPECT_EQ(r.uint(opt::kMaxAge), 30u);
  ASSERT_TRUE(r.has(opt::kETag));
  const Decoded wk = con(codes::kGet, "/.well-known/core", {opt_str(opt::kUriQuery, "rt=temp*")});
  EXPECT_EQ(wk.body(), "</sensors/temp>;ct=0;rt=\"temperature-c\";if=\"core.s\";obs");
}

TEST_F(UserResourceTest, MatchingEtagGetsValidAndNewValueNewEtag) {
  add("/v,methods=get|put,value=one");
  const std::vector<uint8_t> etag = *con(codes::kGet, "/v").value(opt::kETag);
  const Decoded valid = con(codes::kGet, "/v", {etag_opt(opt::kETag, etag)});
  EXPECT_EQ(valid.code, codes::kValid);
  EXPECT_TRUE(valid.payload.empty());
  EXPECT_EQ(*valid.value(opt::kETag), etag);
  const Decoded other = con(codes::kGet, "/v", {etag_opt(opt::kETag, {1, 2, 3})});
  EXPECT_EQ(other.code, codes::kContent);
  EXPECT_EQ(other.body(), "one");

  EXPECT_EQ(con(codes::kPut, "/v", {}, "two").code, codes::kChanged);
  const Decoded after = con(codes::kGet, "/v", {etag_opt(opt::kETag, etag)});
  EXPECT_EQ(after.code, codes::kContent);
  EXPECT_EQ(after.body(), "two");
  EXPECT_NE(*after.value(opt::kETag), etag);
}

TEST_F(UserResourceTest, IfMatchAndIfNoneMatchGuardChanges) {
  add("/v,methods=get|put|post|delete,value=one");
  const std::vector<uint8_t> etag = *con(codes::kGet, "/v").value(opt::kETag);
  EXPECT_EQ(con(codes::kPut, "/v", {etag_opt(opt::kIfMatch, {9, 9})}, "x").code,
            codes::kPreconditionFailed);
  EXPECT_EQ(con(codes::kPut, "/v", {opt_empty(opt::kIfNoneMatch)}, "x").code,
            codes::kPreconditionFailed);
  EXPECT_EQ(con(codes::kDelete, "/v", {etag_opt(opt::kIfMatch, {9})}).code,
            codes::kPreconditionFailed);
  EXPECT_EQ(con(codes::kGet, "/v").body(), "one") << "a failed precondition changed the value";
  EXPECT_EQ(
      con(codes::kPut, "/v", {etag_opt(opt::kIfMatch, {9}), etag_opt(opt::kIfMatch, etag)}, "two")
          .code,
      codes::kChanged);
  EXPECT_EQ(con(codes::kPost, "/v", {opt_empty(opt::kIfMatch)}, "three").code, codes::kChanged);
  EXPECT_EQ(con(codes::kGet, "/v").body(), "three");
  // Built-ins do not evaluate preconditions: still refused with 4.02.
  EXPECT_EQ(con(codes::kPut, "/echo", {opt_empty(opt::kIfMatch)}, "x").code, codes::kBadOption);
}

TEST_F(UserResourceTest, MethodsNotAllowedGet405) {
  add("/ro,value=x");
  EXPECT_EQ(con(codes::kPut, "/ro", {}, "y").code, codes::kMethodNotAllowed);
  EXPECT_EQ(con(codes::kDelete, "/ro").code, codes::kMethodNotAllowed);
  EXPECT_EQ(con(codes::kGet, "/ro").body(), "x");
}

TEST_F(UserResourceTest, ObserversNotifiedOnEveryChangeOverUdpAndTcp) {
  add("/t,obs,methods=get|put,value=20");
  udp_in(kUdpPeer, udp_msg(Type::kCon, codes::kGet, 1, tok({1}),
                           path_opts("/t") + opt_uint(opt::kObserve, 0)));
  uint32_t udp_seq = *one_udp().uint(opt::kObserve);
  EXPECT_EQ(events(), Events{"server_session_new"});
  const ConnId c = accept_established();
  tcp_in(c, tcp_msg(codes::kGet, tok({2}), path_opts("/t") + opt_uint(opt::kObserve, 0)));
  auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  uint32_t tcp_seq = *f[0].uint(opt::kObserve);
  EXPECT_EQ(ep().observers_of(ep().resources().find("/t")), 2u);

  for (int i = 21; i <= 23; ++i) {
    set("/t", std::to_string(i));
    const Decoded n = one_udp();
    EXPECT_EQ(n.token, tok({1}));
    EXPECT_EQ(n.body(), std::to_string(i));
    EXPECT_GT(*n.uint(opt::kObserve), udp_seq);
    udp_seq = *n.uint(opt::kObserve);
    f = frames(c);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].body(), std::to_string(i));
    EXPECT_GT(*f[0].uint(opt::kObserve), tcp_seq);
    tcp_seq = *f[0].uint(opt::kObserve);
  }
  // A PUT from a client notifies too (after its own response).
  udp_in(kUdpPeer2, udp_msg(Type::kCon, codes::kPut, 7, tok({7}), path_opts("/t"), "99"));
  for (const auto& d : net.datagrams) {
    const Decoded m = decode_udp(d.bytes);
    if (d.to == kUdpPeer) {
      EXPECT_EQ(m.body(), "99");
    }
  }
  EXPECT_EQ(net.datagrams.size(), 2u);
  net.datagrams.clear();
  EXPECT_EQ(frames(c).at(0).body(), "99");
}

TEST_F(UserResourceTest, RemovalSends404ToObserversAndForgetsThem) {
  add("/t,obs,value=1", ResourceSource::kRuntime);
  udp_in(kUdpPeer, udp_msg(Type::kCon, codes::kGet, 1, tok({1}),
                           path_opts("/t") + opt_uint(opt::kObserve, 0)));
  one_udp();
  EXPECT_EQ(events(), Events{"server_session_new"});
  const ConnId c = accept_established();
  tcp_in(c, tcp_msg(codes::kGet, tok({2}), path_opts("/t") + opt_uint(opt::kObserve, 0)));
  frames(c);
  ASSERT_EQ(ep().observation_count(), 2u);
  ASSERT_TRUE(ep().remove_resource("/t", now));
  const Decoded gone = one_udp();
  EXPECT_EQ(gone.code, codes::kNotFound);
  EXPECT_EQ(gone.token, tok({1}));
  EXPECT_FALSE(gone.has(opt::kObserve));
  auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, codes::kNotFound);
  EXPECT_EQ(ep().observation_count(), 0u);
  EXPECT_EQ(ep().resources().find("/t"), nullptr);
  EXPECT_EQ(con(codes::kGet, "/t").code, codes::kNotFound);
  EXPECT_FALSE(ep().remove_resource("/t", now));
}

TEST_F(UserResourceTest, DeleteRequestAnswers202ThenTellsObservers) {
  add("/d,obs,methods=get|delete,value=1");
  udp_in(kUdpPeer, udp_msg(Type::kCon, codes::kGet, 1, tok({1}),
                           path_opts("/d") + opt_uint(opt::kObserve, 0)));
  one_udp();
  udp_in(kUdpPeer2, udp_msg(Type::kCon, codes::kDelete, 9, tok({9}), path_opts("/d")));
  ASSERT_EQ(net.datagrams.size(), 2u);
  EXPECT_EQ(net.datagrams[0].to, kUdpPeer2);
  EXPECT_EQ(decode_udp(net.datagrams[0].bytes).code, codes::kDeleted);
  EXPECT_EQ(net.datagrams[1].to, kUdpPeer);
  EXPECT_EQ(decode_udp(net.datagrams[1].bytes).code, codes::kNotFound);
  net.datagrams.clear();
  EXPECT_EQ(ep().observation_count(), 0u);
  EXPECT_EQ(con(codes::kGet, "/d").code, codes::kNotFound);
}

TEST_F(UserResourceTest, BuiltinsCannotBeReplacedRemovedOrSet) {
  auto spec = parse_resource_entry("/time,value=x");
  ASSERT_TRUE(spec);
  Status add =
      ep().add_resource(std::make_unique<UserResource>(*spec, ResourceSource::kRuntime, 64), now);
  ASSERT_FALSE(add);
  EXPECT_NE(add.error().find("built in"), std::string::npos) << add.error();
  Status del = ep().remove_resource("/time", now);
  ASSERT_FALSE(del);
  EXPECT_NE(del.error().find("built in"), std::string::npos) << del.error();
  EXPECT_FALSE(ep().set_resource_value("/echo", as_bytes("x"), std::nullopt, now));
  EXPECT_FALSE(ep().set_resource_value("/nope", as_bytes("x"), std::nullopt, now));
}

TEST_F(UserResourceTest, UserResourceLimit) {
  config.max_user_resources = 3;
  for (int i = 0; i < 3; ++i) add("/r" + std::to_string(i));
  auto spec = parse_resource_entry("/r3");
  Status st =
      ep().add_resource(std::make_unique<UserResource>(*spec, ResourceSource::kRuntime, 64), now);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().find("--max-resources"), std::string::npos) << st.error();
  ASSERT_TRUE(ep().remove_resource("/r0", now));
  EXPECT_TRUE(
      ep().add_resource(std::make_unique<UserResource>(*spec, ResourceSource::kRuntime, 64), now));
}

TEST_F(UserResourceTest, SeparateResponseToConIsEmptyAckThenRetransmittedCon) {
  add("/slow,delay=500,value=late");
  const Token t = tok({0x55});
  const auto req = udp_msg(Type::kCon, codes::kGet, 42, t, path_opts("/slow"));
  udp_in(kUdpPeer, req);
  const Decoded ack = one_udp();
  EXPECT_EQ(ack.type, Type::kAck);
  EXPECT_EQ(ack.mid, 42);
  EXPECT_TRUE(ack.code.is_empty());
  // A duplicate of the request gets the empty ACK again, not a second answer.
  udp_in(kUdpPeer, req);
  EXPECT_TRUE(one_udp().code.is_empty());
  advance(milliseconds(499));
  EXPECT_TRUE(net.datagrams.empty());
  advance(milliseconds(1));
  const Decoded resp = one_udp();
  EXPECT_EQ(resp.type, Type::kCon);
  EXPECT_EQ(resp.code, codes::kContent);
  EXPECT_EQ(resp.token, t);
  EXPECT_EQ(resp.body(), "late");
  // Not acknowledged: sent again, the same message.
  advance(seconds(3));
  const Decoded again = one_udp();
  EXPECT_EQ(again.mid, resp.mid);
  EXPECT_EQ(again.body(), "late");
  udp_in(kUdpPeer, udp_empty(Type::kAck, resp.mid));
  advance(seconds(60));
  EXPECT_TRUE(net.datagrams.empty()) << "retransmitted after the ACK";
  EXPECT_EQ(ep().delayed_responses(), 0u);
}

TEST_F(UserResourceTest, SeparateResponseToNonIsNonAndOverTcpAFrameLater) {
  add("/slow,delay=200,value=late");
  udp_in(kUdpPeer, udp_msg(Type::kNon, codes::kGet, 5, tok({5}), path_opts("/slow")));
  EXPECT_TRUE(net.datagrams.empty()) << "nothing at once for a NON";
  advance(milliseconds(200));
  const Decoded r = one_udp();
  EXPECT_EQ(r.type, Type::kNon);
  EXPECT_EQ(r.body(), "late");
  EXPECT_EQ(events(), Events{"server_session_new"});

  const ConnId c = accept_established();
  tcp_in(c, tcp_msg(codes::kGet, tok({6}), path_opts("/slow")));
  EXPECT_TRUE(frames(c).empty());
  advance(milliseconds(200));
  auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].body(), "late");
  EXPECT_EQ(f[0].token, tok({6}));
}

TEST_F(UserResourceTest, JsonPatchMergePatchAndFetch) {
  add("/j,ct=50,methods=get|fetch|patch|ipatch,value={\"a\":1,\"b\":{\"c\":2}}");
  const Opt json_ct = opt_uint(opt::kContentFormat, 50);
  const Decoded fetched = con(codes::kFetch, "/j", {json_ct}, "[\"/b/c\"]");
  EXPECT_EQ(fetched.code, codes::kContent);
  EXPECT_EQ(fetched.body(), "{\"b\":{\"c\":2}}");
  EXPECT_EQ(con(codes::kFetch, "/j", {json_ct}, "{\"x\":1}").code, codes::kBadRequest);
  EXPECT_EQ(con(codes::kFetch, "/j", {opt_uint(opt::kContentFormat, 0)}, "[]").code,
            codes::kUnsupportedContentFormat);

  EXPECT_EQ(con(codes::kPatch, "/j", {opt_uint(opt::kContentFormat, 51)},
                "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":5}]")
                .code,
            codes::kChanged);
  EXPECT_EQ(con(codes::kIPatch, "/j", {opt_uint(opt::kContentFormat, 52)}, "{\"b\":null}").code,
            codes::kChanged);
  EXPECT_EQ(con(codes::kGet, "/j").body(), "{\"a\":5}");
  // Failing patches leave the value as it was.
  EXPECT_EQ(con(codes::kPatch, "/j", {opt_uint(opt::kContentFormat, 51)},
                "[{\"op\":\"remove\",\"path\":\"/nope\"}]")
                .code,
            codes::kUnprocessableEntity);
  EXPECT_EQ(con(codes::kPatch, "/j", {opt_uint(opt::kContentFormat, 51)}, "not json").code,
            codes::kBadRequest);
  EXPECT_EQ(con(codes::kIPatch, "/j", {opt_uint(opt::kContentFormat, 51)}, "[]").code,
            codes::kUnsupportedContentFormat);
  EXPECT_EQ(con(codes::kGet, "/j").body(), "{\"a\":5}");
}

TEST_F(UserResourceTest, PatchOnNonJsonResourceConflicts) {
  add("/txt,methods=get|patch,value=hello");
  EXPECT_EQ(con(codes::kPatch, "/txt", {opt_uint(opt::kContentFormat, 52)}, "{}").code,
            codes::kConflict);
  EXPECT_EQ(con(codes::kGet, "/txt").body(), "hello");
}

TEST_F(UserResourceTest, NoResponseSuppressesTheClassesAsked) {
  add("/v,methods=get|put,value=x");
  add("/slow,delay=100,value=late");
  const Opt no_2xx = opt_uint(opt::kNoResponse, 2);
  // A CON still gets its empty ACK; the response is not sent.
  const Decoded ack = con(codes::kPut, "/v", {no_2xx}, "y");
  EXPECT_EQ(ack.type, Type::kAck);
  EXPECT_TRUE(ack.code.is_empty());
  EXPECT_TRUE(ack.payload.empty());
  EXPECT_EQ(con(codes::kGet, "/v").body(), "y") << "the suppressed PUT was not carried out";
  // A NON gets nothing at all.
  udp_in(kUdpPeer, udp_msg(Type::kNon, codes::kGet, 500, tok({1}), path_opts("/v") + no_2xx));
  EXPECT_TRUE(net.datagrams.empty());
  // Other classes still come: 4.04 with only 2.xx suppressed; not with 8.
  EXPECT_EQ(con(codes::kGet, "/nope", {no_2xx}).code, codes::kNotFound);
  EXPECT_TRUE(con(codes::kGet, "/nope", {opt_uint(opt::kNoResponse, 8)}).code.is_empty());
  EXPECT_EQ(con(codes::kGet, "/v", {opt_uint(opt::kNoResponse, 24)}).code, codes::kContent);
  // A separate response that is not wanted never follows its empty ACK.
  EXPECT_TRUE(con(codes::kGet, "/slow", {no_2xx}).code.is_empty());
  advance(seconds(1));
  EXPECT_TRUE(net.datagrams.empty());
  EXPECT_EQ(ep().counters().responses_suppressed, 4u);
  // Over TCP: no frame.
  EXPECT_EQ(events(), Events{"server_session_new"});
  const ConnId c = accept_established();
  tcp_in(c, tcp_msg(codes::kGet, tok({2}), path_opts("/v") + no_2xx));
  EXPECT_TRUE(frames(c).empty());
  tcp_in(c, tcp_msg(codes::kGet, tok({3}), path_opts("/v")));
  EXPECT_EQ(frames(c).size(), 1u);
}

}  // namespace
}  // namespace coap
