#include "coap/address.h"

#include <arpa/inet.h>

#include <cstdlib>
#include <cstring>

namespace coap {

Address Address::v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
  Address r;
  r.family = Family::kV4;
  r.ip[0] = a;
  r.ip[1] = b;
  r.ip[2] = c;
  r.ip[3] = d;
  r.port = port;
  return r;
}

std::optional<Address> Address::parse_ip(std::string_view text, uint16_t port,
                                         const std::function<int(std::string_view)>& zone_index) {
  Address a;
  a.port = port;
  std::string host(text);
  std::string zone;
  if (auto pct = host.find('%'); pct != std::string::npos) {
    zone = host.substr(pct + 1);
    host.resize(pct);
  }
  if (inet_pton(AF_INET, host.c_str(), a.ip.data()) == 1) {
    if (!zone.empty()) return std::nullopt;
    a.family = Family::kV4;
    return a;
  }
  if (inet_pton(AF_INET6, host.c_str(), a.ip.data()) != 1) return std::nullopt;
  a.family = Family::kV6;
  if (!zone.empty()) {
    char* end = nullptr;
    long n = std::strtol(zone.c_str(), &end, 10);
    if (end && *end == '\0' && n > 0 && n < 256) {
      a.zone = static_cast<uint8_t>(n);
    } else {
      int idx = zone_index ? zone_index(zone) : -1;
      if (idx <= 0 || idx > 255) return std::nullopt;
      a.zone = static_cast<uint8_t>(idx);
    }
  }
  return a;
}

std::string Address::ip_string() const {
  char buf[INET6_ADDRSTRLEN + 8];
  if (is_v4()) {
    inet_ntop(AF_INET, ip.data(), buf, sizeof buf);
    return buf;
  }
  if (is_v6()) {
    inet_ntop(AF_INET6, ip.data(), buf, sizeof buf);
    std::string s = buf;
    if (zone) {
      s += '%';
      s += std::to_string(zone);
    }
    return s;
  }
  return "-";
}

// Strings here are built by appending, not as "x" + std::string: at -O3
// GCC 12 (libstdc++ 12's basic_string::_M_replace, inlined from
// operator+(const char*, string&&)) reports a bogus -Wstringop-overflow and
// -Warray-bounds for that form, which -Werror makes fatal in Release builds
// (scripts/bench.sh). Same in coap/message.cc describe().
std::string Address::to_string() const {
  std::string s;
  if (is_v6()) s += '[';
  s += ip_string();
  if (is_v6()) s += ']';
  s += ':';
  s += std::to_string(port);
  return s;
}

std::size_t Address::hash(uint64_t secret) const {
  // FNV-1a over the fields that matter, from a secret basis, then a
  // multiply-xorshift finalizer (MurmurHash3's fmix64) so that the secret
  // reaches every output bit. Cheap: this runs for every datagram.
  uint64_t h = 1469598103934665603ull ^ secret;
  auto mix = [&h](uint8_t b) { h = (h ^ b) * 1099511628211ull; };
  mix(static_cast<uint8_t>(family));
  const int n = is_v4() ? 4 : 16;
  for (int i = 0; i < n; ++i) mix(ip[i]);
  mix(zone);
  mix(static_cast<uint8_t>(port >> 8));
  mix(static_cast<uint8_t>(port));
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return static_cast<std::size_t>(h);
}

}  // namespace coap
