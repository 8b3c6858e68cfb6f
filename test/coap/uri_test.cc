// CoAP URIs (RFC 7252 section 6, RFC 8323 section 8) with IP literal hosts.
#include "coap/uri.h"

#include <gtest/gtest.h>

#include <set>

namespace coap {
namespace {

Uri parse_ok(std::string_view text) {
  auto u = parse_uri(text, [](std::string_view zone) { return zone == "coap0" ? 3 : -1; });
  EXPECT_TRUE(u.ok()) << text << ": " << (u.ok() ? "" : u.error());
  return u.ok() ? *u : Uri{};
}

std::string parse_error(std::string_view text) {
  auto u = parse_uri(text);
  EXPECT_FALSE(u.ok()) << text << " parsed as " << (u ? u->to_string() : "");
  const std::string err = u.ok() ? "" : u.error();
  EXPECT_FALSE(err.empty()) << text;
  return err;
}

TEST(UriTest, CoapWithDefaultPort) {
  const Uri u = parse_ok("coap://192.0.2.1/time");
  EXPECT_EQ(u.scheme, Scheme::kCoap);
  EXPECT_FALSE(u.is_tcp());
  EXPECT_EQ(u.peer, Address::v4(192, 0, 2, 1, 5683));
  EXPECT_EQ(u.path, (std::vector<std::string>{"time"}));
  EXPECT_TRUE(u.query.empty());
  EXPECT_EQ(u.path_string(), "/time");
  EXPECT_EQ(u.to_string(), "coap://192.0.2.1:5683/time");
}

TEST(UriTest, CoapTcpWithIpv6PortPathAndQuery) {
  const Uri u = parse_ok("coap+tcp://[2001:db8::1]:61616/a/b?x=1&rt=time");
  EXPECT_TRUE(u.is_tcp());
  EXPECT_TRUE(u.peer.is_v6());
  EXPECT_EQ(u.peer.port, 61616);
  EXPECT_EQ(u.peer.ip_string(), "2001:db8::1");
  EXPECT_EQ(u.path, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(u.query, (std::vector<std::string>{"x=1", "rt=time"}));
  EXPECT_EQ(u.to_string(), "coap+tcp://[2001:db8::1]:61616/a/b?x=1&rt=time");
  // The default port is the same for coap+tcp (RFC 8323 8.1).
  EXPECT_EQ(parse_ok("coap+tcp://[::1]").peer.port, 5683);
}

TEST(UriTest, RootAndTrailingSlash) {
  // RFC 7252 6.4 step 8: an empty path or "/" has no Uri-Path option.
  EXPECT_TRUE(parse_ok("coap://192.0.2.1").path.empty());
  EXPECT_TRUE(parse_ok("coap://192.0.2.1/").path.empty());
  EXPECT_TRUE(parse_ok("coap://192.0.2.1/?q").path.empty());
  // Otherwise every segment is one, empty ones included: a trailing slash
  // is a last, empty Uri-Path.
  EXPECT_EQ(parse_ok("coap://192.0.2.1/a/").path, (std::vector<std::string>{"a", ""}));
  EXPECT_EQ(parse_ok("coap://192.0.2.1/a/?q").path, (std::vector<std::string>{"a", ""}));
  EXPECT_EQ(parse_ok("coap://192.0.2.1/a//b").path, (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(parse_ok("coap://192.0.2.1//").path, (std::vector<std::string>{"", ""}));
  EXPECT_EQ(parse_ok("coap://192.0.2.1?q").query, (std::vector<std::string>{"q"}));
  EXPECT_EQ(parse_ok("coap://192.0.2.1/").path_string(), "/");
  EXPECT_EQ(parse_ok("coap://192.0.2.1/a/").path_string(), "/a/");
  EXPECT_EQ(parse_ok("coap://192.0.2.1/a/").to_string(), "coap://192.0.2.1:5683/a/");
}

TEST(UriTest, PercentDecoding) {
  const Uri u = parse_ok("coap://192.0.2.1/a%2Fb/%41%7a?k%3Dv=%26");
  EXPECT_EQ(u.path, (std::vector<std::string>{"a/b", "Az"}));
  EXPECT_EQ(u.query, (std::vector<std::string>{"k=v=&"}));
  EXPECT_EQ(percent_decode("%41%42c"), "ABc");
  EXPECT_EQ(percent_decode("100%25"), "100%");
  EXPECT_FALSE(percent_decode("%4").has_value());
  EXPECT_FALSE(percent_decode("%").has_value());
  EXPECT_FALSE(percent_decode("a%zz").has_value());
  EXPECT_FALSE(percent_decode("ab%4").has_value());
}

// Found by the uri fuzz target (from a seed with %2F): to_string wrote
// decoded segments and query items as they were ("a/b" became two
// segments); and, seen in the code then, a zone with a bare '%' where a URI
// needs "%25" (RFC 6874). RFC 7252 6.5 steps 8 and 9 say
// what must be percent-encoded.
TEST(UriTest, ToStringPercentEncodesWhatWouldChangeTheUri) {
  const Uri u = parse_ok("coap://192.0.2.1/a%2Fb/%3F%23%25%20%C3%A9:@!$'()*+,;=?k%26v=%3D/?&x");
  EXPECT_EQ(u.path, (std::vector<std::string>{"a/b", "?#% \xc3\xa9:@!$'()*+,;="}));
  EXPECT_EQ(u.query, (std::vector<std::string>{"k&v==/?", "x"}));
  EXPECT_EQ(u.to_string(),
            "coap://192.0.2.1:5683/a%2Fb/%3F%23%25%20%C3%A9:@!$'()*+,;=?k%26v==/?&x");
  for (std::string_view text : {"coap://192.0.2.1/a%2Fb", "coap+tcp://[fe80::1%2525]/",
                                "coap://[fe80::1%25coap0]/%2F?%26"}) {
    SCOPED_TRACE(text);
    const Uri first = parse_ok(text);
    const Uri again = parse_ok(first.to_string());
    EXPECT_EQ(again.peer, first.peer);
    EXPECT_EQ(again.path, first.path);
    EXPECT_EQ(again.query, first.query);
  }
  EXPECT_EQ(parse_ok("coap://[fe80::1%2525]/").to_string(), "coap://[fe80::1%2525]:5683/");
}

// Found by the uri fuzz target ("?&" came back from to_string as "?"):
// RFC 7252 6.4 step 9 makes every '&'-separated argument of a non-empty
// query a Uri-Query option, empty ones included.
TEST(UriTest, EmptyQueryArgumentsAreKept) {
  EXPECT_EQ(parse_ok("coap://192.0.2.1/?a&").query, (std::vector<std::string>{"a", ""}));
  EXPECT_EQ(parse_ok("coap://192.0.2.1/?&").query, (std::vector<std::string>{"", ""}));
  EXPECT_EQ(parse_ok("coap://192.0.2.1/?a&&b").query, (std::vector<std::string>{"a", "", "b"}));
  EXPECT_TRUE(parse_ok("coap://192.0.2.1/?").query.empty());
  EXPECT_EQ(parse_ok("coap://192.0.2.1/?&").to_string(), "coap://192.0.2.1:5683/?&");
}

TEST(UriTest, Ipv6Zones) {
  const Uri named = parse_ok("coap://[fe80::1%25coap0]:5683/x");
  EXPECT_EQ(named.peer.zone, 3);
  EXPECT_TRUE(named.peer.is_link_local());
  EXPECT_EQ(parse_ok("coap://[fe80::1%252]/").peer.zone, 2);
  parse_error("coap://[fe80::1%25nosuch]/");
}

TEST(UriTest, Errors) {
  EXPECT_NE(parse_error("http://192.0.2.1/").find("coap://"), std::string::npos);
  parse_error("coaps+udp://192.0.2.1/");
  parse_error("coap:///time");
  parse_error("coap://");
  EXPECT_NE(parse_error("coap://example.com/").find("not an IP address"), std::string::npos);
  parse_error("coap://192.0.2.1:0/");
  parse_error("coap://192.0.2.1:65536/");
  parse_error("coap://192.0.2.1:http/");
  parse_error("coap://192.0.2.1:80x/");
  parse_error("coap://192.0.2.1/#frag");
  parse_error("coap://[2001:db8::1/");
  parse_error("coap://[2001:db8::1]x/");
  parse_error("coap://192.0.2.1/%zz");
  parse_error("coap://192.0.2.1/?a=%4");
  parse_error("coap://192.0.2.1%25eth0/");
  // An IPv6 literal must be in brackets (RFC 3986 3.2.2); otherwise its last
  // group would be taken for a port.
  parse_error("coap://2001:db8::1/");
  parse_error("coap://::1/");
  // Ambiguous without brackets: address 2001:db8::1:5683, or [2001:db8::1]:5683?
  parse_error("coap://2001:db8::1:5683/");
}

TEST(UriTest, SecureSchemesDefaultToPort5684) {
  const Uri dtls = parse_ok("coaps://192.0.2.1/x");
  EXPECT_EQ(dtls.scheme, Scheme::kCoaps);
  EXPECT_TRUE(dtls.is_secure());
  EXPECT_FALSE(dtls.is_tcp());
  EXPECT_EQ(dtls.peer.port, 5684);
  EXPECT_EQ(dtls.host, "192.0.2.1");
  const Uri tls = parse_ok("coaps+tcp://[2001:db8::1]/x");
  EXPECT_TRUE(tls.is_secure());
  EXPECT_TRUE(tls.is_tcp());
  EXPECT_EQ(tls.peer.port, 5684);
  EXPECT_EQ(tls.host, "2001:db8::1");
  EXPECT_EQ(tls.to_string(), "coaps+tcp://[2001:db8::1]:5684/x");
  EXPECT_EQ(parse_ok("coaps://192.0.2.1:6000/").peer.port, 6000);
  EXPECT_EQ(parse_ok("coap+tcp://192.0.2.1/").peer.port, 5683);
}

TEST(UriTest, PortBounds) {
  EXPECT_EQ(parse_ok("coap://192.0.2.1:1/").peer.port, 1);
  EXPECT_EQ(parse_ok("coap://192.0.2.1:65535/").peer.port, 65535);
}

TEST(AddressTest, ParseAndFormat) {
  auto a = Address::parse_ip("192.0.2.5", 7);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->to_string(), "192.0.2.5:7");
  auto b = Address::parse_ip("fe80::1%4", 9);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->to_string(), "[fe80::1%4]:9");
  EXPECT_FALSE(Address::parse_ip("fe80::1%0"));
  EXPECT_FALSE(Address::parse_ip("1.2.3"));
  EXPECT_TRUE(Address::parse_ip("ff02::fd")->is_multicast());
  EXPECT_TRUE(Address::parse_ip("224.0.1.187")->is_multicast());
  EXPECT_FALSE(Address::parse_ip("192.0.2.1")->is_multicast());
  EXPECT_TRUE(a->same_host(Address::v4(192, 0, 2, 5, 99)));
  EXPECT_FALSE(*a == Address::v4(192, 0, 2, 5, 99));
  EXPECT_NE(a->hash(1), Address::v4(192, 0, 2, 5, 99).hash(1));
}

TEST(AddressTest, HashDependsOnTheSecret) {
  const Address a = Address::v4(192, 0, 2, 5, 5683);
  EXPECT_EQ(a.hash(7), a.hash(7));
  EXPECT_NE(a.hash(7), a.hash(8));
  EXPECT_EQ(AddressHash(7)(a), a.hash(7));
  EXPECT_NE(AddressHash(7)(a), AddressHash(8)(a));
}

TEST(AddressTest, CollisionsCraftedForOneSecretDoNotCarryOver) {
  // A peer that knew the hash could pick source ports that all land in one
  // bucket. Find 16 such ports for one secret: under another secret they
  // spread out.
  constexpr std::size_t kBuckets = 64;
  const uint64_t known = 1, other = 2;
  std::vector<Address> crafted;
  for (uint32_t port = 1; port <= 65535 && crafted.size() < 16; ++port) {
    const Address a = Address::v4(198, 51, 100, 7, static_cast<uint16_t>(port));
    if (a.hash(known) % kBuckets == 0) crafted.push_back(a);
  }
  ASSERT_EQ(crafted.size(), 16u);
  std::set<std::size_t> buckets;
  for (const Address& a : crafted) buckets.insert(a.hash(other) % kBuckets);
  EXPECT_GE(buckets.size(), 8u);
}

}  // namespace
}  // namespace coap
