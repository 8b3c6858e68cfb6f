// CPU cost of the protocol core per request, without any I/O: GET /time
// over UDP (one datagram in, one out) and over TCP (frames of 32 pipelined
// requests, answered in one batch). Prints nanoseconds per request; run it
// under `valgrind --tool=callgrind` for instruction counts that do not
// depend on how busy the machine is.
//   core_bench [--requests N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "coap/builtin_resources.h"
#include "coap/endpoint.h"
#include "coap/tcp_framing.h"

namespace {

class NullIo final : public coap::NetworkIo, public coap::EndpointListener {
 public:
  void send_datagram(coap::UdpSocket, const coap::Address&, std::span<const uint8_t> b) override {
    bytes += b.size();
  }
  coap::ConnId tcp_connect(const coap::Address&) override { return 0; }
  void tcp_want_write(coap::ConnId) override {}
  void tcp_consumed(coap::ConnId, std::size_t) override {}
  void tcp_close(coap::ConnId) override {}
  void tcp_abort(coap::ConnId) override {}
  void on_event(const coap::Event&) override {}
  void on_request_done(coap::RequestId, coap::ClientResult) override {}
  std::size_t bytes = 0;
};

std::vector<uint8_t> udp_get(uint16_t mid, uint64_t token) {
  std::vector<uint8_t> out;
  coap::OptionList o;
  o.add(coap::opt::kUriPath, "time");
  coap::write_udp(out, coap::Type::kCon, coap::codes::kGet, mid, coap::Token::from_u64(token), o,
                  {});
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  long n = 2000000;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--requests") == 0) n = std::atol(argv[i + 1]);
  coap::ResourceDirectory dir;
  coap::add_builtin_resources(dir, {});
  NullIo io;
  coap::Endpoint ep(coap::EndpointConfig{}, dir, io, io, 42);
  auto t0 = coap::Clock::now();
  const coap::Address peer = coap::Address::v4(192, 0, 2, 1, 40000);

  // UDP: the client's MIDs advance as a real client's would.
  std::vector<uint8_t> dgram;
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) {
    dgram = udp_get(static_cast<uint16_t>(i), static_cast<uint64_t>(i));
    ep.on_datagram(peer, dgram, t0 + std::chrono::microseconds(i));
  }
  const double udp_ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() /
      n;

  // TCP: one connection, frames of 32 requests.
  const coap::ConnId conn = 7;
  ep.on_tcp_accepted(conn, coap::ListenerKind::kServer, peer, coap::Address::v4(192, 0, 2, 2, 5683),
                     t0);
  std::vector<uint8_t> csm;
  coap::OptionList co;
  co.add_uint(coap::opt::kCsmMaxMessageSize, 65536);
  coap::write_tcp(csm, coap::codes::kCsm, coap::Token{}, co, {});
  ep.on_tcp_data(conn, csm, t0);
  ep.tcp_written(conn, ep.tcp_pending(conn).size(), t0);
  std::vector<uint8_t> batch;
  coap::OptionList o;
  o.add(coap::opt::kUriPath, "time");
  const long batches = n / 32;
  start = std::chrono::steady_clock::now();
  for (long b = 0; b < batches; ++b) {
    batch.clear();
    for (int k = 0; k < 32; ++k)
      coap::write_tcp(batch, coap::codes::kGet, coap::Token::from_u64(b * 32 + k, 4), o, {});
    const auto now = t0 + std::chrono::microseconds(b);
    ep.on_tcp_data(conn, batch, now);
    ep.tcp_written(conn, ep.tcp_pending(conn).size(), now);
  }
  const double tcp_ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() /
      (batches * 32);
  std::printf("protocol core, GET /time: udp %.0f ns/request, tcp (32 pipelined) %.0f ns/request\n",
              udp_ns, tcp_ns);
  return io.bytes ? 0 : 1;
}
