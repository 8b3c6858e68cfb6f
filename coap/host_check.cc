// Whether a server certificate names the host a client asked for (RFC 6125
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

}  // namespace

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
      if (!ip) match |= dns_matches({reinterpret_cast<const char*>(value.data()), value.size()}, name);
    }
  }
  // RFC 6125 6.4.4: the CN only when there is no DNS subjectAltName.
  if (!match && !ip && !any_dns) match = dns_matches(common_name(crt), name);
  mbedtls_x509_crt_free(&crt);
  return match;
}

}  // namespace coap
