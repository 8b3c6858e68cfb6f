// Outgoing CoAP-over-TCP sessions: connecting, CSM, reconnect with backoff
// and attempt limits, connect timeouts, closing in every state, and
// call-home role reversal (RFC 8323 section 3 and 5). Every test asserts the
// full event sequence: each event exactly once, none after the fact.
#include <gtest/gtest.h>

#include "test/coap/endpoint_fixture.h"

namespace coap {
namespace {

using namespace coap::test;

class EndpointSessionTest : public EndpointTest {
 protected:
  SessionId open(const SessionSpec& spec) {
    auto opened = ep().open_session(spec, now);
    EXPECT_TRUE(opened.ok()) << (opened.ok() ? "" : opened.error());
    return opened.ok() ? opened->id : 0;
  }
  SessionSpec spec_to(const Address& peer = kServerPeer) {
    SessionSpec s;
    s.peer = peer;
    return s;
  }
  // Completes the TCP handshake and the CSM exchange of conn c.
  void connect_and_establish(ConnId c) {
    ep().on_tcp_connected(c, kLocal, now);
    const auto f = frames(c);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].code, codes::kCsm);
    tcp_in(c, csm());
  }
  // Checks that all events since the last take() belong to session id.
  void expect_session(SessionId id) {
    for (const Event& e : listener.peek()) EXPECT_EQ(e.session, id) << e.name();
  }
  const SessionInfo* info(SessionId id) {
    infos_ = ep().sessions(now);
    for (const SessionInfo& s : infos_)
      if (s.id == id) return &s;
    return nullptr;
  }

 private:
  std::vector<SessionInfo> infos_;
};

TEST_F(EndpointSessionTest, OpenSessionConnectsAndEstablishes) {
  const SessionId id = open(spec_to());
  const ConnId c = net.last_connect();
  ASSERT_NE(c, 0u);
  EXPECT_EQ(net.connect_peer[c], kServerPeer);
  EXPECT_EQ(events(), Events{});
  ASSERT_TRUE(info(id));
  EXPECT_EQ(info(id)->state, SessionState::kConnecting);
  EXPECT_EQ(info(id)->role, Role::kClient);
  EXPECT_TRUE(info(id)->outgoing);
  EXPECT_FALSE(info(id)->call_home);

  // Opening it again finds the same session and starts nothing.
  auto again = ep().open_session(spec_to(), now);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id, id);
  EXPECT_TRUE(again->existed);
  EXPECT_EQ(net.connects().size(), 1u);

  ep().on_tcp_connected(c, kLocal, now);
  expect_session(id);
  EXPECT_EQ(events(), Events{"tcp_connected"});
  EXPECT_EQ(info(id)->state, SessionState::kCsmWait);
  EXPECT_EQ(info(id)->local, kLocal);
  const auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, codes::kCsm);
  tcp_in(c, csm());
  expect_session(id);
  EXPECT_EQ(events(), Events{"session_connected"});
  EXPECT_EQ(info(id)->state, SessionState::kEstablished);
}

TEST_F(EndpointSessionTest, OpenSessionNeedsAnAddressAndPort) {
  SessionSpec s;
  auto opened = ep().open_session(s, now);
  ASSERT_FALSE(opened.ok());
  EXPECT_FALSE(opened.error().empty());
  s.peer = kServerPeer;
  s.peer.port = 0;
  EXPECT_FALSE(ep().open_session(s, now).ok());
  EXPECT_TRUE(net.connects().empty());
  EXPECT_EQ(events(), Events{});
}

TEST_F(EndpointSessionTest, CallHomeSessionServesRequests) {
  SessionSpec s = spec_to();
  s.call_home = true;
  const SessionId id = open(s);
  const ConnId c = net.last_connect();
  EXPECT_EQ(info(id)->role, Role::kServer);
  EXPECT_TRUE(info(id)->call_home);
  connect_and_establish(c);
  expect_session(id);
  EXPECT_EQ(events(), (Events{"tcp_connected", "session_connected", "server_session_connected"}));
  tcp_in(c, tcp_msg(codes::kGet, tok({1}), path_opts("/time")));
  const auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, codes::kContent);
  // A call-home session and a client session to the same peer are distinct.
  net.one_conn_per_peer = false;
  auto other = ep().open_session(spec_to(), now);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->existed);
  EXPECT_NE(other->id, id);
  EXPECT_EQ(events(), Events{});
}

TEST_F(EndpointSessionTest, ReconnectWithExponentialBackoff) {
  SessionSpec s = spec_to();
  s.reconnect_interval = seconds(1);
  s.reconnect_max_interval = seconds(8);
  const SessionId id = open(s);
  ConnId c = net.last_connect();
  tcp_error(c, TcpError::kUnreachable);
  expect_session(id);
  EXPECT_EQ(events(), (Events{"tcp_failed", "session_failed"}));
  EXPECT_EQ(listener.last().reason, "unreachable");
  EXPECT_EQ(info(id)->state, SessionState::kReconnectWait);

  // Delay before attempt k: 1, 2, 4, 8, 8 seconds.
  const Duration delays[] = {seconds(1), seconds(2), seconds(4), seconds(8), seconds(8)};
  for (uint32_t k = 1; k <= 5; ++k) {
    const TimePoint failed_at = now;
    advance(delays[k - 1] - milliseconds(1));
    EXPECT_EQ(net.last_connect(), c) << "attempt " << k << " started early";
    advance(milliseconds(1));
    ASSERT_NE(net.last_connect(), c) << "attempt " << k;
    c = net.last_connect();
    EXPECT_EQ(net.calls.back().at - failed_at, delays[k - 1]);
    EXPECT_EQ(events(), Events{"reconnecting(" + std::to_string(k) + ")"});
    EXPECT_EQ(info(id)->reconnect_attempt, k);
    if (k < 5) {
      tcp_error(c, TcpError::kUnreachable);
      expect_session(id);
      EXPECT_EQ(events(), (Events{"tcp_failed", "reconnect_failed(" + std::to_string(k) + ")"}));
      EXPECT_EQ(listener.last().reason, "unreachable");
    }
  }
  connect_and_establish(c);
  expect_session(id);
  EXPECT_EQ(events(), (Events{"tcp_connected", "session_connected", "reconnect_success(5)"}));
  EXPECT_EQ(info(id)->reconnect_attempt, 0u);
  EXPECT_EQ(ep().session_count(), 1u);

  // Losing the established connection starts over at attempt 1, after the
  // base interval.
  tcp_error(c, TcpError::kReset);
  EXPECT_EQ(events(), (Events{"tcp_failed", "session_failed"}));
  advance(seconds(1));
  EXPECT_EQ(events(), Events{"reconnecting(1)"});
  EXPECT_EQ(info(id)->id, id);
}

TEST_F(EndpointSessionTest, ReconnectAttemptsLimit) {
  SessionSpec s = spec_to();
  s.reconnect_attempts = 2;
  const SessionId id = open(s);
  tcp_error(net.last_connect(), TcpError::kUnreachable);
  EXPECT_EQ(events(), (Events{"tcp_failed", "session_failed"}));
  advance(seconds(1));
  EXPECT_EQ(events(), Events{"reconnecting(1)"});
  tcp_error(net.last_connect(), TcpError::kReset);
  EXPECT_EQ(events(), (Events{"tcp_failed", "reconnect_failed(1)"}));
  advance(seconds(1));
  EXPECT_EQ(events(), Events{"reconnecting(2)"});
  tcp_error(net.last_connect(), TcpError::kReset);
  expect_session(id);
  EXPECT_EQ(events(), (Events{"tcp_failed", "reconnect_failed(2)", "reconnect_no_more(2)"}));
  EXPECT_EQ(ep().session_count(), 0u);
  EXPECT_FALSE(ep().close_session(id, now));
  advance(seconds(3600));
  EXPECT_EQ(net.connects().size(), 3u);
  EXPECT_EQ(events(), Events{});
}

TEST_F(EndpointSessionTest, NoReconnectWhenDisabled) {
  SessionSpec s = spec_to();
  s.reconnect = false;
  open(s);
  tcp_error(net.last_connect(), TcpError::kUnreachable);
  EXPECT_EQ(events(), (Events{"tcp_failed", "session_failed"}));
  EXPECT_EQ(ep().session_count(), 0u);
  advance(seconds(60));
  EXPECT_EQ(net.connects().size(), 1u);
}

TEST_F(EndpointSessionTest, ConnectTimeoutAbortsTheAttemptBeforeTheNextStarts) {
  ASSERT_EQ(config.connect_timeout, seconds(10));
  const SessionId id = open(spec_to());
  const ConnId c0 = net.last_connect();
  advance(seconds(10) - milliseconds(1));
  EXPECT_EQ(net.ops(c0), std::vector<std::string>{"connect"});
  advance(milliseconds(1));
  EXPECT_EQ(net.ops(c0), (std::vector<std::string>{"connect", "abort"}));
  expect_session(id);
  EXPECT_EQ(events(), (Events{"tcp_failed", "session_failed"}));
  EXPECT_EQ(listener.last().reason, "timeout");

  advance(seconds(1));
  const ConnId c1 = net.last_connect();
  ASSERT_NE(c1, c0);
  EXPECT_EQ(events(), Events{"reconnecting(1)"});

  // Late callbacks for the aborted attempt change nothing.
  const std::size_t calls = net.calls.size();
  ep().on_tcp_error(c0, TcpError::kAborted, now);
  ep().on_tcp_connected(c0, kLocal, now);
  ep().on_tcp_data(c0, csm(), now);
  EXPECT_EQ(net.calls.size(), calls);
  EXPECT_EQ(events(), Events{});
  EXPECT_EQ(info(id)->state, SessionState::kConnecting);

  connect_and_establish(c1);
  EXPECT_EQ(events(), (Events{"tcp_connected", "session_connected", "reconnect_success(1)"}));
  // The first attempt's connect timer does not touch the new connection.
  advance(seconds(30));
  EXPECT_EQ(net.ops(c1), std::vector<std::string>{"connect"});
  EXPECT_EQ(events(), Events{});
}

TEST_F(EndpointSessionTest, CloseWhileConnecting) {
  const SessionId id = open(spec_to());
  const ConnId c = net.last_connect();
  EXPECT_TRUE(ep().close_session(id, now));
  EXPECT_EQ(net.ops(c), (std::vector<std::string>{"connect", "abort"}));
  expect_session(id);
  EXPECT_EQ(events(), Events{"session_closed"});
  EXPECT_EQ(listener.last().reason, "closed by request");
  EXPECT_EQ(ep().session_count(), 0u);
  EXPECT_FALSE(ep().close_session(id, now));
  advance(seconds(3600));
  EXPECT_EQ(net.connects().size(), 1u);
  EXPECT_EQ(events(), Events{});
}

TEST_F(EndpointSessionTest, CloseWhileWaitingToReconnect) {
  const SessionId id = open(spec_to());
  tcp_error(net.last_connect(), TcpError::kUnreachable);
  EXPECT_EQ(events(), (Events{"tcp_failed", "session_failed"}));
  EXPECT_TRUE(ep().close_session(id, now));
  EXPECT_EQ(events(), Events{"session_closed"});
  advance(seconds(3600));
  EXPECT_EQ(net.connects().size(), 1u);
  EXPECT_EQ(events(), Events{});
}

TEST_F(EndpointSessionTest, CloseWhileWaitingForThePeersCsm) {
  // The connection is up, the peer's CSM not there yet: a close by request
  // is a close (Release, FIN), not a failure, on the first attempt and on a
  // reconnect attempt alike.
  for (const bool reconnecting : {false, true}) {
    const SessionId id = open(spec_to());
    if (reconnecting) {
      tcp_error(net.last_connect(), TcpError::kReset);
      advance(seconds(1));
      EXPECT_EQ(events(), (Events{"tcp_failed", "session_failed", "reconnecting(1)"}));
    }
    const ConnId c = net.last_connect();
    ep().on_tcp_connected(c, kLocal, now);
    EXPECT_EQ(events(), Events{"tcp_connected"});
    EXPECT_TRUE(ep().close_session(id, now));
    const auto f = frames(c);
    ASSERT_EQ(f.size(), 2u);
    EXPECT_EQ(f[0].code, codes::kCsm);
    EXPECT_EQ(f[1].code, codes::kRelease);
    EXPECT_EQ(net.count("close", c), 1u);
    expect_session(id);
    EXPECT_EQ(events(), (Events{"tcp_closed", "session_closed"}))
        << "reconnecting " << reconnecting;
    EXPECT_EQ(listener.last().reason, "closed by request");
    EXPECT_EQ(ep().session_count(), 0u);
    const std::size_t connects = net.connects().size();
    advance(seconds(3600));
    EXPECT_EQ(net.connects().size(), connects);
    EXPECT_EQ(events(), Events{});
  }
}

TEST_F(EndpointSessionTest, CloseEstablishedSendsReleaseAndDoesNotReconnect) {
  const SessionId id = open(spec_to());
  const ConnId c = net.last_connect();
  connect_and_establish(c);
  EXPECT_EQ(events(), (Events{"tcp_connected", "session_connected"}));
  EXPECT_TRUE(ep().close_session(id, now));
  EXPECT_EQ(info(id)->state, SessionState::kClosing);
  EXPECT_EQ(net.count("close", c), 0u);
  const auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, codes::kRelease);
  EXPECT_EQ(net.ops(c), (std::vector<std::string>{"connect", "close"}));
  EXPECT_EQ(events(), (Events{"tcp_closed", "session_closed"}));
  EXPECT_EQ(ep().session_count(), 0u);
  advance(seconds(3600));
  EXPECT_EQ(net.connects().size(), 1u);
}

TEST_F(EndpointSessionTest, PeerReleaseOfAnOutgoingSessionReconnects) {
  const SessionId id = open(spec_to());
  const ConnId c = net.last_connect();
  connect_and_establish(c);
  events();
  tcp_in(c, tcp_msg(codes::kRelease, Token{}));
  EXPECT_EQ(events(), (Events{"tcp_closed", "session_closed"}));
  EXPECT_EQ(info(id)->state, SessionState::kReconnectWait);
  advance(seconds(1));
  EXPECT_EQ(events(), Events{"reconnecting(1)"});
  connect_and_establish(net.last_connect());
  EXPECT_EQ(events(), (Events{"tcp_connected", "session_connected", "reconnect_success(1)"}));
}

TEST_F(EndpointSessionTest, AttemptThatConnectsButNeverEstablishesCountsAsFailed) {
  // An attempt whose TCP connection comes up but whose CSM never arrives has
  // failed: it is reported as reconnect_failed(k), and it counts towards
  // reconnect_attempts and the backoff.
  SessionSpec s = spec_to();
  s.reconnect_attempts = 2;
  s.reconnect_max_interval = seconds(4);
  const SessionId id = open(s);
  tcp_error(net.last_connect(), TcpError::kUnreachable);
  EXPECT_EQ(events(), (Events{"tcp_failed", "session_failed"}));
  advance(seconds(1));
  EXPECT_EQ(events(), Events{"reconnecting(1)"});
  ConnId c = net.last_connect();
  ep().on_tcp_connected(c, kLocal, now);
  frames(c);
  ep().on_tcp_peer_closed(c, now);  // the server accepts, then closes at once
  EXPECT_EQ(events(), (Events{"tcp_connected", "tcp_closed", "reconnect_failed(1)"}));
  advance(seconds(2));
  EXPECT_EQ(events(), Events{"reconnecting(2)"});
  c = net.last_connect();
  ep().on_tcp_connected(c, kLocal, now);
  frames(c);
  advance(config.csm_timeout);  // this time the CSM never comes
  frames(c);
  expect_session(id);
  EXPECT_EQ(events(),
            (Events{"tcp_connected", "tcp_closed", "reconnect_failed(2)", "reconnect_no_more(2)"}));
  EXPECT_EQ(ep().session_count(), 0u);
  advance(seconds(3600));
  EXPECT_EQ(net.connects().size(), 3u);
}

TEST_F(EndpointSessionTest, FirstAttemptThatNeverEstablishesIsASessionFailure) {
  SessionSpec s = spec_to();
  s.reconnect_attempts = 1;
  open(s);
  const ConnId c = net.last_connect();
  ep().on_tcp_connected(c, kLocal, now);
  frames(c);
  ep().on_tcp_peer_closed(c, now);
  EXPECT_EQ(events(), (Events{"tcp_connected", "tcp_closed", "session_failed"}));
  advance(seconds(1));
  EXPECT_EQ(events(), Events{"reconnecting(1)"});
  tcp_error(net.last_connect(), TcpError::kReset);
  EXPECT_EQ(events(), (Events{"tcp_failed", "reconnect_failed(1)", "reconnect_no_more(1)"}));
}

TEST_F(EndpointSessionTest, CallHomeListenerSessionBecomesAClient) {
  const Address device = Address::v4(192, 0, 2, 30, 40123);
  const ConnId c = accept(ListenerKind::kCallHome, device);
  EXPECT_EQ(events(), (Events{"server_session_new", "tcp_connected"}));
  const SessionId id = listener.last().session;
  frames(c);
  tcp_in(c, csm(1152, true));
  expect_session(id);
  EXPECT_EQ(events(), (Events{"session_connected", "role_changed"}));
  EXPECT_EQ(listener.last().reason, "client");
  EXPECT_EQ(info(id)->role, Role::kClient);

  // A request to the device's address goes over the connection it opened,
  // whatever its source port.
  request(1, get_request("coap+tcp://192.0.2.30/sensors/temp"));
  EXPECT_TRUE(net.connects().empty());
  auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, codes::kGet);
  EXPECT_EQ(f[0].path(), "/sensors/temp");
  tcp_in(c, tcp_msg(codes::kContent, f[0].token, {}, "21.5"));
  EXPECT_EQ(listener.result(1).code, codes::kContent);
  EXPECT_EQ(listener.result(1).session, id);
  EXPECT_EQ(string_of(listener.result(1).payload), "21.5");

  // Or by session id.
  ClientRequest r = get_request("coap+tcp://192.0.2.30/x");
  r.session = id;
  request(2, r);
  f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  tcp_in(c, tcp_msg(codes::kNotFound, f[0].token));
  EXPECT_EQ(listener.result(2).code, codes::kNotFound);
  EXPECT_EQ(events(), Events{});

  // The device hanging up ends it like any accepted session.
  tcp_error(c, TcpError::kReset);
  EXPECT_EQ(events(), (Events{"tcp_failed", "session_failed", "server_session_del"}));
}

TEST_F(EndpointSessionTest, ShutdownReleasesOutgoingSessionsWithoutReconnect) {
  const SessionId a = open(spec_to());
  connect_and_establish(net.last_connect());
  const ConnId ca = net.last_connect();
  SessionSpec sb = spec_to(Address::v4(198, 51, 100, 6, 5683));
  open(sb);
  const ConnId cb = net.last_connect();
  events();
  ep().shutdown(now);
  EXPECT_EQ(net.ops(cb), (std::vector<std::string>{"connect", "abort"}));
  const auto f = frames(ca);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, codes::kRelease);
  EXPECT_EQ(net.ops(ca), (std::vector<std::string>{"connect", "close"}));
  EXPECT_EQ(events(), (Events{"session_closed", "tcp_closed", "session_closed"}));
  EXPECT_EQ(ep().session_count(), 0u);
  advance(seconds(3600));
  EXPECT_EQ(net.connects().size(), 2u);
  (void)a;
}

TEST_F(EndpointSessionTest, AReleaseWithAlternativeAddressAndHoldOffIsHonoured) {
  SessionSpec s = spec_to();
  s.reconnect_interval = seconds(1);
  const SessionId id = open(s);
  const ConnId c = net.last_connect();
  connect_and_establish(c);
  events();
  tcp_in(c, tcp_msg(codes::kRelease, Token{},
                    {opt_str(opt::kReleaseAlternativeAddress, "203.0.113.7:5699"),
                     opt_uint(opt::kReleaseHoldOff, 5)}));
  write_all(c);
  expect_session(id);
  EXPECT_EQ(events(), (Events{"tcp_closed", "session_closed"}));
  EXPECT_EQ(listener.last().reason,
            "released by peer, alternative-address 203.0.113.7:5699, hold-off 5 s");
  EXPECT_EQ(net.count("close", c), 1u);
  advance(seconds(5) - milliseconds(1));
  EXPECT_EQ(net.last_connect(), c) << "reconnected before the Hold-Off";
  advance(milliseconds(1));
  const ConnId next = net.last_connect();
  ASSERT_NE(next, c);
  EXPECT_EQ(net.connect_peer[next], Address::v4(203, 0, 113, 7, 5699));
  EXPECT_EQ(info(id)->peer, Address::v4(203, 0, 113, 7, 5699));
  // The Hold-Off was for that reconnect only.
  tcp_error(next, TcpError::kUnreachable);
  const TimePoint failed_at = now;
  advance(seconds(1));
  EXPECT_NE(net.last_connect(), next);
  EXPECT_EQ(net.calls.back().at - failed_at, seconds(1));
  EXPECT_EQ(net.connect_peer[net.last_connect()], Address::v4(203, 0, 113, 7, 5699));
}

TEST_F(EndpointSessionTest, AnUnusableAlternativeAddressIsSaidAndIgnored) {
  const SessionId id = open(spec_to());
  const ConnId c = net.last_connect();
  connect_and_establish(c);
  events();
  tcp_in(c, tcp_msg(codes::kRelease, Token{},
                    {opt_str(opt::kReleaseAlternativeAddress, "gateway.example")}));
  write_all(c);
  expect_session(id);
  EXPECT_NE(listener.last().reason.find("'gateway.example' unusable"), std::string::npos)
      << listener.last().reason;
  advance(seconds(1));
  EXPECT_EQ(net.connect_peer[net.last_connect()], kServerPeer);
}

}  // namespace
}  // namespace coap
