// Fuzz target dtls_record: bytes into coapd's DTLS server side, the
// stateless cookie exchange of coap::DtlsListener and the SecureChannel it
// hands over, with a PSK server context and a fake clock; or, when the
// set-up byte says so, into a TLS server channel (coaps+tcp://).
//
// A genuine client channel with the same PSK runs alongside, so that inputs
// get past the cookie (an HMAC the fuzzer cannot guess) into the handshake
// and the application records: the fuzzer decides what of the client's
// output reaches the server (delivered, corrupted at a chosen byte,
// duplicated, dropped), adds raw datagrams of its own from a second peer
// address, moves the clock, writes plaintext and closes either side.
//
// Checked after every step: nothing crashes (ASan, UBSan); a server channel
// reports nothing after on_failed or on_peer_closed, on_established at most
// once, plaintext only once established; after on_timer(now) its timer is
// later than now; every ciphertext datagram it sends is non-empty and at
// most one DTLS record's worth; and the state is bounded: one listener, at
// most one server channel per peer address.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "coap/security.h"
#include "test/fuzz/fuzz_util.h"

namespace coap::fuzz {
namespace {

const TimePoint kStart = TimePoint{} + seconds(10000);
constexpr std::size_t kMaxDatagram = 16384 + 2048;  // a record of 2^14 bytes and its overhead
// Peer 0 runs the genuine client; peer 1 is a stranger that sends only
// what the fuzzer makes up.
const Address kPeers[2] = {Address::v4(192, 0, 2, 10, 40000), Address::v4(192, 0, 2, 11, 40001)};

// A fixed byte stream: mbedTLS's generator is seeded from it once.
void fixed_random(std::span<uint8_t> out) {
  static uint64_t state = 0x9e3779b97f4a7c15ull;
  for (uint8_t& b : out) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    b = static_cast<uint8_t>(state >> 56);
  }
}

PskEntry psk() { return PskEntry{"fuzz-device", {'s', 'e', 'c', 'r', 'e', 't', '-', '1'}}; }

// One context for every input: creating it seeds a generator and makes the
// cookie secret, which would dominate the run time.
SecurityContext& context() {
  static std::unique_ptr<SecurityContext> ctx = [] {
    Credentials c;
    c.psk = {psk()};
    c.client_psk = psk();
    auto made = SecurityContext::create(c, fixed_random);
    FUZZ_CHECK(made.ok(), "SecurityContext::create: %s", made.ok() ? "" : made.error().c_str());
    return std::move(*made);
  }();
  return *ctx;
}

// What one channel reported, and the invariants on it.
class RecordingSink final : public SecureChannel::Sink {
 public:
  RecordingSink(const char* name, std::size_t max_send) : name_(name), max_send_(max_send) {}
  void send_ciphertext(std::span<const uint8_t> bytes) override {
    FUZZ_CHECK(!ended, "%s sent %zu bytes after it ended", name_, bytes.size());
    FUZZ_CHECK(!bytes.empty(), "%s sent an empty datagram", name_);
    FUZZ_CHECK(bytes.size() <= max_send_, "%s sent %zu bytes at once", name_, bytes.size());
    out.emplace_back(bytes.begin(), bytes.end());
  }
  void on_plaintext(std::span<const uint8_t> bytes) override {
    FUZZ_CHECK(!ended, "%s delivered plaintext after it ended", name_);
    FUZZ_CHECK(established, "%s delivered %zu bytes of plaintext before its handshake", name_,
               bytes.size());
    plaintext += bytes.size();
  }
  void on_established(const PeerSecurity& peer) override {
    FUZZ_CHECK(!ended, "%s established after it ended", name_);
    FUZZ_CHECK(!established, "%s established twice", name_);
    FUZZ_CHECK(peer.mode == SecurityMode::kPsk, "%s established without the PSK", name_);
    established = true;
  }
  void on_failed(HandshakeFailure kind, const std::string& why) override {
    FUZZ_CHECK(!ended, "%s failed (%s: %s) after it ended", name_, handshake_failure_name(kind),
               why.c_str());
    FUZZ_TRACE("  %s failed: %s: %s", name_, handshake_failure_name(kind), why.c_str());
    ended = true;
  }
  void on_peer_closed() override {
    FUZZ_CHECK(!ended, "%s: peer closed after it ended", name_);
    ended = true;
  }

  std::deque<std::vector<uint8_t>> out;  // ciphertext not yet taken
  bool established = false, ended = false;
  std::size_t plaintext = 0;

 private:
  const char* name_;
  std::size_t max_send_;
};

struct Side {
  std::unique_ptr<RecordingSink> sink;
  std::unique_ptr<SecureChannel> channel;
};

class Harness {
 public:
  Harness(bool tls, Reader& setup) : tls_(tls), now_(kStart), room_(setup.u8() % 4 != 3) {
    if (!tls_) {
      auto l = DtlsListener::create(context());
      FUZZ_CHECK(l.ok(), "DtlsListener::create: %s", l.ok() ? "" : l.error().c_str());
      listener_ = std::move(*l);
    }
    restart_client();
    if (tls_) {
      Side s{std::make_unique<RecordingSink>("TLS server", SIZE_MAX), nullptr};
      auto ch = SecureChannel::server(context(), *s.sink);
      FUZZ_CHECK(ch.ok(), "SecureChannel::server: %s", ch.ok() ? "" : ch.error().c_str());
      s.channel = std::move(*ch);
      servers_[0] = std::move(s);
    }
  }

  void op(uint8_t code, Reader& args) {
    switch (code) {
      case 0: deliver(args.u8(), false); break;
      case 1: deliver(args.u8(), true, args.u16(), args.u8()); break;
      case 2:
        if (!last_.empty()) to_server(0, std::vector<uint8_t>(last_));
        break;
      case 3:
        if (!client_.sink->out.empty()) client_.sink->out.pop_front();
        break;
      case 4: to_server(args.flag() ? 1 : 0, to_vec(args.rest())); break;
      case 5: answer(args.flag()); break;
      case 6: advance(milliseconds(args.u16())); break;
      case 7: write(args.flag(), args.rest()); break;
      case 8: close(args.flag()); break;
      default: restart_client(); break;
    }
    check();
  }

  // Until nothing moves: the rest of a handshake the input started.
  void settle() {
    for (int i = 0; i < 16 && (!client_.sink->out.empty() || server_has_output()); ++i) {
      deliver(0, false);
      answer(false);
    }
    check();
  }

 private:
  static std::vector<uint8_t> to_vec(std::span<const uint8_t> b) { return {b.begin(), b.end()}; }

  void restart_client() {
    client_.channel.reset();
    client_.sink = std::make_unique<RecordingSink>("client", SIZE_MAX);
    ClientSecurity cs;
    cs.psk = psk();
    auto t = tls_ ? SecureChannel::Transport::kStream : SecureChannel::Transport::kDatagram;
    auto ch = SecureChannel::client(context(), t, cs, *client_.sink, now_);
    FUZZ_CHECK(ch.ok(), "SecureChannel::client: %s", ch.ok() ? "" : ch.error().c_str());
    client_.channel = std::move(*ch);
  }

  // The client's next datagram (or stream bytes) to the server, possibly
  // with one byte changed.
  void deliver(uint8_t skip, bool corrupt, uint16_t at = 0, uint8_t x = 0) {
    auto& out = client_.sink->out;
    if (out.empty()) return;
    std::vector<uint8_t> d = std::move(out[skip % out.size()]);
    out.erase(out.begin() + skip % out.size());
    if (corrupt) d[at % d.size()] ^= x ? x : 0x80;
    last_ = d;
    to_server(0, std::move(d));
  }

  void to_server(int peer, std::vector<uint8_t> d) {
    FUZZ_TRACE("t=%.3f %zu bytes to the server from peer %d: %s", to_seconds(now_ - kStart),
               d.size(), peer, hex(d).c_str());
    Side& side = servers_[peer];
    if (side.channel && !side.sink->ended) {
      side.channel->feed(d, now_);
      return;
    }
    if (tls_) return;  // the connection is over
    side = Side{};     // a new handshake from that peer
    auto sink = std::make_unique<RecordingSink>("DTLS server", kMaxDatagram);
    RecordingSink* raw = sink.get();
    auto send = [raw](std::span<const uint8_t> b) { raw->send_ciphertext(b); };
    DtlsListener::Outcome o = listener_->accept(kPeers[peer], d, now_, room_, send);
    using Kind = DtlsListener::Outcome::Kind;
    FUZZ_CHECK((o.kind == Kind::kAccepted) == (o.channel != nullptr),
               "listener outcome %d with%s a channel", static_cast<int>(o.kind),
               o.channel ? "" : "out");
    FUZZ_CHECK(room_ || o.kind != Kind::kAccepted, "a handshake accepted without room");
    if (o.kind == Kind::kDropped) FUZZ_CHECK(!o.why.empty(), "dropped without a reason");
    if (o.kind != Kind::kAccepted) {
      // Stateless: what it sent goes to the peer, nothing is kept.
      if (peer == 0)
        for (auto& b : raw->out) client_in_.push_back(std::move(b));
      return;
    }
    o.channel->set_sink(*sink);
    side.sink = std::move(sink);
    side.channel = std::move(o.channel);
  }

  bool server_has_output() const {
    return !client_in_.empty() || (servers_[0].sink && !servers_[0].sink->out.empty());
  }

  // What the server sent the client reaches it (all of it, or one piece
  // dropped).
  void answer(bool drop_one) {
    std::deque<std::vector<uint8_t>> in;
    in.swap(client_in_);
    if (servers_[0].sink) {
      for (auto& b : servers_[0].sink->out) in.push_back(std::move(b));
      servers_[0].sink->out.clear();
    }
    if (drop_one && !in.empty()) in.pop_front();
    for (auto& b : in)
      if (!client_.sink->ended) client_.channel->feed(b, now_);
  }

  void advance(Duration d) {
    const TimePoint target = now_ + d;
    for (int guard = 0; guard < 64; ++guard) {
      TimePoint next = target + seconds(1);
      auto consider = [&](Side& s) {
        if (s.channel && !s.sink->ended) next = std::min(next, s.channel->next_timer());
      };
      consider(client_);
      for (Side& s : servers_) consider(s);
      if (next > target) break;
      now_ = std::max(now_, next);
      auto run = [&](Side& s, bool server) {
        if (!s.channel || s.sink->ended || s.channel->next_timer() > now_) return;
        s.channel->on_timer(now_);
        if (server && !s.sink->ended)
          FUZZ_CHECK(s.channel->next_timer() > now_, "a server timer still due after on_timer");
      };
      run(client_, false);
      for (Side& s : servers_) run(s, true);
    }
    now_ = target;
  }

  void write(bool server, std::span<const uint8_t> bytes) {
    if (bytes.empty()) return;
    Side* s = server ? &servers_[0] : &client_;
    if (!s->channel || s->sink->ended || !s->channel->established()) return;
    (void)s->channel->write(bytes.first(std::min<std::size_t>(bytes.size(), 1200)), now_);
  }

  void close(bool server) {
    Side* s = server ? &servers_[0] : &client_;
    if (!s->channel || s->sink->ended) return;
    s->channel->close(now_);
    s->sink->ended = true;  // nothing may come after our own close either
  }

  // The state is bounded by construction (one listener, one Side per
  // peer); what is checked is what the channels say about themselves.
  void check() {
    for (Side& s : servers_) {
      if (!s.channel) continue;
      FUZZ_CHECK(s.channel->established() == s.sink->established || s.sink->ended,
                 "server channel says established=%d, its sink heard %d", s.channel->established(),
                 s.sink->established);
      FUZZ_CHECK(s.sink->out.size() <= 64, "%zu datagrams queued by a server", s.sink->out.size());
    }
    if (servers_[1].sink) servers_[1].sink->out.clear();  // a stranger's answers go nowhere
  }

  bool tls_;
  TimePoint now_;
  bool room_;
  std::unique_ptr<DtlsListener> listener_;
  Side client_;
  Side servers_[2];
  std::deque<std::vector<uint8_t>> client_in_;  // stateless answers (HelloVerifyRequest)
  std::vector<uint8_t> last_;
};

}  // namespace
}  // namespace coap::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace coap::fuzz;
  Reader in({data, size});
  const uint8_t mode = in.u8();
  Reader setup(in.bytes(4));
  Harness h(/*tls=*/mode % 4 == 3, setup);
  for (int n = 0; n < 200 && !in.empty(); ++n) {
    const uint8_t op = in.u8() % 10;
    Reader args = in.chunk();
    h.op(op, args);
  }
  h.settle();
  return 0;
}
