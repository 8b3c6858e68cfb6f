// Two Endpoints wired to each other in memory (datagrams and TCP bytes moved
// by the test), one the client, one the server, with the fake clock: the
// fixture of the coaps:// and coaps+tcp:// tests.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "test/coap/endpoint_fixture.h"

namespace coap::test {

inline const Address kClientAddr = Address::v4(192, 0, 2, 1, 40000);
inline const Address kServerAddr = Address::v4(192, 0, 2, 2, 5684);

inline std::string read_cert(const std::string& name) {
  std::ifstream in(std::string(COAPD_TEST_CERTS) + "/" + name);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::vector<uint8_t> key(std::string_view s) { return {s.begin(), s.end()}; }

inline std::unique_ptr<SecurityContext> make_context(const Credentials& c, uint64_t seed) {
  auto rng = std::make_shared<std::mt19937_64>(seed);
  auto ctx = SecurityContext::create(c, [rng](std::span<uint8_t> out) {
    for (uint8_t& b : out) b = static_cast<uint8_t>((*rng)());
  });
  EXPECT_TRUE(ctx.ok()) << (ctx.ok() ? "" : ctx.error());
  return ctx.ok() ? std::move(*ctx) : nullptr;
}

// One endpoint with everything it needs.
struct Node {
  Node(const TimePoint* clock, Credentials creds, uint64_t seed) : net(clock) {
    config.amplification_factor = 0;
    add_builtin_resources(dir, {});
    security = make_context(creds, seed);
    ep = std::make_unique<Endpoint>(config, dir, net, listener, seed);
    const Status st = ep->set_security(security.get());
    EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error());
  }
  std::vector<std::string> events() { return listener.take(); }
  const Event* last(EventKind kind) const {
    for (auto it = listener.events.rbegin(); it != listener.events.rend(); ++it)
      if (it->kind == kind) return &*it;
    return nullptr;
  }

  EndpointConfig config;
  ResourceDirectory dir;
  FakeNetworkIo net;
  RecordingListener listener;
  std::unique_ptr<SecurityContext> security;
  std::unique_ptr<Endpoint> ep;
};

class SecureFixture : public ::testing::Test {
 protected:
  static Credentials psk_server() {
    Credentials c;
    c.psk = {{"device-1", key("secret-1")}};
    return c;
  }
  static Credentials cert_server() {
    Credentials c;
    c.cert_pem = read_cert("server.pem");
    c.key_pem = read_cert("server.key");
    return c;
  }
  void make(Credentials client, Credentials server) {
    client_ = std::make_unique<Node>(&now, std::move(client), 1);
    server_ = std::make_unique<Node>(&now, std::move(server), 2);
  }
  // Moves datagrams and TCP bytes both ways until both are quiet.
  void pump() {
    for (int round = 0; round < 100; ++round) {
      bool moved = move_datagrams(*client_, *server_, kClientAddr);
      moved |= move_datagrams(*server_, *client_, kServerAddr);
      moved |= move_tcp();
      if (!moved) return;
    }
    ADD_FAILURE() << "traffic did not settle";
  }
  bool move_datagrams(Node& from, Node& to, const Address& from_addr) {
    auto d = std::move(from.net.datagrams);
    from.net.datagrams.clear();
    for (auto& g : d) {
      if (drop_datagrams_) continue;
      to.ep->on_datagram(g.socket, from_addr, g.bytes, now);
    }
    return !d.empty();
  }
  bool move_tcp() {
    bool moved = false;
    for (ConnId c : client_->net.connects()) {
      if (!accepted_.count(c) && !client_->net.ended(c)) {
        accepted_[c] = 500 + c;
        server_->ep->on_tcp_accepted(500 + c, ListenerKind::kSecure, kClientAddr, kServerAddr, now);
        client_->ep->on_tcp_connected(c, kClientAddr, now);
        moved = true;
      }
    }
    for (auto [c, s] : accepted_) {
      moved |= shuttle(*client_, c, *server_, s);
      moved |= shuttle(*server_, s, *client_, c);
    }
    return moved;
  }
  bool shuttle(Node& from, ConnId fc, Node& to, ConnId tc) {
    if (from.net.ended(fc) && from.ep->tcp_pending(fc).empty()) return false;
    const auto p = from.ep->tcp_pending(fc);
    if (p.empty()) return false;
    const std::vector<uint8_t> bytes(p.begin(), p.end());
    from.ep->tcp_written(fc, bytes.size(), now);
    if (!to.net.ended(tc)) to.ep->on_tcp_data(tc, bytes, now);
    return true;
  }
  void advance(Duration d) {
    const TimePoint until = now + d;
    for (;;) {
      const TimePoint next = std::min(client_->ep->next_deadline(), server_->ep->next_deadline());
      if (next > until) break;
      now = std::max(now, next);
      client_->ep->on_timer(now);
      server_->ep->on_timer(now);
      pump();
    }
    now = until;
  }
  ClientResult get(const std::string& uri, ClientSecurity security = {}) {
    ClientRequest r;
    r.method = codes::kGet;
    auto u = parse_uri(uri);
    EXPECT_TRUE(u.ok()) << uri;
    r.uri = *u;
    r.security = std::move(security);
    const RequestId id = next_id_++;
    client_->ep->start_request(id, std::move(r), now);
    pump();
    for (int i = 0; i < 40 && client_->listener.count(id) == 0; ++i) advance(seconds(1));
    return client_->listener.result(id);
  }
  void TearDown() override {
    if (!client_) return;
    client_->ep->shutdown(now);
    server_->ep->shutdown(now);
    pump();
    advance(seconds(10));
    EXPECT_EQ(client_->ep->session_count(), 0u);
    EXPECT_EQ(server_->ep->session_count(), 0u);
  }

  TimePoint now = kStart;
  std::unique_ptr<Node> client_, server_;
  std::map<ConnId, ConnId> accepted_;
  RequestId next_id_ = 1;
  bool drop_datagrams_ = false;
};

}  // namespace coap::test
