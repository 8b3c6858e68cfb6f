// Values of the security layer: PSK keys as people write them, and whether a
// server certificate names the host a client asked for (RFC 6125
// for DNS names, RFC 5280 4.2.1.6 for IP addresses). mbedTLS 2.28 checks DNS
// names and the CN itself but never subjectAltName IP entries.
#include <mbedtls/asn1.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "coap/security.h"

namespace coap {
namespace {

constexpr unsigned char kDnsTag = MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2;
constexpr unsigned char kIpTag = MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A "*." wildcard covers exactly one leftmost label.
bool dns_matches(std::string_view pattern, const std::string& host) {
  const std::string p = lower(pattern);
  if (p == host) return true;
  if (p.size() < 3 || p[0] != '*' || p[1] != '.') return false;
  const std::size_t dot = host.find('.');
  return dot != std::string::npos && dot > 0 && host.substr(dot) == p.substr(1);
}

std::string common_name(const mbedtls_x509_crt& crt) {
  for (const mbedtls_x509_name* n = &crt.subject; n; n = n->next) {
    if (n->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0)
      return std::string(reinterpret_cast<const char*>(n->val.p), n->val.len);
  }
  return {};
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<std::vector<uint8_t>> parse_psk_key(std::string_view s) {
  if (s.empty()) return Error{"is an empty key"};
  const auto checked = [](std::vector<uint8_t> key) -> Result<std::vector<uint8_t>> {
    if (key.size() > kMaxPskBytes)
      return error("is ", std::to_string(key.size()), " bytes; a PSK is at most ",
                   std::to_string(kMaxPskBytes));
    return key;
  };
  if (s.size() < 2 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
    return checked(std::vector<uint8_t>(s.begin(), s.end()));
  const std::string_view hex = s.substr(2);
  if (hex.empty() || hex.size() % 2 != 0)
    return Error{"is not an even number of hex digits after 0x"};
  std::vector<uint8_t> key;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = hex_digit(hex[i]), lo = hex_digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return Error{"is not hex after 0x"};
    key.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return checked(std::move(key));
}

bool certificate_names_host(std::span<const uint8_t> der, const std::string& host) {
  mbedtls_x509_crt crt;
  mbedtls_x509_crt_init(&crt);
  if (mbedtls_x509_crt_parse_der(&crt, der.data(), der.size()) != 0) {
    mbedtls_x509_crt_free(&crt);
    return false;
  }
  const std::optional<Address> ip = Address::parse_ip(host);
  const std::string name = lower(host);
  bool any_dns = false;
  bool match = false;
  for (const mbedtls_x509_sequence* s = &crt.subject_alt_names; s && s->buf.p; s = s->next) {
    const std::span<const uint8_t> value(s->buf.p, s->buf.len);
    if (s->buf.tag == kIpTag && ip) {
      const std::size_t n = ip->is_v4() ? 4 : 16;
      match |= value.size() == n && std::equal(value.begin(), value.end(), ip->ip.begin());
    } else if (s->buf.tag == kDnsTag) {
      any_dns = true;
      if (!ip)
        match |= dns_matches({reinterpret_cast<const char*>(value.data()), value.size()}, name);
    }
  }
  // RFC 6125 6.4.4: the CN only when there is no DNS subjectAltName.
  if (!match && !ip && !any_dns) match = dns_matches(common_name(crt), name);
  mbedtls_x509_crt_free(&crt);
  return match;
}

}  // namespace coap
