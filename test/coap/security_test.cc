// The security layer alone: DTLS and TLS handshakes between two in-memory
// channels with a fake clock (PSK and X.509), the cookie exchange, DTLS
// retransmission timing, and certificate host checks.
#include "coap/security.h"

#include <gtest/gtest.h>

#include <deque>
#include <fstream>
#include <random>
#include <sstream>

namespace coap {
namespace {

std::string read(const std::string& name) {
  std::ifstream in(std::string(COAPD_TEST_CERTS) + "/" + name);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

RandomBytes fixed_random(uint64_t seed) {
  auto rng = std::make_shared<std::mt19937_64>(seed);
  return [rng](std::span<uint8_t> out) {
    for (uint8_t& b : out) b = static_cast<uint8_t>((*rng)());
  };
}

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

// One end: records what its channel emits.
struct End : SecureChannel::Sink {
  void send_ciphertext(std::span<const uint8_t> b) override {
    out.emplace_back(b.begin(), b.end());
  }
  void on_plaintext(std::span<const uint8_t> b) override { plain.emplace_back(b.begin(), b.end()); }
  void on_established(const PeerSecurity& p) override {
    established = true;
    peer = p;
  }
  void on_failed(HandshakeFailure kind, const std::string& why) override {
    failure = kind;
    failure_why = why;
  }
  void on_peer_closed() override { peer_closed = true; }

  std::deque<std::vector<uint8_t>> out;
  std::vector<std::vector<uint8_t>> plain;
  bool established = false;
  PeerSecurity peer;
  std::optional<HandshakeFailure> failure;
  std::string failure_why;
  bool peer_closed = false;
};

class SecurityTest : public ::testing::Test {
 protected:
  static Credentials psk_server() {
    Credentials c;
    c.psk = {{"device-1", bytes("secret-key-1")}, {"device-2", bytes("another")}};
    return c;
  }
  static Credentials cert_server(bool mutual = false) {
    Credentials c;
    c.cert_pem = read("server.pem");
    c.key_pem = read("server.key");
    if (mutual) c.ca_pem = read("ca.pem");
    return c;
  }
  std::unique_ptr<SecurityContext> context(const Credentials& c, uint64_t seed) {
    auto ctx = SecurityContext::create(c, fixed_random(seed));
    EXPECT_TRUE(ctx.ok()) << (ctx.ok() ? "" : ctx.error());
    return ctx.ok() ? std::move(*ctx) : nullptr;
  }
  // Moves every pending datagram/stream piece between the two ends until
  // neither has anything to say.
  void exchange(SecureChannel& a, End& ea, SecureChannel& b, End& eb) {
    for (int round = 0; round < 50 && (!ea.out.empty() || !eb.out.empty()); ++round) {
      while (!ea.out.empty()) {
        auto d = std::move(ea.out.front());
        ea.out.pop_front();
        b.feed(d, now);
      }
      while (!eb.out.empty()) {
        auto d = std::move(eb.out.front());
        eb.out.pop_front();
        a.feed(d, now);
      }
    }
  }
  // A DTLS server channel for `client`, through the listener's cookie exchange.
  std::unique_ptr<SecureChannel> dtls_accept(DtlsListener& listener, End& client_end,
                                             SecureChannel& client, End& server_end) {
    const Address peer = Address::v4(192, 0, 2, 10, 40000);
    std::deque<std::vector<uint8_t>> to_client;
    auto send = [&](std::span<const uint8_t> b) { to_client.emplace_back(b.begin(), b.end()); };
    for (int i = 0; i < 4 && !client_end.out.empty(); ++i) {
      auto hello = std::move(client_end.out.front());
      client_end.out.pop_front();
      DtlsListener::Outcome o = listener.accept(peer, hello, now, /*room=*/true, send);
      for (auto& d : to_client) client.feed(d, now);
      to_client.clear();
      if (o.kind == DtlsListener::Outcome::Kind::kAccepted) {
        o.channel->set_sink(server_end);
        return std::move(o.channel);
      }
      EXPECT_EQ(o.kind, DtlsListener::Outcome::Kind::kCookieSent) << o.why;
      ++cookies;
    }
    return nullptr;
  }

  TimePoint now = TimePoint{} + seconds(1000);
  int cookies = 0;
};

TEST_F(SecurityTest, DtlsPskHandshakeAfterACookieCarriesDatagramsBothWays) {
  auto server_ctx = context(psk_server(), 1);
  Credentials cc;
  cc.client_psk = PskEntry{"device-1", bytes("secret-key-1")};
  auto client_ctx = context(cc, 2);
  auto listener = DtlsListener::create(*server_ctx);
  ASSERT_TRUE(listener.ok()) << listener.error();
  End ce, se;
  auto client =
      SecureChannel::client(*client_ctx, SecureChannel::Transport::kDatagram, {}, ce, now);
  ASSERT_TRUE(client.ok()) << client.error();
  ASSERT_EQ(ce.out.size(), 1u);  // the first ClientHello
  auto server = dtls_accept(**listener, ce, **client, se);
  ASSERT_TRUE(server);
  EXPECT_EQ(cookies, 1);  // one HelloVerifyRequest before any state
  exchange(**client, ce, *server, se);
  ASSERT_TRUE(ce.established) << ce.failure_why;
  ASSERT_TRUE(se.established) << se.failure_why;
  EXPECT_EQ(se.peer.mode, SecurityMode::kPsk);
  EXPECT_EQ(se.peer.peer_identity, "device-1");
  EXPECT_EQ(ce.peer.mode, SecurityMode::kPsk);
  EXPECT_FALSE(se.peer.cipher.empty());

  ASSERT_TRUE((*client)->write(bytes("hello"), now).ok());
  ASSERT_TRUE(server->write(bytes("world!"), now).ok());
  exchange(**client, ce, *server, se);
  ASSERT_EQ(se.plain.size(), 1u);
  EXPECT_EQ(se.plain[0], bytes("hello"));
  ASSERT_EQ(ce.plain.size(), 1u);
  EXPECT_EQ(ce.plain[0], bytes("world!"));

  (*client)->close(now);
  exchange(**client, ce, *server, se);
  EXPECT_TRUE(se.peer_closed);
}

TEST_F(SecurityTest, AWrongPskFailsAsBadPskOnBothSides) {
  auto server_ctx = context(psk_server(), 3);
  Credentials cc;
  cc.client_psk = PskEntry{"device-1", bytes("wrong")};
  auto client_ctx = context(cc, 4);
  auto listener = DtlsListener::create(*server_ctx);
  End ce, se;
  auto client =
      SecureChannel::client(*client_ctx, SecureChannel::Transport::kDatagram, {}, ce, now);
  auto server = dtls_accept(**listener, ce, **client, se);
  ASSERT_TRUE(server);
  exchange(**client, ce, *server, se);
  EXPECT_FALSE(se.established);
  ASSERT_TRUE(se.failure) << "server did not fail";
  EXPECT_EQ(*se.failure, HandshakeFailure::kBadPsk) << se.failure_why;
  ASSERT_TRUE(ce.failure);
  EXPECT_EQ(*ce.failure, HandshakeFailure::kBadPsk) << ce.failure_why;
}

TEST_F(SecurityTest, AnUnknownIdentityFailsAsBadPsk) {
  auto server_ctx = context(psk_server(), 5);
  Credentials cc;
  cc.client_psk = PskEntry{"stranger", bytes("secret-key-1")};
  auto client_ctx = context(cc, 6);
  End ce, se;
  auto client = SecureChannel::client(*client_ctx, SecureChannel::Transport::kStream, {}, ce, now);
  auto server = SecureChannel::server(*server_ctx, se);
  ASSERT_TRUE(server.ok());
  exchange(**client, ce, **server, se);
  ASSERT_TRUE(se.failure);
  EXPECT_EQ(*se.failure, HandshakeFailure::kBadPsk) << se.failure_why;
}

TEST_F(SecurityTest, AClientThatNamesItsCipherSuitesGetsOneOfThose) {
  auto server_ctx = context(psk_server(), 21);
  Credentials cc;
  cc.client_psk = PskEntry{"device-1", bytes("secret-key-1")};
  auto client_ctx = context(cc, 22);
  // Two suites the server would not pick first from mbedTLS's default list.
  for (const char* suite : {"TLS-PSK-WITH-AES-128-CCM-8", "TLS-PSK-WITH-AES-128-GCM-SHA256"}) {
    End ce, se;
    ClientSecurity opt;
    opt.ciphersuites = {suite};
    auto client =
        SecureChannel::client(*client_ctx, SecureChannel::Transport::kStream, opt, ce, now);
    ASSERT_TRUE(client.ok()) << client.error();
    auto server = SecureChannel::server(*server_ctx, se);
    exchange(**client, ce, **server, se);
    ASSERT_TRUE(ce.established) << suite << ": " << ce.failure_why;
    EXPECT_EQ(ce.peer.cipher, suite);
    EXPECT_EQ(se.peer.cipher, suite);
  }
  End ce;
  ClientSecurity opt;
  opt.ciphersuites = {"TLS-PSK-WITH-AES-128-CCM-8", "TLS-NO-SUCH-SUITE"};
  auto client =
      SecureChannel::client(*client_ctx, SecureChannel::Transport::kDatagram, opt, ce, now);
  ASSERT_FALSE(client.ok());
  EXPECT_NE(client.error().find("TLS-NO-SUCH-SUITE"), std::string::npos) << client.error();
  EXPECT_TRUE(ce.out.empty());  // no ClientHello went out
}

TEST_F(SecurityTest, TlsX509VerifiesTheServerByNameAndAddress) {
  auto server_ctx = context(cert_server(), 7);
  Credentials cc;
  cc.ca_pem = read("ca.pem");
  auto client_ctx = context(cc, 8);
  for (const char* host : {"coapd.test", "192.0.2.2", "fd00:c0a9::2"}) {
    End ce, se;
    ClientSecurity opt;
    opt.host = host;
    auto client =
        SecureChannel::client(*client_ctx, SecureChannel::Transport::kStream, opt, ce, now);
    ASSERT_TRUE(client.ok()) << client.error();
    auto server = SecureChannel::server(*server_ctx, se);
    exchange(**client, ce, **server, se);
    ASSERT_TRUE(ce.established) << host << ": " << ce.failure_why;
    EXPECT_EQ(ce.peer.mode, SecurityMode::kX509);
    EXPECT_NE(ce.peer.peer_identity.find("coapd.test"), std::string::npos) << ce.peer.peer_identity;
    EXPECT_TRUE(ce.peer.verified);
  }
}

TEST_F(SecurityTest, AWrongHostOrAnUntrustedCertificateFailsAsBadCertificate) {
  auto client_ctx = context(
      [] {
        Credentials c;
        c.ca_pem = read("ca.pem");
        return c;
      }(),
      9);
  struct Case {
    Credentials server;
    const char* host;
  };
  Credentials other;
  other.cert_pem = read("other.pem");
  other.key_pem = read("other.key");
  for (const Case& c : {Case{cert_server(), "192.0.2.99"}, Case{cert_server(), "wrong.test"},
                        Case{other, "coapd.test"}}) {
    auto server_ctx = context(c.server, 10);
    End ce, se;
    ClientSecurity opt;
    opt.host = c.host;
    auto client =
        SecureChannel::client(*client_ctx, SecureChannel::Transport::kStream, opt, ce, now);
    auto server = SecureChannel::server(*server_ctx, se);
    exchange(**client, ce, **server, se);
    EXPECT_FALSE(ce.established) << c.host;
    ASSERT_TRUE(ce.failure) << c.host;
    EXPECT_EQ(*ce.failure, HandshakeFailure::kBadCertificate) << c.host << ": " << ce.failure_why;
  }
}

TEST_F(SecurityTest, InsecureSkipsVerificationAndSaysSo) {
  Credentials other;
  other.cert_pem = read("other.pem");
  other.key_pem = read("other.key");
  auto server_ctx = context(other, 11);
  auto client_ctx = context(Credentials{}, 12);
  End ce, se;
  ClientSecurity opt;
  opt.host = "192.0.2.2";
  opt.insecure = true;
  auto client = SecureChannel::client(*client_ctx, SecureChannel::Transport::kStream, opt, ce, now);
  auto server = SecureChannel::server(*server_ctx, se);
  exchange(**client, ce, **server, se);
  ASSERT_TRUE(ce.established) << ce.failure_why;
  EXPECT_FALSE(ce.peer.verified);
}

TEST_F(SecurityTest, MutualAuthenticationNeedsAClientCertificate) {
  auto server_ctx = context(cert_server(/*mutual=*/true), 13);
  Credentials with_cert;
  with_cert.ca_pem = read("ca.pem");
  with_cert.cert_pem = read("client.pem");
  with_cert.key_pem = read("client.key");
  Credentials without = with_cert;
  without.cert_pem.clear();
  without.key_pem.clear();
  for (const Credentials& cc : {with_cert, without}) {
    auto client_ctx = context(cc, 14);
    End ce, se;
    ClientSecurity opt;
    opt.host = "coapd.test";
    auto client =
        SecureChannel::client(*client_ctx, SecureChannel::Transport::kStream, opt, ce, now);
    auto server = SecureChannel::server(*server_ctx, se);
    exchange(**client, ce, **server, se);
    const bool has_cert = !cc.cert_pem.empty();
    EXPECT_EQ(se.established, has_cert) << se.failure_why;
    if (has_cert) {
      EXPECT_NE(se.peer.peer_identity.find("coapd test client"), std::string::npos);
    } else {
      ASSERT_TRUE(se.failure);
      EXPECT_EQ(*se.failure, HandshakeFailure::kBadCertificate) << se.failure_why;
    }
  }
}

TEST_F(SecurityTest, ALostDtlsFlightIsResentAtItsTimeoutNeverEarly) {
  Credentials cc;
  cc.client_psk = PskEntry{"device-1", bytes("secret-key-1")};
  auto client_ctx = context(cc, 15);
  End ce;
  auto client =
      SecureChannel::client(*client_ctx, SecureChannel::Transport::kDatagram, {}, ce, now);
  ASSERT_EQ(ce.out.size(), 1u);
  ce.out.clear();  // the ClientHello is lost
  const TimePoint due = (*client)->next_timer();
  ASSERT_NE(due, kNever);
  EXPECT_EQ(due - now, seconds(1));  // RFC 6347 4.2.4.1: one second at first
  (*client)->on_timer(due - milliseconds(1));
  EXPECT_TRUE(ce.out.empty());  // not early
  (*client)->on_timer(due);
  ASSERT_EQ(ce.out.size(), 1u);  // resent
  const TimePoint next = (*client)->next_timer();
  EXPECT_EQ(next - due, seconds(2));  // doubled
}

TEST_F(SecurityTest, AFloodOfClientHellosWithoutCookiesMakesNoChannel) {
  auto server_ctx = context(psk_server(), 16);
  auto listener = DtlsListener::create(*server_ctx);
  Credentials cc;
  cc.client_psk = PskEntry{"device-1", bytes("secret-key-1")};
  auto client_ctx = context(cc, 17);
  int answered = 0;
  for (uint16_t port = 1; port <= 200; ++port) {
    End ce;
    auto client =
        SecureChannel::client(*client_ctx, SecureChannel::Transport::kDatagram, {}, ce, now);
    auto send = [&](std::span<const uint8_t>) { ++answered; };
    auto o = (*listener)->accept(Address::v4(198, 51, 100, 1, port), ce.out.front(), now,
                                 /*room=*/true, send);
    EXPECT_EQ(o.kind, DtlsListener::Outcome::Kind::kCookieSent);
    EXPECT_FALSE(o.channel);
  }
  EXPECT_EQ(answered, 200);  // one HelloVerifyRequest each, nothing kept
  const std::vector<uint8_t> garbage(60, 0x17);
  auto o = (*listener)->accept(Address::v4(198, 51, 100, 2, 1), garbage, now, /*room=*/true,
                               [](auto) {});
  EXPECT_EQ(o.kind, DtlsListener::Outcome::Kind::kDropped);
  EXPECT_FALSE(o.why.empty());
}

// Found by the dtls_record fuzz target (UBSan): an empty datagram on the DTLS
// port reached mbedTLS's read callback, which passed its null data() to
// memcpy. It is dropped like any other datagram that is no ClientHello.
TEST_F(SecurityTest, AnEmptyDatagramIsDroppedByTheListener) {
  auto server_ctx = context(psk_server(), 18);
  auto listener = DtlsListener::create(*server_ctx);
  int sent = 0;
  auto o = (*listener)->accept(Address::v4(198, 51, 100, 3, 1), {}, now, /*room=*/true,
                               [&](auto) { ++sent; });
  EXPECT_EQ(o.kind, DtlsListener::Outcome::Kind::kDropped);
  EXPECT_FALSE(o.channel);
  EXPECT_EQ(sent, 0);
}

TEST(CertificateNamesHost, MatchesSanEntriesByKind) {
  const std::string pem = read("server.pem");
  // DER of the PEM, through the public check only: parse via a round trip.
  auto der_of = [](const std::string& text) {
    const std::string b64 = [&] {
      std::string body;
      std::istringstream in(text);
      for (std::string line; std::getline(in, line);)
        if (line.rfind("-----", 0) != 0) body += line;
      return body;
    }();
    static const std::string kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::vector<uint8_t> out;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : b64) {
      const auto pos = kAlphabet.find(c);
      if (pos == std::string::npos) continue;
      acc = (acc << 6) | static_cast<uint32_t>(pos);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out.push_back(static_cast<uint8_t>(acc >> bits));
      }
    }
    return out;
  };
  const auto der = der_of(pem);
  EXPECT_TRUE(certificate_names_host(der, "coapd.test"));
  EXPECT_TRUE(certificate_names_host(der, "COAPD.TEST"));
  EXPECT_TRUE(certificate_names_host(der, "192.0.2.2"));
  EXPECT_TRUE(certificate_names_host(der, "fd00:c0a9::2"));
  EXPECT_FALSE(certificate_names_host(der, "192.0.2.3"));
  EXPECT_FALSE(certificate_names_host(der, "other.test"));
  EXPECT_FALSE(certificate_names_host(der, "fd00:c0a9::3"));
  EXPECT_FALSE(certificate_names_host({}, "coapd.test"));
}

TEST(SecurityContextCreate, RefusesAKeyThatIsNotTheCertificates) {
  Credentials c;
  c.cert_pem = read("server.pem");
  c.key_pem = read("client.key");
  auto ctx = SecurityContext::create(c, fixed_random(1));
  ASSERT_FALSE(ctx);
  EXPECT_NE(ctx.error().find("not the private key of the certificate"), std::string::npos)
      << ctx.error();
  c.key_pem = read("server.key");
  EXPECT_TRUE(SecurityContext::create(c, fixed_random(1)));
}

TEST(ParsePskKey, TextOrHexOfOneTo32Bytes) {
  EXPECT_EQ(*parse_psk_key("abc"), (std::vector<uint8_t>{'a', 'b', 'c'}));
  EXPECT_EQ(*parse_psk_key("0x0aFF"), (std::vector<uint8_t>{0x0a, 0xff}));
  EXPECT_TRUE(parse_psk_key(std::string(32, 'k')));
  EXPECT_TRUE(parse_psk_key("0x" + std::string(64, 'a')));
  auto text = parse_psk_key(std::string(33, 'k'));
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error(), "is 33 bytes; a PSK is at most 32");
  EXPECT_FALSE(parse_psk_key("0x" + std::string(66, 'a')));
  EXPECT_FALSE(parse_psk_key(""));
  EXPECT_FALSE(parse_psk_key("0x1"));
  EXPECT_FALSE(parse_psk_key("0xzz"));
}

TEST(SecurityNames, AreTheDocumentedOnes) {
  EXPECT_STREQ(handshake_failure_name(HandshakeFailure::kBadPsk), "bad_psk");
  EXPECT_STREQ(handshake_failure_name(HandshakeFailure::kBadCertificate), "bad_certificate");
  EXPECT_STREQ(handshake_failure_name(HandshakeFailure::kLimit), "limit");
  EXPECT_STREQ(security_mode_name(SecurityMode::kX509), "x509");
}

}  // namespace
}  // namespace coap
