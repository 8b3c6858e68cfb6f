#include "coap/uri.h"

#include <cctype>
#include <charconv>
#include <utility>

namespace coap {

const char* scheme_name(Scheme s) {
  switch (s) {
    case Scheme::kCoap: return "coap";
    case Scheme::kCoapTcp: return "coap+tcp";
    case Scheme::kCoaps: return "coaps";
    case Scheme::kCoapsTcp: return "coaps+tcp";
  }
  return "coap";
}

std::string Uri::path_string() const {
  std::string p;
  for (const auto& seg : path) p += "/" + seg;
  return p.empty() ? "/" : p;
}

namespace {

// Appends s, percent-encoding every character but RFC 3986's unreserved
// and sub-delims ones, ':' and '@', and those in `also` (RFC 7252 6.5
// steps 8 and 9); `except` is encoded even when a sub-delim.
void append_encoded(std::string& out, std::string_view s, std::string_view also, char except) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  static constexpr std::string_view kKeep = "-._~!$&'()*+,;=:@";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (c != except && (alnum || kKeep.find(c) != std::string_view::npos ||
                        also.find(c) != std::string_view::npos)) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
}

}  // namespace

// Appended piece by piece, as Address::to_string (GCC 12 at -O3).
std::string Uri::to_string() const {
  std::string s = scheme_name(scheme);
  s += "://";
  if (peer.is_v6()) {
    // RFC 6874: the zone separator is "%25" inside a URI.
    std::string host = peer.ip_string();
    if (auto z = host.find('%'); z != std::string::npos) host.replace(z, 1, "%25");
    s += '[';
    s += host;
    s += "]:";
    s += std::to_string(peer.port);
  } else {
    s += peer.to_string();
  }
  if (path.empty()) s += '/';
  for (const auto& seg : path) {
    s += '/';
    append_encoded(s, seg, "", 0);
  }
  for (std::size_t i = 0; i < query.size(); ++i) {
    s += i ? '&' : '?';
    append_encoded(s, query[i], "/?", '&');  // '&' separates the items
  }
  return s;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
      return std::nullopt;
    out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
    i += 2;
  }
  return out;
}

namespace {

using ZoneIndex = std::function<int(std::string_view)>;

// The scheme at the front of *rest, which it consumes.
Result<Scheme> parse_scheme(std::string_view* rest) {
  for (Scheme s : {Scheme::kCoap, Scheme::kCoapTcp, Scheme::kCoaps, Scheme::kCoapsTcp}) {
    const std::string prefix = std::string(scheme_name(s)) + "://";
    if (rest->starts_with(prefix)) {
      rest->remove_prefix(prefix.size());
      return s;
    }
  }
  return error("URI must start with coap://, coaps://, coap+tcp:// or coaps+tcp://");
}

// The text after ':' (has_colon), or the scheme's default port.
Result<uint16_t> parse_port(std::string_view text, bool has_colon, uint16_t default_port) {
  if (!has_colon) return default_port;
  unsigned v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v == 0 || v > 65535)
    return error("invalid port '", text, "' in URI");
  return static_cast<uint16_t>(v);
}

// "host[:port]" or "[v6[%25zone]][:port]": the peer address.
Result<Address> parse_authority(std::string_view authority, uint16_t default_port,
                                const ZoneIndex& zone_index, std::string* host_out) {
  if (authority.empty()) return error("URI has no host");
  std::string host;
  std::string_view port_text;
  bool has_colon = false;
  const bool bracketed = authority.front() == '[';
  if (bracketed) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return error("unterminated IPv6 host in URI (no closing ']')");
    host = std::string(authority.substr(1, close - 1));
    // RFC 6874: the zone separator is written %25 inside a URI.
    if (auto z = host.find("%25"); z != std::string::npos) host.replace(z, 3, "%");
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return error("unexpected text after the IPv6 host in URI (expected :PORT)");
      has_colon = true;
      port_text = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    host = std::string(authority.substr(0, colon));
    // RFC 3986 3.2.2: an IPv6 literal must be bracketed; "2001:db8::1:5683"
    // would otherwise lose its last group to the port.
    if (host.find(':') != std::string::npos)
      return error("host '", authority, "' is an IPv6 address, which a URI writes in brackets: [",
                   authority, "]");
    has_colon = colon != std::string_view::npos;
    if (has_colon) port_text = authority.substr(colon + 1);
  }
  Result<uint16_t> port = parse_port(port_text, has_colon, default_port);
  *host_out = host;
  if (!port) return std::move(port).take_error();
  auto addr = Address::parse_ip(host, *port, zone_index);
  if (!addr && bracketed) {
    const std::size_t pct = host.find('%');
    if (pct != std::string::npos && Address::parse_ip(host.substr(0, pct)))
      return error("host '[", host, "]' names the zone '", host.substr(pct + 1),
                   "', which is not an interface of coapd");
    return error("host '[", host, "]' is not an IPv6 address literal");
  }
  if (!addr)
    return error("host '", host,
                 "' is not an IP address literal (coapd runs its own IP stack and resolves no "
                 "names)");
  return *addr;
}

// "/a/b/" as Uri-Path segments: every '/' starts one, so "/a/" is "a" and "".
Status split_path(std::string_view path, std::vector<std::string>* out) {
  while (!path.empty()) {
    path.remove_prefix(1);  // the '/'
    const std::size_t slash = path.find('/');
    auto decoded = percent_decode(path.substr(0, slash));
    if (!decoded) return error("bad percent-encoding in URI path");
    out->push_back(*decoded);
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
  }
  return {};
}

// "x=1&y" as Uri-Query items. RFC 7252 6.4 step 9: every argument of a
// non-empty query is one, empty ones included ("a&" is "a" and "").
Status split_query(std::string_view query, std::vector<std::string>* out) {
  for (bool more = !query.empty(); more;) {
    const std::size_t amp = query.find('&');
    auto decoded = percent_decode(query.substr(0, amp));
    if (!decoded) return error("bad percent-encoding in URI query");
    out->push_back(*decoded);
    more = amp != std::string_view::npos;
    if (more) query.remove_prefix(amp + 1);
  }
  return {};
}

}  // namespace

Result<Uri> parse_uri(std::string_view text, const ZoneIndex& zone_index) {
  Uri uri;
  std::string_view rest = text;
  Result<Scheme> scheme = parse_scheme(&rest);
  if (!scheme) return std::move(scheme).take_error();
  uri.scheme = *scheme;
  // Authority ends at the first '/' or '?' (a fragment is not allowed in CoAP).
  if (rest.find('#') != std::string_view::npos) return error("a CoAP URI has no fragment");
  const std::size_t auth_end = rest.find_first_of("/?");
  const uint16_t default_port = uri.is_secure() ? 5684 : 5683;
  Result<Address> peer =
      parse_authority(rest.substr(0, auth_end), default_port, zone_index, &uri.host);
  if (!peer) return std::move(peer).take_error();
  uri.peer = *peer;
  rest = auth_end == std::string_view::npos ? std::string_view{} : rest.substr(auth_end);

  const std::size_t q = rest.find('?');
  std::string_view path = rest.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view{} : rest.substr(q + 1);
  // RFC 7252 6.4 step 8: an empty path or "/" has no Uri-Path; otherwise
  // every segment is one, empty ones included ("/a/" is "a" and "").
  if (path == "/") path = {};
  if (Status st = split_path(path, &uri.path); !st) return std::move(st).take_error();
  if (Status st = split_query(query, &uri.query); !st) return std::move(st).take_error();
  return uri;
}

}  // namespace coap
