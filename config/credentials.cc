// The DTLS/TLS credentials: PSK files and keys, and the certificate files,
// read once at start-up and checked by building a security context from
// them (so a bad file is a configuration error, not a failed handshake).
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/options_internal.h"

namespace config {
namespace {

coap::Result<std::string> read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return coap::error(what, " ", path, " cannot be read: ", std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return coap::error(what, " ", path, ": read error");
  return text.str();
}

}  // namespace

coap::Result<std::vector<coap::PskEntry>> parse_psk_lines(const std::string& text) {
  std::vector<coap::PskEntry> out;
  std::istringstream in(text);
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (const std::size_t hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::istringstream words(line);
    std::string identity, key, extra;
    if (!(words >> identity)) continue;  // blank or comment
    const std::string where = "line " + std::to_string(number) + ": ";
    if (!(words >> key)) return coap::error(where, "identity '", identity, "' has no key");
    if (words >> extra)
      return coap::error(where, "more than IDENTITY KEY (identities and keys have no spaces)");
    auto bytes = coap::parse_psk_key(key);
    if (!bytes) return coap::error(where, "the key of '", identity, "' ", bytes.error());
    for (const coap::PskEntry& e : out)
      if (e.identity == identity) return coap::error(where, "identity '", identity, "' again");
    out.push_back({identity, std::move(*bytes)});
  }
  if (out.empty()) return coap::Error{"has no credentials (lines of IDENTITY KEY)"};
  return out;
}

namespace detail {

// Fills c.credentials from the files; the error names the option.
coap::Status load_credentials(Config& c) {
  coap::Credentials& cr = c.credentials;
  cr = {};
  if (c.psk_file) {
    auto text = read_file(*c.psk_file, "--psk-file");
    if (!text) return std::move(text).take_error();
    auto psk = parse_psk_lines(*text);
    if (!psk) return coap::error("--psk-file ", *c.psk_file, ": ", psk.error());
    cr.psk = std::move(*psk);
  }
  cr.psk_hint = c.psk_hint;
  for (auto [path, field, flag] : {std::tuple{&c.cert_file, &cr.cert_pem, "--cert"},
                                   std::tuple{&c.key_file, &cr.key_pem, "--key"},
                                   std::tuple{&c.ca_file, &cr.ca_pem, "--ca"}}) {
    if (!*path) continue;
    auto text = read_file(**path, flag);
    if (!text) return std::move(text).take_error();
    *field = std::move(*text);
  }
  if (c.client_psk_identity.has_value() != c.client_psk_key.has_value())
    return coap::Error{"--client-psk-identity and --client-psk-key go together"};
  if (c.client_psk_identity)
    cr.client_psk = coap::PskEntry{*c.client_psk_identity, *c.client_psk_key};
  // Parsed once here, so that a bad file stops coapd at once.
  auto ctx = coap::SecurityContext::create(cr, [](std::span<uint8_t> out) {
    for (uint8_t& b : out) b = 0;  // a throwaway context: its randomness is never used
  });
  if (!ctx) return coap::error("--cert/--key/--ca: ", ctx.error());
  return {};
}

}  // namespace detail
}  // namespace config
