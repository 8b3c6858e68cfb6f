// Transport addresses as the protocol core sees them: IPv4 or IPv6 (with a
// zone for link-local), plus a port. Independent of lwIP's ip_addr_t; the
// transports convert.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace coap {

struct Address {
  enum class Family : uint8_t { kNone, kV4, kV6 };
  Family family = Family::kNone;
  std::array<uint8_t, 16> ip{};  // v4 uses the first 4 bytes
  uint8_t zone = 0;              // interface index for IPv6 link-local, else 0
  uint16_t port = 0;

  static Address v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port);
  // Parses "192.0.2.1", "fe80::1%coap0" (zone names resolved by zone_index,
  // numeric zones accepted as is), with an optional separate port.
  static std::optional<Address> parse_ip(
      std::string_view text, uint16_t port = 0,
      const std::function<int(std::string_view)>& zone_index = {});

  bool is_v4() const { return family == Family::kV4; }
  bool is_v6() const { return family == Family::kV6; }
  bool is_link_local() const { return is_v6() && ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80; }
  bool is_multicast() const { return is_v4() ? (ip[0] & 0xf0) == 0xe0 : is_v6() && ip[0] == 0xff; }
  bool same_host(const Address& o) const {
    return family == o.family && ip == o.ip && zone == o.zone;
  }
  bool operator==(const Address& o) const = default;

  // "192.0.2.1" / "fe80::1%2"
  std::string ip_string() const;
  // "192.0.2.1:5683" / "[fe80::1%2]:5683"
  std::string to_string() const;
  // Keyed by secret: without it a remote peer cannot pick addresses (its
  // source ports, say) that collide in a table.
  std::size_t hash(uint64_t secret) const;
};

// For unordered maps keyed by peer address. The secret is per endpoint and
// random, so it has no default.
class AddressHash {
 public:
  explicit AddressHash(uint64_t secret) : secret_(secret) {}
  std::size_t operator()(const Address& a) const { return a.hash(secret_); }

 private:
  uint64_t secret_;
};

}  // namespace coap
