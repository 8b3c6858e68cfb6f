// tap_reflector: the ceiling of a CoAP server behind a TAP (scripts/bench.sh,
// scenario "ceiling"). It opens the TAP as coapd does (lwip_tap::TapDevice:
// IFF_TAP | IFF_NO_PI, non-blocking) and, for every frame it reads, either
// answers an ARP request for its address or turns a UDP datagram to its
// address and port into the response a load generator counts: Ethernet, IP
// and UDP source and destination swapped, the CoAP type set to ACK and the
// code to 2.05 Content (the request's token and Message ID stay, so it
// matches), the UDP checksum cleared (optional over IPv4, RFC 768), and
// written back. No stack, no CoAP parsing, no second thread: one read() and
// one write() per request, which no server on this TAP can do with less.
//
//   tap_reflector --tap NAME --address A.B.C.D [--port 5683]
//
// The kernel side's address and the link state are the caller's (ip addr,
// ip link). Runs until SIGTERM or SIGINT.
#include <arpa/inet.h>
#include <poll.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "lwip_tap/tap_device.h"

namespace {

constexpr std::array<uint8_t, 6> kMac = {0x02, 0xc0, 0xa7, 0x00, 0x00, 0x02};
volatile std::sig_atomic_t g_stop = 0;

void swap_bytes(uint8_t* a, uint8_t* b, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) std::swap(a[i], b[i]);
}

// An ARP request for `addr`, answered in place; false if the frame is not one.
bool arp_reply(uint8_t* f, std::size_t n, const uint8_t* addr) {
  if (n < 42 || f[12] != 0x08 || f[13] != 0x06 || f[20] != 0 || f[21] != 1) return false;
  if (std::memcmp(f + 38, addr, 4) != 0) return false;
  std::memcpy(f, f + 6, 6);  // to the asker
  std::memcpy(f + 6, kMac.data(), 6);
  f[21] = 2;                        // reply
  std::memcpy(f + 32, f + 22, 10);  // target = the sender (MAC, IP)
  std::memcpy(f + 22, kMac.data(), 6);
  std::memcpy(f + 28, addr, 4);
  return true;
}

// A UDP datagram (IPv4) to addr:port made into its own response in place.
bool reflect_udp(uint8_t* f, std::size_t n, const uint8_t* addr, uint16_t port) {
  if (n < 14 + 20 + 8 + 4 || f[12] != 0x08 || f[13] != 0x00) return false;
  uint8_t* ip = f + 14;
  const std::size_t ihl = (ip[0] & 15u) * 4;
  if ((ip[0] >> 4) != 4 || ihl < 20 || ip[9] != 17 || n < 14 + ihl + 8 + 4) return false;
  if (std::memcmp(ip + 16, addr, 4) != 0) return false;
  uint8_t* udp = ip + ihl;
  if (((udp[2] << 8) | udp[3]) != port) return false;
  swap_bytes(f, f + 6, 6);
  swap_bytes(ip + 12, ip + 16, 4);  // the IP checksum is a sum: unchanged
  swap_bytes(udp, udp + 2, 2);
  udp[6] = udp[7] = 0;
  uint8_t* coap = udp + 8;
  coap[0] = static_cast<uint8_t>((coap[0] & 0xcf) | 0x20);  // type ACK
  coap[1] = 0x45;                                           // 2.05 Content
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Reflects CoAP requests on a TAP without a stack (the bench's ceiling)"};
  std::string tap = "coap0", address;
  uint16_t port = 5683;
  app.add_option("--tap", tap, "TAP interface to create")->capture_default_str();
  app.add_option("--address", address, "the IPv4 address to answer for")->required();
  app.add_option("--port", port, "the UDP port to answer on")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::array<uint8_t, 4> addr{};
  if (inet_pton(AF_INET, address.c_str(), addr.data()) != 1) {
    std::fprintf(stderr, "tap_reflector: '%s' is not an IPv4 address\n", address.c_str());
    return 2;
  }
  auto dev = lwip_tap::TapDevice::open(tap);
  if (!dev) {
    std::fprintf(stderr, "tap_reflector: %s\n", dev.error().c_str());
    return 1;
  }
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::array<uint8_t, 65536> frame{};
  pollfd pfd{(*dev)->fd(), POLLIN, 0};
  uint64_t reflected = 0;
  while (!g_stop) {
    if (poll(&pfd, 1, 200) <= 0) continue;
    while (true) {
      const ssize_t n = read(pfd.fd, frame.data(), frame.size());
      if (n <= 0) break;  // EAGAIN: all read
      const auto len = static_cast<std::size_t>(n);
      if (arp_reply(frame.data(), len, addr.data()) ||
          reflect_udp(frame.data(), len, addr.data(), port)) {
        reflected += (*dev)->write_frame({frame.data(), len}) ? 1 : 0;
      }
    }
  }
  std::fprintf(stderr, "tap_reflector: %llu frames answered\n",
               static_cast<unsigned long long>(reflected));
  return 0;
}
