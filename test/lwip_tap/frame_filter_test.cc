#include "lwip_tap/frame_filter.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <vector>

namespace lwip_tap {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes ethernet(uint16_t type) {
  Bytes e(12, 0x02);
  e.push_back(static_cast<uint8_t>(type >> 8));
  e.push_back(static_cast<uint8_t>(type));
  return e;
}

Bytes ipv4(uint8_t protocol, uint16_t fragment = 0) {
  Bytes h = {0x45,
             0,
             0,
             28,
             0,
             1,
             static_cast<uint8_t>(fragment >> 8),
             static_cast<uint8_t>(fragment),
             64,
             protocol,
             0,
             0,
             192,
             0,
             2,
             1,
             192,
             0,
             2,
             2};
  return h;
}

Bytes ipv6(uint8_t next) {
  Bytes h(40, 0);
  h[0] = 0x60;
  h[6] = next;
  return h;
}

// An extension header of 8 bytes: next header, length 0, padding.
Bytes extension(uint8_t next) { return {next, 0, 1, 4, 0, 0, 0, 0}; }
Bytes fragment(uint8_t next, uint16_t offset_and_more) {
  return {next,
          0,
          static_cast<uint8_t>(offset_and_more >> 8),
          static_cast<uint8_t>(offset_and_more),
          0,
          0,
          0,
          7};
}
const Bytes kUdpLiteHeader = {0x9c, 0x40, 0x16, 0x33, 0xff, 0xff, 0, 0};  // coverage 65535

bool refused(const Bytes& frame) { return refuse_reason(frame) != nullptr; }

TEST(FrameFilterTest, UdpLiteOverIpv4IsRefused) {
  EXPECT_TRUE(refused(cat({ethernet(0x0800), ipv4(136), kUdpLiteHeader})));
  EXPECT_TRUE(refused(cat({ethernet(0x0800), ipv4(136, 0x2000)})));               // first fragment
  EXPECT_TRUE(refused(cat({ethernet(0x0800), ipv4(136, 0x0010), Bytes(8, 0)})));  // a later one
}

TEST(FrameFilterTest, OrdinaryIpv4PassesWhateverItsState) {
  EXPECT_FALSE(refused(cat({ethernet(0x0800), ipv4(17), Bytes(8, 0)})));
  EXPECT_FALSE(refused(cat({ethernet(0x0800), ipv4(6, 0x2000), Bytes(20, 0)})));
  EXPECT_FALSE(refused(cat({ethernet(0x0800), Bytes(5, 0x45)})));  // truncated: lwIP drops it
  EXPECT_FALSE(refused(ethernet(0x0800)));
  EXPECT_FALSE(refused(Bytes(3, 0)));
}

TEST(FrameFilterTest, UdpLiteAnywhereInTheIpv6ChainIsRefused) {
  EXPECT_TRUE(refused(cat({ethernet(0x86dd), ipv6(136), kUdpLiteHeader})));
  EXPECT_TRUE(refused(cat({ethernet(0x86dd), ipv6(0), extension(136), kUdpLiteHeader})));
  EXPECT_TRUE(refused(cat(
      {ethernet(0x86dd), ipv6(0), extension(60), extension(43), extension(136), kUdpLiteHeader})));
  EXPECT_TRUE(refused(cat({ethernet(0x86dd), ipv6(44), fragment(136, 0x0001), kUdpLiteHeader})));
  EXPECT_TRUE(refused(cat({ethernet(0x86dd), ipv6(60), extension(44), fragment(136, 0x0100)})));
}

TEST(FrameFilterTest, Ipv6FragmentsMustEndTheirChainAtTheFragmentHeader) {
  EXPECT_TRUE(refused(cat({ethernet(0x86dd), ipv6(44), fragment(60, 0x0001), extension(17)})));
  EXPECT_TRUE(refused(cat({ethernet(0x86dd), ipv6(44), fragment(44, 0x0001)})));
  EXPECT_FALSE(refused(cat({ethernet(0x86dd), ipv6(44), fragment(17, 0x0001), Bytes(8, 0)})));
  EXPECT_FALSE(refused(cat({ethernet(0x86dd), ipv6(0), extension(44), fragment(58, 0x0100)})));
}

TEST(FrameFilterTest, OrdinaryIpv6Passes) {
  EXPECT_FALSE(refused(cat({ethernet(0x86dd), ipv6(17), Bytes(8, 0)})));
  EXPECT_FALSE(refused(cat({ethernet(0x86dd), ipv6(0), extension(58), Bytes(8, 0)})));
  EXPECT_FALSE(refused(cat({ethernet(0x86dd), ipv6(59)})));
  // A chain cut short is lwIP's to drop.
  EXPECT_FALSE(refused(cat({ethernet(0x86dd), ipv6(0), Bytes{136}})));
  EXPECT_FALSE(refused(cat({ethernet(0x86dd), Bytes(20, 0x60)})));
}

TEST(FrameFilterTest, OtherEthertypesPass) {
  EXPECT_FALSE(refused(cat({ethernet(0x0806), Bytes(28, 0)})));
  EXPECT_FALSE(
      refused(cat({ethernet(0x8100), Bytes{0, 1, 0x08, 0x00}, ipv4(136)})));  // VLAN: lwIP drops it
}

}  // namespace
}  // namespace lwip_tap
