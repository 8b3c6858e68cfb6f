// Outgoing DTLS sessions (coaps:// in `coapctl connect` and `session =`):
// kept up like TCP sessions, a new handshake per reconnect, and call-home over
// DTLS, where coapd is the DTLS client and serves the peer's requests.
#include "test/coap/secure_fixture.h"

namespace coap {
namespace {

using namespace coap::test;

class DtlsSessionTest : public SecureFixture {
 protected:
  void SetUp() override {
    Credentials c;
    c.client_psk = PskEntry{"device-1", key("secret-1")};
    make(c, psk_server());
  }
  SessionId open(bool call_home, uint32_t attempts = 0) {
    SessionSpec spec;
    spec.peer = kServerAddr;
    spec.proto = Proto::kUdp;
    spec.secure = true;
    spec.call_home = call_home;
    spec.reconnect_attempts = attempts;
    auto opened = client_->ep->open_session(spec, now);
    EXPECT_TRUE(opened.ok()) << (opened.ok() ? "" : opened.error());
    pump();
    return opened.ok() ? opened->id : 0;
  }
  // The server's session towards the client (the one the handshake made).
  SessionId server_side() {
    const auto s = server_->ep->sessions(now);
    EXPECT_EQ(s.size(), 1u);
    return s.empty() ? 0 : s[0].id;
  }
};

TEST_F(DtlsSessionTest, CallHomeOverDtlsServesThePeersRequests) {
  const SessionId sid = open(/*call_home=*/true);
  EXPECT_EQ(client_->events(),
            (Events{"handshake_done", "session_connected", "server_session_connected"}));
  const auto mine = client_->ep->sessions(now);
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].id, sid);
  EXPECT_EQ(mine[0].proto, Proto::kUdp);
  EXPECT_TRUE(mine[0].secure);
  EXPECT_EQ(mine[0].role, Role::kServer);
  // The peer (a DTLS server) asks coapd over the session coapd opened.
  ClientRequest r;
  r.uri = *parse_uri("coaps://192.0.2.1:40000/time");
  r.session = server_side();
  server_->ep->start_request(7, std::move(r), now);
  pump();
  ASSERT_EQ(server_->listener.count(7), 1u);
  const ClientResult res = server_->listener.result(7);
  ASSERT_EQ(res.status, ClientResult::Status::kResponse) << res.error;
  EXPECT_EQ(res.code, codes::kContent);
  EXPECT_EQ(client_->ep->counters().requests, 1u);
}

TEST_F(DtlsSessionTest, AnOutgoingDtlsSessionIsNeverSweptForBeingQuiet) {
  open(false);
  advance(client_->config.udp_session_timeout * 3);
  EXPECT_EQ(client_->ep->session_count(), 1u);
  EXPECT_EQ(client_->ep->sessions(now)[0].state, SessionState::kEstablished);
}

TEST_F(DtlsSessionTest, ThePeersCloseNotifyMakesANewHandshakeAfterTheInterval) {
  const SessionId sid = open(/*call_home=*/true);
  client_->events();
  ASSERT_TRUE(server_->ep->close_session(server_side(), now));
  pump();
  EXPECT_EQ(client_->events(), (Events{"session_closed"}));
  EXPECT_EQ(client_->ep->sessions(now)[0].state, SessionState::kReconnectWait);
  advance(seconds(1));
  EXPECT_EQ(client_->events(), (Events{"reconnecting(1)", "handshake_done", "session_connected",
                                       "server_session_connected", "reconnect_success(1)"}));
  EXPECT_EQ(client_->ep->sessions(now)[0].id, sid);  // the same session, as for TCP
  EXPECT_EQ(client_->ep->counters().handshakes, 2u);
  EXPECT_EQ(get("coaps://192.0.2.2/time").code, codes::kContent);  // and it carries requests
}

TEST_F(DtlsSessionTest, AFailedHandshakeIsReasonHandshakeAndCountsAsAnAttempt) {
  Credentials wrong;
  wrong.client_psk = PskEntry{"device-1", key("not-the-key")};
  make(wrong, psk_server());
  open(false, /*attempts=*/2);
  EXPECT_EQ(client_->events(), (Events{"handshake_failed", "session_failed"}));
  EXPECT_EQ(client_->last(EventKind::kSessionFailed)->reason, "handshake");
  advance(seconds(5));
  EXPECT_EQ(client_->events(),
            (Events{"reconnecting(1)", "handshake_failed", "reconnect_failed(1)", "reconnecting(2)",
                    "handshake_failed", "reconnect_failed(2)", "reconnect_no_more(2)"}));
  EXPECT_EQ(client_->last(EventKind::kReconnectFailed)->reason, "handshake");
  EXPECT_EQ(client_->ep->session_count(), 0u);
}

TEST_F(DtlsSessionTest, APeerThatStopsAnsweringIsHandshakenWithAgain) {
  open(false);
  client_->events();
  // The peer restarts: it has lost the session and drops what we send.
  server_ = std::make_unique<Node>(&now, psk_server(), 5);
  ClientRequest r;
  r.uri = *parse_uri("coaps://192.0.2.2/time");
  r.timeout = seconds(300);
  client_->ep->start_request(100, std::move(r), now);
  advance(seconds(250));  // all CON retransmissions go unanswered
  ASSERT_EQ(client_->listener.count(100), 1u);
  EXPECT_EQ(client_->listener.result(100).status, ClientResult::Status::kTimeout);
  const Events ev = client_->events();
  ASSERT_GE(ev.size(), 3u);
  EXPECT_EQ(ev[0], "session_failed");
  EXPECT_NE(client_->last(EventKind::kSessionFailed)->reason.find("not answering"),
            std::string::npos);
  EXPECT_EQ(client_->last(EventKind::kReconnectSuccess)->attempt, 1u);
  EXPECT_EQ(get("coaps://192.0.2.2/time").code, codes::kContent);
}

TEST_F(DtlsSessionTest, CloseSendsCloseNotifyAndIsFinal) {
  const SessionId sid = open(false);
  client_->events();
  server_->events();
  ASSERT_TRUE(client_->ep->close_session(sid, now));
  pump();
  EXPECT_EQ(client_->events(), (Events{"session_closed"}));
  EXPECT_EQ(client_->ep->session_count(), 0u);
  // The server heard close_notify and let its session go at once.
  EXPECT_EQ(server_->events(), (Events{"server_session_del"}));
  EXPECT_EQ(server_->ep->session_count(), 0u);
  advance(seconds(10));
  EXPECT_EQ(client_->ep->session_count(), 0u);
}

TEST_F(DtlsSessionTest, OneDtlsSessionPerPeerAddress) {
  const SessionId sid = open(false);
  SessionSpec again;
  again.peer = kServerAddr;
  again.proto = Proto::kUdp;
  again.secure = true;
  auto same = client_->ep->open_session(again, now);
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->existed);
  EXPECT_EQ(same->id, sid);
  // Plain UDP has nothing to keep up.
  again.secure = false;
  auto plain = client_->ep->open_session(again, now);
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(plain.error().find("DTLS"), std::string::npos);
}

TEST_F(DtlsSessionTest, ARequestsDtlsSessionBecomesTheOutgoingSession) {
  ASSERT_EQ(get("coaps://192.0.2.2/time").code, codes::kContent);
  client_->events();
  const SessionId first = client_->ep->sessions(now)[0].id;
  EXPECT_EQ(open(false), first);
  EXPECT_EQ(client_->events(), (Events{"session_connected"}));
  EXPECT_EQ(client_->ep->counters().handshakes, 1u);
}

}  // namespace
}  // namespace coap
