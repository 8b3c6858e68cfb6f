// coaps:// and coaps+tcp:// end to end inside the protocol core: two
// Endpoints wired to each other in memory (datagrams and TCP bytes moved by
// the test), one the client, one the server, with the fake clock.
#include "test/coap/secure_fixture.h"

namespace coap {
namespace {

using namespace coap::test;
using EndpointSecureTest = SecureFixture;

TEST_F(EndpointSecureTest, CoapsGetAfterACookieAndAPskHandshake) {
  Credentials c;
  c.client_psk = PskEntry{"device-1", key("secret-1")};
  make(c, psk_server());
  const ClientResult r = get("coaps://192.0.2.2/time");
  ASSERT_EQ(r.status, ClientResult::Status::kResponse) << r.error;
  EXPECT_EQ(r.code, codes::kContent);
  EXPECT_EQ(server_->ep->counters().dtls_cookies_sent, 1u);
  EXPECT_EQ(server_->ep->counters().handshakes, 1u);
  EXPECT_EQ(client_->ep->counters().handshakes, 1u);
  EXPECT_EQ(server_->events(), (Events{"server_session_new", "handshake_done"}));
  const Event* done = server_->last(EventKind::kHandshakeDone);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->security, "psk");
  EXPECT_EQ(done->peer_identity, "device-1");
  EXPECT_FALSE(done->cipher.empty());
  const auto s = server_->ep->sessions(now);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_TRUE(s[0].secure);
  EXPECT_EQ(s[0].proto, Proto::kUdp);
  EXPECT_EQ(s[0].security.mode, SecurityMode::kPsk);
  EXPECT_EQ(s[0].security.peer_identity, "device-1");
  // Every datagram the client sent went to the DTLS socket.
  for (const auto& d : client_->net.datagrams) EXPECT_EQ(d.socket, UdpSocket::kSecure);
  // A second request reuses the session: no new handshake.
  EXPECT_EQ(get("coaps://192.0.2.2/time").status, ClientResult::Status::kResponse);
  EXPECT_EQ(server_->ep->counters().handshakes, 1u);
}

TEST_F(EndpointSecureTest, AWrongPskFailsTheRequestAndLeavesNoSession) {
  Credentials c;
  c.client_psk = PskEntry{"device-1", key("wrong")};
  make(c, psk_server());
  const ClientResult r = get("coaps://192.0.2.2/time");
  EXPECT_EQ(r.status, ClientResult::Status::kError);
  EXPECT_NE(r.error.find("DTLS"), std::string::npos) << r.error;
  const Event* failed = server_->last(EventKind::kHandshakeFailed);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->reason, "bad_psk") << failed->detail;
  EXPECT_EQ(server_->ep->counters().handshake_failures, 1u);
  EXPECT_EQ(server_->ep->session_count(), 0u);
  EXPECT_EQ(client_->ep->session_count(), 0u);
}

TEST_F(EndpointSecureTest, CoapsTcpWithACertificateVerifiedByAddress) {
  Credentials c;
  c.ca_pem = read_cert("ca.pem");
  make(c, cert_server());
  const ClientResult r = get("coaps+tcp://192.0.2.2/time");
  ASSERT_EQ(r.status, ClientResult::Status::kResponse) << r.error;
  const auto s = client_->ep->sessions(now);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].proto, Proto::kTcp);
  EXPECT_TRUE(s[0].secure);
  EXPECT_EQ(s[0].security.mode, SecurityMode::kX509);
  EXPECT_NE(s[0].security.peer_identity.find("coapd.test"), std::string::npos);
  EXPECT_EQ(server_->events(),
            (Events{"server_session_new", "tcp_connected", "handshake_done", "session_connected"}));
  // Closing: close_notify, then FIN on both sides, never RST.
  ASSERT_TRUE(client_->ep->close_session(s[0].id, now));
  pump();
  for (ConnId c2 : client_->net.connects()) EXPECT_EQ(client_->net.count("abort", c2), 0u);
  EXPECT_EQ(server_->net.count("abort"), 0u);
}

TEST_F(EndpointSecureTest, AServerCertificateForAnotherHostIsRefused) {
  Credentials c;
  c.ca_pem = read_cert("ca.pem");
  make(c, cert_server());
  ClientSecurity opt;
  opt.host = "other.test";  // the URI's address is right, the name is not
  const ClientResult r = get("coaps+tcp://192.0.2.2/time", opt);
  EXPECT_NE(r.status, ClientResult::Status::kResponse);
  const Event* failed = client_->last(EventKind::kHandshakeFailed);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->reason, "bad_certificate") << failed->detail;
}

TEST_F(EndpointSecureTest, AHandshakeThatStallsTimesOut) {
  Credentials c;
  c.client_psk = PskEntry{"device-1", key("secret-1")};
  make(c, psk_server());
  ClientRequest r;
  r.uri = *parse_uri("coaps://192.0.2.2/time");
  client_->ep->start_request(1, std::move(r), now);
  move_datagrams(*client_, *server_, kClientAddr);  // ClientHello
  move_datagrams(*server_, *client_, kServerAddr);  // HelloVerifyRequest
  move_datagrams(*client_, *server_, kClientAddr);  // ClientHello with the cookie
  ASSERT_EQ(server_->ep->session_count(), 1u);
  drop_datagrams_ = true;  // from now on the client is silent, the server unheard
  advance(server_->config.handshake_timeout + seconds(1));
  const Event* failed = server_->last(EventKind::kHandshakeFailed);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->reason, "timeout");
  EXPECT_EQ(server_->ep->session_count(), 0u);
  drop_datagrams_ = false;
}

TEST_F(EndpointSecureTest, HandshakesBeyondTheLimitAreRefusedAndCounted) {
  Credentials c;
  c.client_psk = PskEntry{"device-1", key("secret-1")};
  make(c, psk_server());
  server_->config.max_handshakes = 1;
  server_->ep =
      std::make_unique<Endpoint>(server_->config, server_->dir, server_->net, server_->listener, 3);
  ASSERT_TRUE(server_->ep->set_security(server_->security.get()).ok());
  // Two clients' ClientHellos reach the server; the second after the cookie
  // of the first is back.
  Node other(&now, c, 9);
  ClientRequest r1, r2;
  r1.uri = *parse_uri("coaps://192.0.2.2/time");
  r2.uri = r1.uri;
  client_->ep->start_request(1, std::move(r1), now);
  move_datagrams(*client_, *server_, kClientAddr);
  move_datagrams(*server_, *client_, kServerAddr);
  move_datagrams(*client_, *server_, kClientAddr);  // with the cookie: a handshake under way
  const Address other_addr = Address::v4(192, 0, 2, 9, 40000);
  other.ep->start_request(2, std::move(r2), now);
  move_datagrams(other, *server_, other_addr);  // a cookie, as for anybody
  EXPECT_EQ(server_->ep->counters().dtls_cookies_sent, 2u);
  move_datagrams(*server_, other, kServerAddr);
  server_->net.datagrams.clear();
  move_datagrams(other, *server_, other_addr);  // with its cookie: refused
  // ... before its handshake cost anything: no server flight went out.
  EXPECT_TRUE(server_->net.datagrams.empty());
  const Event* refused = server_->last(EventKind::kHandshakeFailed);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->reason, "limit");
  EXPECT_EQ(server_->ep->counters().handshake_failures, 1u);
  other.ep->shutdown(now);
}

TEST_F(EndpointSecureTest, TlsConnectionsBeyondTheHandshakeLimitAreClosed) {
  Credentials c;
  c.ca_pem = read_cert("ca.pem");
  make(c, cert_server());
  server_->config.max_handshakes = 1;
  server_->ep =
      std::make_unique<Endpoint>(server_->config, server_->dir, server_->net, server_->listener, 3);
  ASSERT_TRUE(server_->ep->set_security(server_->security.get()).ok());
  const Address second = Address::v4(192, 0, 2, 9, 41000);
  server_->ep->on_tcp_accepted(1, ListenerKind::kSecure, kClientAddr, kServerAddr, now);
  server_->events();
  server_->ep->on_tcp_accepted(2, ListenerKind::kSecure, second, kServerAddr, now);
  EXPECT_EQ(server_->events(), (Events{"server_session_new", "tcp_connected", "handshake_failed",
                                       "tcp_closed", "session_failed", "server_session_del"}));
  EXPECT_EQ(server_->last(EventKind::kHandshakeFailed)->reason, "limit");
  EXPECT_EQ(server_->net.count("close", 2), 1u);  // FIN, not RST
  EXPECT_EQ(server_->net.count("abort", 2), 0u);
  EXPECT_EQ(server_->ep->counters().handshake_failures, 1u);
  server_->ep->on_tcp_peer_closed(1, now);
}

TEST_F(EndpointSecureTest, ATlsConnectionOverTheSessionLimitGetsNoPlaintextOnlyAFin) {
  make({}, cert_server());
  server_->config.max_tcp_sessions = 1;
  server_->ep =
      std::make_unique<Endpoint>(server_->config, server_->dir, server_->net, server_->listener, 3);
  ASSERT_TRUE(server_->ep->set_security(server_->security.get()).ok());
  server_->ep->on_tcp_accepted(1, ListenerKind::kSecure, kClientAddr, kServerAddr, now);
  server_->events();
  const Address second = Address::v4(192, 0, 2, 9, 41000);
  server_->ep->on_tcp_accepted(2, ListenerKind::kSecure, second, kServerAddr, now);
  EXPECT_EQ(server_->events(), (Events{"session_rejected"}));
  EXPECT_TRUE(server_->ep->tcp_pending(2).empty());  // no CSM, no Abort: no TLS to carry them
  EXPECT_EQ(server_->net.count("close", 2), 1u);     // FIN, not RST
  EXPECT_EQ(server_->net.count("abort", 2), 0u);
  EXPECT_EQ(server_->ep->counters().tcp_rejected, 1u);
  server_->ep->on_tcp_peer_closed(1, now);
}

TEST_F(EndpointSecureTest, CoapdsOwnTlsHandshakesCountAgainstTheLimit) {
  Credentials c;
  c.ca_pem = read_cert("ca.pem");
  make(c, cert_server());
  client_->config.max_handshakes = 1;
  client_->ep =
      std::make_unique<Endpoint>(client_->config, client_->dir, client_->net, client_->listener, 4);
  ASSERT_TRUE(client_->ep->set_security(client_->security.get()).ok());
  // Two requests to two servers that accept and never answer.
  ClientRequest r1, r2;
  r1.uri = *parse_uri("coaps+tcp://192.0.2.2/time");
  r2.uri = *parse_uri("coaps+tcp://192.0.2.3/time");
  client_->ep->start_request(1, std::move(r1), now);
  client_->ep->start_request(2, std::move(r2), now);
  const auto conns = client_->net.connects();
  ASSERT_EQ(conns.size(), 2u);
  client_->ep->on_tcp_connected(conns[0], kClientAddr, now);
  EXPECT_FALSE(client_->ep->tcp_pending(conns[0]).empty());  // its ClientHello
  client_->ep->on_tcp_connected(conns[1], kClientAddr, now);
  EXPECT_TRUE(client_->ep->tcp_pending(conns[1]).empty());  // no ClientHello
  EXPECT_EQ(client_->net.count("close", conns[1]), 1u);
  const Event* refused = client_->last(EventKind::kHandshakeFailed);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->reason, "limit");
  ASSERT_EQ(client_->listener.count(2), 1u);
  const ClientResult r = client_->listener.result(2);
  EXPECT_EQ(r.status, ClientResult::Status::kError);
  EXPECT_NE(r.error.find("too many TLS handshakes"), std::string::npos) << r.error;
  EXPECT_EQ(client_->listener.count(1), 0u);  // the first still waits for its server
  client_->ep->on_tcp_error(conns[0], TcpError::kReset, now);
  EXPECT_EQ(client_->listener.count(1), 1u);
}

}  // namespace
}  // namespace coap
