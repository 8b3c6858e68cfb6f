// Parsers and checks for single values: numbers, IPv4/IPv6 addresses and
// prefixes, MAC addresses, interface names, socket paths and session specs.
// Each failure is a phrase completing "'<value>' ...", so that config.cc can
// report it as "coapd: --flag: '<value>' <phrase>".
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>
#include <string_view>

#include "coap/uri.h"
#include "config/config.h"
#include "config/values_internal.h"

namespace config {

using namespace detail;

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string whole_range(uint64_t lo, uint64_t hi) {
  if (hi == kU32Max) return "expected a whole number, at least " + std::to_string(lo);
  return "expected " + std::to_string(lo) + " to " + std::to_string(hi);
}

}  // namespace

namespace detail {

// ---------------------------------------------------------------------------
// Numbers.

std::string format_number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

// A whole number in [lo, hi], decimal digits only.
Problem parse_whole(const std::string& s, uint64_t lo, uint64_t hi, uint64_t* out) {
  const bool negative = !s.empty() && s[0] == '-';
  const std::string_view digits = std::string_view(s).substr(negative ? 1 : 0);
  if (!all_digits(digits)) return problem("is not a whole number (" + whole_range(lo, hi) + ")");
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc{} || end != digits.data() + digits.size() || (negative && v != 0) || v < lo ||
      v > hi) {
    return problem(std::string(negative && v != 0 ? "is negative (" : "is out of range (") +
                   whole_range(lo, hi) + ")");
  }
  *out = v;
  return {};
}

// A finite decimal number, > lo (or >= lo when lo_inclusive), <= hi.
Problem parse_real(const std::string& s, double lo, bool lo_inclusive, double hi,
                   std::string_view unit, double* out) {
  const std::string range = std::string("expected ") + std::string(unit) +
                            (lo_inclusive ? " at least " : " greater than ") + format_number(lo) +
                            " and at most " + format_number(hi);
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(v)) {
    return problem("is not a number (" + range + ")");
  }
  if (v < lo || (!lo_inclusive && v == lo) || v > hi) {
    return problem(std::string(v < 0 ? "is negative (" : "is out of range (") + range + ")");
  }
  *out = v;
  return {};
}

Problem set_whole(const std::string& s, uint64_t lo, uint64_t hi, uint32_t& field) {
  uint64_t v = 0;
  if (Problem p = parse_whole(s, lo, hi, &v); !p) return p;
  field = static_cast<uint32_t>(v);
  return {};
}

Problem set_port(const std::string& s, uint16_t& field) {
  uint64_t v = 0;
  if (Problem p = parse_whole(s, 0, 65535, &v); !p) return p;
  field = static_cast<uint16_t>(v);
  return {};
}

Problem set_seconds(const std::string& s, double lo, bool lo_inclusive, double hi, double& field) {
  return parse_real(s, lo, lo_inclusive, hi, "seconds", &field);
}

Problem set_bool(const std::string& s, bool& field) {
  static const std::vector<std::string_view> kTrue = {"true", "1", "yes", "on"};
  static const std::vector<std::string_view> kFalse = {"false", "0", "no", "off"};
  if (std::find(kTrue.begin(), kTrue.end(), s) != kTrue.end()) {
    field = true;
  } else if (std::find(kFalse.begin(), kFalse.end(), s) != kFalse.end()) {
    field = false;
  } else {
    return problem("is not true or false");
  }
  return {};
}

// ---------------------------------------------------------------------------
// Names.

// Linux's dev_valid_name(): 1 to IFNAMSIZ-1 bytes, not "." or "..", no '/',
// ':' or white space. A leading '-' is refused too: it is almost always a
// flag that lost its value (`--tap --address ...`).
Problem check_interface_name(const std::string& s) {
  if (s.empty()) return problem("is not an interface name (it is empty)");
  if (s.size() > 15) return problem("is not an interface name (at most 15 characters)");
  if (s == "." || s == "..") return problem("is not an interface name");
  for (char c : s) {
    if (c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)) != 0) {
      return problem("is not an interface name (no '/', ':' or white space)");
    }
  }
  if (s[0] == '-') return problem("is not an interface name (it starts with '-')");
  return {};
}

// sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
Problem check_socket_path(const std::string& s) {
  if (s.empty()) return problem("is not a socket path (it is empty)");
  if (s.size() > 107) return problem("is too long for a Unix socket path (at most 107 bytes)");
  return {};
}

Problem parse_listen_address(const std::string& s, Config::ListenAddress& out) {
  if (s == "off") {
    out = {};
    return {};
  }
  const std::size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon + 1 == s.size())
    return problem("is not ADDR:PORT (such as 127.0.0.1:9464 or [::1]:9464) or 'off'");
  std::string host = s.substr(0, colon);
  const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  unsigned char buf[16];
  const bool v4 = !bracketed && inet_pton(AF_INET, host.c_str(), buf) == 1;
  const bool v6 = bracketed && inet_pton(AF_INET6, host.c_str(), buf) == 1;
  if (!v4 && !v6)
    return problem(bracketed || host.find(':') == std::string::npos
                       ? "does not start with a numeric IPv4 or bracketed IPv6 address"
                       : "has an IPv6 address without brackets (write [::1]:9464)");
  uint64_t port = 0;
  if (!parse_whole(s.substr(colon + 1), 1, 65535, &port))
    return problem("has no port from 1 to 65535 after the last ':'");
  out.host = std::move(host);
  out.port = static_cast<uint16_t>(port);
  return {};
}

}  // namespace detail

std::string Config::ListenAddress::str() const {
  if (host.empty()) return "off";
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

namespace {

// ---------------------------------------------------------------------------
// Addresses.

std::string ipv4_str(const std::array<uint8_t, 4>& a) {
  return std::to_string(a[0]) + "." + std::to_string(a[1]) + "." + std::to_string(a[2]) + "." +
         std::to_string(a[3]);
}

// Dotted quad, four decimal parts 0-255 without leading zeros (a leading
// zero means octal to some tools; refusing it avoids the ambiguity).
std::optional<std::array<uint8_t, 4>> ipv4_literal(std::string_view s) {
  std::array<uint8_t, 4> a{};
  for (std::size_t i = 0; i < 4; ++i) {
    const std::size_t dot = s.find('.');
    if ((i < 3) != (dot != std::string_view::npos)) return std::nullopt;
    const std::string_view part = s.substr(0, dot);
    if (!all_digits(part) || part.size() > 3 || (part.size() > 1 && part[0] == '0')) {
      return std::nullopt;
    }
    unsigned v = 0;
    std::from_chars(part.data(), part.data() + part.size(), v);
    if (v > 255) return std::nullopt;
    a[i] = static_cast<uint8_t>(v);
    if (i < 3) s.remove_prefix(dot + 1);
  }
  return a;
}

std::optional<std::array<uint8_t, 16>> ipv6_literal(const std::string& s) {
  std::array<uint8_t, 16> a{};
  if (s.empty() || inet_pton(AF_INET6, s.c_str(), a.data()) != 1) return std::nullopt;
  return a;
}

// "/len" after an address; nullopt unless 0 <= len <= max.
std::optional<uint8_t> prefix_length(std::string_view s, unsigned max) {
  if (!all_digits(s) || s.size() > 3 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  unsigned v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  if (v > max) return std::nullopt;
  return static_cast<uint8_t>(v);
}

// ---------------------------------------------------------------------------
// Session specs.

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
  return s;
}

constexpr std::string_view kSessionScheme = "coap+tcp://";
constexpr std::string_view kSecureSessionScheme = "coaps+tcp://";
constexpr std::string_view kDtlsSessionScheme = "coaps://";
constexpr std::string_view kSessionItems =
    "call-home, reconnect-interval=S, reconnect-max-interval=S, reconnect-attempts=N, "
    "keepalive=S, psk-identity=ID, psk-key=KEY or insecure";

// A zone name is accepted here if it could be an interface; check_session_zones()
// checks it against the TAP once every option is known.
int any_interface(std::string_view name) {
  return check_interface_name(std::string(name)) ? 1 : -1;
}

// The URI of a session: coap::parse_uri's rules, and CoAP over TCP or DTLS.
Problem check_session_uri(std::string_view uri) {
  auto starts = [&](std::string_view scheme) { return uri.substr(0, scheme.size()) == scheme; };
  if (!starts(kSessionScheme) && !starts(kSecureSessionScheme) && !starts(kDtlsSessionScheme))
    return problem(
        "does not start with coap+tcp://, coaps+tcp:// or coaps:// (example: "
        "coap+tcp://192.0.2.1:5683)");
  coap::Result<coap::Uri> parsed = coap::parse_uri(uri, any_interface);
  if (!parsed) return problem("is not a usable URI: " + parsed.error());
  return {};
}

// One "name[=value]" item after the URI.
Problem apply_session_item(std::string_view item, std::set<std::string, std::less<>>& given,
                           SessionConfig& sc) {
  if (item.empty()) return problem("has an empty item (a stray ',')");
  const std::size_t eq = item.find('=');
  const std::string name(trim(item.substr(0, eq)));
  const std::string value(eq == std::string_view::npos ? "" : trim(item.substr(eq + 1)));
  const bool known = name == "call-home" || name == "reconnect-interval" ||
                     name == "reconnect-max-interval" || name == "reconnect-attempts" ||
                     name == "keepalive" || name == "psk-identity" || name == "psk-key" ||
                     name == "insecure";
  if (!known)
    return problem("has an unknown item '" + std::string(item) + "' (expected " +
                   std::string(kSessionItems) + ")");
  if (!given.insert(name).second) return problem("gives '" + name + "' more than once");
  if (name == "call-home" || name == "insecure") {
    if (eq != std::string_view::npos)
      return problem("has '" + name + "' with a value; it takes none");
    (name == "call-home" ? sc.call_home : sc.insecure) = true;
    return {};
  }
  if (eq == std::string_view::npos) return problem("has '" + name + "' without '=value'");
  if (name == "psk-identity") {
    if (value.empty()) return problem("has an empty psk-identity");
    sc.psk_identity = value;
    return {};
  }
  if (name == "psk-key") {
    auto key = coap::parse_psk_key(value);
    if (!key) return problem("has psk-key='" + value + "', which " + key.error());
    sc.psk_key = std::move(*key);
    return {};
  }
  Problem p;
  if (name == "reconnect-interval") {
    p = parse_real(value, 0.0, false, kMaxSeconds, "seconds", &sc.reconnect_interval);
  } else if (name == "reconnect-max-interval") {
    p = parse_real(value, 0.0, true, kMaxSeconds, "seconds", &sc.reconnect_max_interval);
  } else if (name == "keepalive") {
    double s = 0;
    p = parse_real(value, 0.0, true, kMaxSeconds, "seconds", &s);
    sc.keepalive = s;
  } else {
    uint64_t n = 0;
    p = parse_whole(value, 0, kU32Max, &n);
    sc.reconnect_attempts = static_cast<uint32_t>(n);
  }
  if (!p) return problem("has " + name + "='" + value + "', which " + p.error());
  return {};
}

}  // namespace

// ---------------------------------------------------------------------------
// Public parsers.

std::string Ipv4Prefix::str() const { return ipv4_str(addr) + "/" + std::to_string(prefix_len); }

std::string Ipv6Prefix::str() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, addr.data(), buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(prefix_len);
}

coap::Result<std::array<uint8_t, 4>> parse_ipv4(const std::string& s) {
  if (auto a = ipv4_literal(s)) return *a;
  return problem("is not an IPv4 address (example: 192.0.2.1)").take_error();
}

coap::Result<Ipv4Prefix> parse_ipv4_prefix(const std::string& s) {
  const std::size_t slash = s.find('/');
  if (slash != std::string::npos) {
    auto a = ipv4_literal(std::string_view(s).substr(0, slash));
    auto len = prefix_length(std::string_view(s).substr(slash + 1), 32);
    if (a && len) return Ipv4Prefix{*a, *len};
  }
  return problem("is not an IPv4 address with prefix length (example: 192.0.2.2/24)").take_error();
}

coap::Result<Ipv6Prefix> parse_ipv6_prefix(const std::string& s) {
  const std::size_t slash = s.find('/');
  if (slash != std::string::npos) {
    auto a = ipv6_literal(s.substr(0, slash));
    auto len = prefix_length(std::string_view(s).substr(slash + 1), 128);
    if (a && len) return Ipv6Prefix{*a, *len};
  }
  return problem("is not an IPv6 address with prefix length (example: fd00:c0a9::2/64)")
      .take_error();
}

coap::Result<std::array<uint8_t, 6>> parse_mac(const std::string& s) {
  const coap::Error shape{"is not a MAC address (example: 02:00:00:00:00:01)"};
  // Exactly "xx:xx:xx:xx:xx:xx" (17 characters), hex digits in either case.
  if (s.size() != 17) return shape;
  std::array<uint8_t, 6> m{};
  for (std::size_t i = 0; i < 6; ++i) {
    if (i > 0 && s[3 * i - 1] != ':') return shape;
    unsigned v = 0;
    const char* begin = s.data() + 3 * i;
    auto [end, ec] = std::from_chars(begin, begin + 2, v, 16);
    if (ec != std::errc{} || end != begin + 2) return shape;
    m[i] = static_cast<uint8_t>(v);
  }
  if ((m[0] & 1) != 0)
    return coap::Error{"is a multicast MAC address (the first byte must be even)"};
  if (m == std::array<uint8_t, 6>{}) return coap::Error{"is the all-zero MAC address"};
  return m;
}

coap::Result<SessionConfig> parse_session(const std::string& s) {
  std::string_view rest = s;
  const std::size_t comma = rest.find(',');
  SessionConfig sc;
  sc.uri = std::string(trim(rest.substr(0, comma)));
  if (Problem p = check_session_uri(sc.uri); !p) return std::move(p).take_error();
  const bool secure =
      sc.uri.starts_with(kSecureSessionScheme) || sc.uri.starts_with(kDtlsSessionScheme);
  rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  std::set<std::string, std::less<>> given;
  bool more = comma != std::string_view::npos;
  while (more) {
    const std::size_t next = rest.find(',');
    const std::string_view item = trim(rest.substr(0, next));
    more = next != std::string_view::npos;
    rest = more ? rest.substr(next + 1) : std::string_view{};
    if (Problem p = apply_session_item(item, given, sc); !p) return std::move(p).take_error();
  }
  if (!secure && (sc.psk_identity || sc.psk_key || sc.insecure))
    return problem(
               "has TLS items (psk-identity, psk-key, insecure) but is not coaps+tcp:// or "
               "coaps://")
        .take_error();
  if (sc.psk_identity.has_value() != sc.psk_key.has_value())
    return problem("has psk-identity without psk-key or psk-key without psk-identity").take_error();
  return sc;
}

coap::Status check_session_zones(const Config& c) {
  for (const SessionConfig& s : c.sessions) {
    auto uri =
        coap::parse_uri(s.uri, [&](std::string_view name) { return name == c.tap ? 1 : -1; });
    if (!uri)
      return coap::error("session '", s.uri, "': ", uri.error(),
                         " (link-local peers are reached on --tap ", c.tap, ")");
  }
  return {};
}

}  // namespace config
