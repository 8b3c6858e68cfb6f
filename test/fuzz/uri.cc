// Fuzz target uri: coap::parse_uri on any text. An accepted URI must
// re-serialise (Uri::to_string) into text that parses to the same Uri
// (scheme, address with port and zone, Uri-Path segments, Uri-Query items),
// and serialising that again must give the same text. A refused one must
// say why. percent_decode never lengthens its input.
#include "coap/uri.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "test/fuzz/fuzz_util.h"

namespace {

// Zone names as a host might have them; numeric zones need no lookup.
int zone_index(std::string_view name) {
  if (name == "coap0") return 3;
  if (name == "eth1") return 200;
  return -1;
}

bool same(const coap::Uri& a, const coap::Uri& b) {
  return a.scheme == b.scheme && a.peer == b.peer && a.path == b.path && a.query == b.query;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto d = coap::percent_decode(text))
    FUZZ_CHECK(d->size() <= text.size(), "percent_decode lengthened %zu bytes to %zu", text.size(),
               d->size());

  const auto uri = coap::parse_uri(text, zone_index);
  if (!uri) {
    FUZZ_CHECK(!uri.error().empty(), "refused without a reason: %.*s", static_cast<int>(size),
               data);
    return 0;
  }
  const std::string s = uri->to_string();
  const auto again = coap::parse_uri(s, zone_index);
  FUZZ_CHECK(again.ok(), "'%.*s' re-serialised as '%s', which is refused: %s",
             static_cast<int>(size), data, s.c_str(), again.ok() ? "" : again.error().c_str());
  FUZZ_CHECK(same(*uri, *again), "'%.*s' -> '%s' -> '%s' is another URI", static_cast<int>(size),
             data, s.c_str(), again->to_string().c_str());
  FUZZ_CHECK(again->to_string() == s, "'%s' serialises as '%s'", s.c_str(),
             again->to_string().c_str());
  return 0;
}
