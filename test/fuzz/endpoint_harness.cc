// The harness's fakes, set-up, operations and teardown; the invariant checks
// are in endpoint_checks.cc.
#include "test/fuzz/endpoint_harness.h"

#include <algorithm>
#include <limits>

namespace coap::fuzz {
namespace {

const TimePoint kStart = TimePoint{} + seconds(10000);
// 2026-11-29T01:31:18Z at kStart; /time's wall clock moves with the fake one.
const std::chrono::system_clock::time_point kWallStart{seconds(1795915878)};
const Address kLocal = Address::v4(192, 0, 2, 2, 5683);

double t(TimePoint now) { return to_seconds(now - kStart); }
unsigned long long ull(uint64_t v) { return v; }

Address v6_peer() {
  Address a = *Address::parse_ip("2001:db8::7", 40001);
  return a;
}

// One byte of the set-up picks each value: zero gives coapd's default where
// that is small enough to keep runs fast, the other choices small tables
// and short timeouts.
EndpointConfig read_config(Reader& in) {
  EndpointConfig c;
  constexpr Duration kAck[] = {seconds(2), milliseconds(500), seconds(1)};
  c.ack_timeout = in.pick(kAck);
  c.ack_random_factor = in.flag() ? 1.0 : 1.5;
  c.max_retransmit = 4 - in.u8() % 5;
  constexpr std::size_t kDedup[] = {16, 1, 2, 4, 8};
  c.dedup_entries = in.pick(kDedup);
  c.dedup_max_response = in.flag() ? 64 : 1280;
  c.max_udp_sessions = 4 - in.u8() % 4;
  constexpr Duration kUdpTimeout[] = {seconds(300), seconds(30), seconds(1)};
  c.udp_session_timeout = in.pick(kUdpTimeout);
  c.max_body_size = in.flag() ? 2048 : 1 << 20;
  c.max_tcp_sessions = 3 - in.u8() % 3;
  constexpr Duration kIdle[] = {seconds(300), Duration::zero(), seconds(5)};
  c.tcp_idle_timeout = in.pick(kIdle);
  c.csm_timeout = in.flag() ? seconds(1) : seconds(5);
  constexpr std::size_t kMms[] = {132096, 1152, 4096};
  c.max_message_size = in.pick(kMms);
  constexpr std::size_t kQueued[] = {1 << 20, 1024, 8192};
  c.max_queued_bytes = in.pick(kQueued);
  c.connect_timeout = in.flag() ? seconds(1) : seconds(10);
  c.close_linger = in.flag() ? seconds(1) : seconds(5);
  return c;
}

}  // namespace

const Address& peer_address(int i) {
  static const Address kAll[kPeers] = {Address::v4(192, 0, 2, 10, 40000),
                                       Address::v4(192, 0, 2, 11, 5683), v6_peer(),
                                       Address::v4(192, 0, 2, 10, 40001)};
  return kAll[i % kPeers];
}

// --- fakes -------------------------------------------------------------------------

void FuzzNet::send_datagram(UdpSocket socket, const Address& to, std::span<const uint8_t> bytes) {
  FUZZ_CHECK(socket == UdpSocket::kPlain, "a datagram to %s on the DTLS socket, which is off",
             to.to_string().c_str());
  datagrams.push_back({to, {bytes.begin(), bytes.end()}});
  ++datagrams_total;
}

ConnId FuzzNet::tcp_connect(const Address& to) {
  const ConnId id = next_conn_++;
  Conn& c = conns[id];
  c.id = id;
  c.peer = to;
  c.outgoing = true;
  return id;
}

void FuzzNet::tcp_consumed(ConnId conn, std::size_t n) {
  Conn& c = live(conn, "tcp_consumed");
  c.consumed += n;
  FUZZ_CHECK(c.consumed <= c.fed, "connection %llu: %zu bytes reported consumed, %zu received",
             static_cast<unsigned long long>(conn), c.consumed, c.fed);
}

void FuzzNet::tcp_close(ConnId conn) {
  Conn& c = live(conn, "tcp_close");
  FUZZ_CHECK(c.written.buffered() == 0,
             "orderly close of connection %llu cuts a frame: %zu bytes of it were written",
             static_cast<unsigned long long>(conn), c.written.buffered());
  end(c, "closed by the endpoint");
}

Conn& FuzzNet::live(ConnId conn, const char* op) {
  auto it = conns.find(conn);
  FUZZ_CHECK(it != conns.end(), "%s on unknown connection %llu", op,
             static_cast<unsigned long long>(conn));
  FUZZ_CHECK(!it->second.ended, "%s on connection %llu after it was %s", op,
             static_cast<unsigned long long>(conn), it->second.end_reason);
  return it->second;
}

void FuzzListener::on_event(const Event& e) {
  FUZZ_TRACE("  event %s session %llu %s", e.name(), static_cast<unsigned long long>(e.session),
             e.reason.c_str());
  const std::string_view name = e.name();
  const auto id = static_cast<unsigned long long>(e.session);
  if (name == "server_session_new")
    FUZZ_CHECK(server_sessions.insert(e.session).second, "server_session_new twice for %llu", id);
  if (name == "server_session_del")
    FUZZ_CHECK(server_sessions.erase(e.session) == 1,
               "server_session_del for %llu without server_session_new", id);
}

void FuzzListener::on_request_done(RequestId id, ClientResult result) {
  FUZZ_TRACE("  request %llu done: %s %s %s", static_cast<unsigned long long>(id),
             client_status_name(result.status), result.code.str().c_str(), result.error.c_str());
  FUZZ_CHECK(outstanding.erase(id) == 1,
             "on_request_done(%llu) for a request not outstanding (done twice, or never started)",
             static_cast<unsigned long long>(id));
  FUZZ_CHECK(result.status != ClientResult::Status::kResponse || result.code.is_response(),
             "request %llu completed with a response of code %s",
             static_cast<unsigned long long>(id), result.code.str().c_str());
}

// --- set-up and teardown -------------------------------------------------------------

Harness::Harness(Reader& setup) : now_(kStart) {
  const uint64_t seed = setup.u64();
  config_ = read_config(setup);
  lifetime_ = config_.exchange_lifetime();
  BuiltinResourceOptions o;
  o.wall_clock = [this] {
    return kWallStart +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(now_ - kStart);
  };
  // Longer than one UDP block, so that GET /status goes block-wise.
  o.status_json = [] { return "{\"pad\":\"" + std::string(2000, 'x') + "\"}"; };
  o.max_echo_size = setup.flag() ? 64 : 4096;
  add_builtin_resources(dir_, o);
  ep_ = std::make_unique<Endpoint>(config_, dir_, net_, listener_, seed);
}

Harness::~Harness() { finish(); }

void Harness::finish() {
  shutdown();
  // Let "TCP" take everything queued (Release, answers), then let the
  // closes and lingers run out.
  for (int round = 0; round < 4; ++round)
    for (auto& [id, c] : net_.conns)
      if (!c.ended && c.connected && !ep_->tcp_pending(id).empty())
        tcp_write(c, std::numeric_limits<std::size_t>::max());
  advance(config_.close_linger + seconds(1));
  FUZZ_CHECK(ep_->session_count() == 0, "%zu sessions left after shutdown", ep_->session_count());
  FUZZ_CHECK(ep_->exchange_count() == 0, "%zu exchanges left after shutdown",
             ep_->exchange_count());
  FUZZ_CHECK(ep_->observation_count() == 0, "%zu observations left after shutdown",
             ep_->observation_count());
  FUZZ_CHECK(listener_.outstanding.empty(), "%zu requests never completed",
             listener_.outstanding.size());
  FUZZ_CHECK(listener_.server_sessions.empty(), "%zu server sessions without server_session_del",
             listener_.server_sessions.size());
  ep_.reset();
}

// --- operations ------------------------------------------------------------------------

void Harness::datagram(int peer, std::span<const uint8_t> bytes) {
  begin();
  Message in;
  const bool parsed = parse_udp(bytes, in) == ParseError::kNone;
  FUZZ_TRACE("t=%.3f datagram from peer %d: %s", t(now_), peer,
             parsed ? describe(in).c_str() : hex(bytes).c_str());
  ++datagrams_in_;
  const uint64_t duplicates = ep_->counters().duplicates;
  ep_->on_datagram(peer_address(peer), bytes, now_);
  if (parsed) check_duplicate(peer, in, duplicates);
  check();
}

void Harness::accept(int peer, ListenerKind kind) {
  begin();
  const ConnId id = next_accept_++;
  Conn& c = net_.conns[id];
  c.id = id;
  c.peer = peer_address(peer);
  c.connected = true;
  ++accepts_;
  FUZZ_TRACE("t=%.3f accept conn %llu from peer %d", t(now_), ull(id), peer);
  ep_->on_tcp_accepted(id, kind, c.peer, kLocal, now_);
  check();
}

// Follows the Max-Message-Size the peer announces in its CSMs (RFC 8323
// 5.3.1): the largest one, while the endpoint still reads what it sends.
void Harness::track_peer_mms(Conn& c, std::span<const uint8_t> bytes) {
  if (c.mms_unknown) return;
  const FrameError e = c.sent.feed(bytes, [&](const Message& m, std::size_t) {
    if (m.code == codes::kRelease || m.code == codes::kAbort) c.mms_unknown = true;
    if (m.code != codes::kCsm) return !c.mms_unknown;
    for (const OptionView& o : m.options) {
      const auto v = o.number == opt::kCsmMaxMessageSize ? decode_uint(o.value()) : std::nullopt;
      if (v && *v < 1152) c.mms_unknown = true;
      if (v) c.peer_mms = std::max<std::size_t>(c.peer_mms, *v);
    }
    return !c.mms_unknown;
  });
  if (e != FrameError::kNone) c.mms_unknown = true;
}

void Harness::tcp_data(Conn& c, std::span<const uint8_t> bytes) {
  begin();
  c.fed += bytes.size();
  track_peer_mms(c, bytes);
  FUZZ_TRACE("t=%.3f data on conn %llu: %s", t(now_), ull(c.id), hex(bytes, 24).c_str());
  ep_->on_tcp_data(c.id, bytes, now_);
  check();
}

void Harness::tcp_peer_closed(Conn& c) {
  begin();
  FUZZ_TRACE("t=%.3f peer closes conn %llu", t(now_), ull(c.id));
  c.peer_closed = true;
  ep_->on_tcp_peer_closed(c.id, now_);
  check();
}

void Harness::tcp_error(Conn& c, TcpError e) {
  begin();
  FUZZ_TRACE("t=%.3f conn %llu fails: %s", t(now_), ull(c.id), tcp_error_name(e));
  FuzzNet::end(c, "reported gone with on_tcp_error");
  ep_->on_tcp_error(c.id, e, now_);
  check();
}

void Harness::tcp_writable(Conn& c) {
  begin();
  FUZZ_TRACE("t=%.3f conn %llu writable", t(now_), ull(c.id));
  ep_->on_tcp_writable(c.id, now_);
  check();
}

void Harness::tcp_write(Conn& c, std::size_t n) {
  begin();
  const std::span<const uint8_t> pending = ep_->tcp_pending(c.id);
  n = std::min(n, pending.size());
  FUZZ_TRACE("t=%.3f write %zu of %zu bytes on conn %llu", t(now_), n, pending.size(), ull(c.id));
  const FrameError e = c.written.feed(pending.first(n), [&](const Message& m, std::size_t) {
    on_written_frame(c, m);
    return true;
  });
  FUZZ_CHECK(e == FrameError::kNone, "connection %llu: bytes written do not decode (error %d)",
             static_cast<unsigned long long>(c.id), static_cast<int>(e));
  // Written bytes leave the front of the queue; what follows stays checked.
  if (c.checked.size() >= n && std::equal(pending.begin(), pending.begin() + n, c.checked.begin()))
    c.checked.erase(c.checked.begin(), c.checked.begin() + static_cast<std::ptrdiff_t>(n));
  else
    c.forget_checked();
  ep_->tcp_written(c.id, n, now_);
  check();
}

void Harness::tcp_connected(Conn& c) {
  begin();
  FUZZ_TRACE("t=%.3f conn %llu connected", t(now_), ull(c.id));
  c.connected = true;
  ep_->on_tcp_connected(c.id, kLocal, now_);
  check();
}

void Harness::advance(Duration d) {
  begin();
  in_timer_ = true;
  FUZZ_TRACE("t=%.3f advance %.3f s", t(now_), to_seconds(d));
  const TimePoint target = now_ + d;
  while (ep_->next_deadline() <= target) {
    now_ = std::max(now_, ep_->next_deadline());
    ep_->on_timer(now_);
    FUZZ_CHECK(ep_->next_deadline() > now_, "a timer is still due after on_timer(now)");
    check();
  }
  now_ = target;
  in_timer_ = false;
}

void Harness::jump(Duration d) {
  begin();
  in_timer_ = true;
  FUZZ_TRACE("t=%.3f jump %.3f s", t(now_), to_seconds(d));
  now_ += d;
  ep_->on_timer(now_);
  FUZZ_CHECK(ep_->next_deadline() > now_, "a timer is still due after on_timer(now)");
  check();
  in_timer_ = false;
}

void Harness::next_timer() {
  if (ep_->next_deadline() == kNever) return;
  begin();
  in_timer_ = true;
  now_ = std::max(now_, ep_->next_deadline());
  ep_->on_timer(now_);
  FUZZ_CHECK(ep_->next_deadline() > now_, "a timer is still due after on_timer(now)");
  check();
  in_timer_ = false;
}

void Harness::request(ClientRequest r) {
  begin();
  FUZZ_TRACE("t=%.3f request %s %s", t(now_), r.method.str().c_str(), r.uri.to_string().c_str());
  const RequestId id = next_request_++;
  listener_.outstanding.insert(id);
  ++requests_;
  ep_->start_request(id, std::move(r), now_);
  check();
}

void Harness::open_session(const SessionSpec& spec) {
  begin();
  FUZZ_TRACE("t=%.3f open session to %s", t(now_), spec.peer.to_string().c_str());
  (void)ep_->open_session(spec, now_);
  check();
}

void Harness::close_session(uint8_t choice) {
  begin();
  const std::vector<SessionInfo> all = ep_->sessions(now_);
  const SessionId id = all.empty() || choice == 255 ? 987654 : all[choice % all.size()].id;
  FUZZ_TRACE("t=%.3f close session %llu", t(now_), ull(id));
  ep_->close_session(id, now_);
  check();
}

void Harness::shutdown() {
  begin();
  FUZZ_TRACE("t=%.3f shutdown", t(now_));
  ep_->shutdown(now_);
  check();
}

}  // namespace coap::fuzz
