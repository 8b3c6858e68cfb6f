#include "coap/uri.h"

#include <cctype>
#include <charconv>

namespace coap {

const char* scheme_name(Scheme s) { return s == Scheme::kCoapTcp ? "coap+tcp" : "coap"; }

std::string Uri::path_string() const {
  std::string p;
  for (const auto& seg : path) p += "/" + seg;
  return p.empty() ? "/" : p;
}

std::string Uri::to_string() const {
  std::string s = std::string(scheme_name(scheme)) + "://" + peer.to_string() + path_string();
  for (std::size_t i = 0; i < query.size(); ++i) s += (i ? "&" : "?") + query[i];
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

std::optional<Uri> parse_uri(std::string_view text, std::string* error,
                             const std::function<int(std::string_view)>& zone_index) {
  auto fail = [error](std::string msg) -> std::optional<Uri> {
    if (error) *error = std::move(msg);
    return std::nullopt;
  };
  Uri uri;
  std::string_view rest = text;
  if (rest.starts_with("coap+tcp://")) {
    uri.scheme = Scheme::kCoapTcp;
    rest.remove_prefix(11);
  } else if (rest.starts_with("coap://")) {
    uri.scheme = Scheme::kCoap;
    rest.remove_prefix(7);
  } else if (rest.starts_with("coaps://") || rest.starts_with("coaps+tcp://")) {
    return fail("coaps is not supported: coapd speaks CoAP without DTLS/TLS");
  } else {
    return fail("URI must start with coap:// or coap+tcp://");
  }
  // Authority ends at the first '/' or '?' (a fragment is not allowed in CoAP).
  if (rest.find('#') != std::string_view::npos) return fail("a CoAP URI has no fragment");
  const std::size_t auth_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, auth_end);
  rest = auth_end == std::string_view::npos ? std::string_view{} : rest.substr(auth_end);
  if (authority.empty()) return fail("URI has no host");

  std::string host;
  std::string_view port_text;
  if (authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail("unterminated IPv6 literal in URI");
    host = std::string(authority.substr(1, close - 1));
    // RFC 6874: the zone separator is written %25 inside a URI.
    if (auto z = host.find("%25"); z != std::string::npos) host.replace(z, 3, "%");
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("unexpected text after IPv6 literal in URI");
      port_text = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    host = std::string(authority.substr(0, colon));
    // RFC 3986 3.2.2: an IPv6 literal must be bracketed; "2001:db8::1:5683"
    // would otherwise lose its last group to the port.
    if (host.find(':') != std::string::npos)
      return fail("an IPv6 address in a URI must be written in brackets: [" +
                  std::string(authority) + "]");
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  uint16_t port = 5683;
  if (!port_text.empty()) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), v);
    if (ec != std::errc() || p != port_text.data() + port_text.size() || v == 0 || v > 65535)
      return fail("invalid port '" + std::string(port_text) + "' in URI");
    port = static_cast<uint16_t>(v);
  }
  auto addr = Address::parse_ip(host, port, zone_index);
  if (!addr)
    return fail("host '" + host +
                "' is not an IP address literal (coapd runs its own IP stack and resolves no names)");
  uri.peer = *addr;

  std::string_view path = rest.substr(0, rest.find('?'));
  std::string_view query =
      rest.find('?') == std::string_view::npos ? std::string_view{} : rest.substr(rest.find('?') + 1);
  // RFC 7252 6.4 step 8: an empty path or "/" has no Uri-Path; otherwise
  // every segment is one, empty ones included ("/a/" is "a" and "").
  if (path == "/") path = {};
  while (!path.empty()) {
    path.remove_prefix(1);  // the '/'
    const std::size_t slash = path.find('/');
    auto decoded = percent_decode(path.substr(0, slash));
    if (!decoded) return fail("bad percent-encoding in URI path");
    uri.path.push_back(*decoded);
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
  }
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    auto decoded = percent_decode(query.substr(0, amp));
    if (!decoded) return fail("bad percent-encoding in URI query");
    uri.query.push_back(*decoded);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
  }
  return uri;
}

}  // namespace coap
