// CoAP URIs (RFC 7252 section 6, RFC 8323 section 8): coap://, coaps://,
// coap+tcp:// and coaps+tcp:// with an IP literal host. coapd runs its own
// IP stack and resolves no names.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coap/address.h"
#include "coap/result.h"

namespace coap {

enum class Scheme { kCoap, kCoapTcp, kCoaps, kCoapsTcp };
const char* scheme_name(Scheme s);

struct Uri {
  Scheme scheme = Scheme::kCoap;
  Address peer;                    // with port (default 5683, secure 5684)
  std::string host;                // the host as written, without brackets
  std::vector<std::string> path;   // decoded Uri-Path segments
  std::vector<std::string> query;  // decoded Uri-Query items

  bool is_tcp() const { return scheme == Scheme::kCoapTcp || scheme == Scheme::kCoapsTcp; }
  bool is_secure() const { return scheme == Scheme::kCoaps || scheme == Scheme::kCoapsTcp; }
  std::string path_string() const;  // "/a/b" or "/"
  std::string to_string() const;
};

// Parses a URI. zone_index maps an IPv6 zone name ("coap0") to an interface
// index (-1: no such interface). The error names the problem.
Result<Uri> parse_uri(std::string_view text,
                      const std::function<int(std::string_view)>& zone_index = {});

// Percent-decodes s; nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view s);

}  // namespace coap
