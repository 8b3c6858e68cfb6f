// Fuzz target link_format_query: coap::link_format (RFC 6690) over the
// builtin resources and a few extra ones, filtered by a fuzzed query item
// (what /.well-known/core gets as Uri-Query).
//
// The output must be exactly the links, in directory order and with their
// attributes verbatim, of the resources (other than /.well-known/...) that
// the filter selects by RFC 6690 4.1 as modelled here: "href=V" matches the
// target, "NAME=V" a resource with an attribute NAME one of whose
// space-separated words (quotes removed) is V, a trailing '*' making V a
// prefix. An attribute without a value, or with "", has one empty word;
// NAME alone is NAME=. Adding '*' to a filter value can only add links.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "coap/builtin_resources.h"
#include "coap/resource.h"
#include "test/fuzz/fuzz_util.h"

namespace coap::fuzz {
namespace {

class Extra final : public Resource {
 public:
  Extra(std::string path, std::vector<std::pair<std::string, std::string>> attrs)
      : Resource(std::move(path), std::move(attrs)) {}
  bool allows(Code) const override { return true; }
  void handle(const Request&, Response&) override {}
};

const ResourceDirectory& directory() {
  static ResourceDirectory* dir = [] {
    auto* d = new ResourceDirectory;
    add_builtin_resources(*d, BuiltinResourceOptions{});
    d->add(std::make_unique<Extra>(
        "/sensors/temp",
        std::vector<std::pair<std::string, std::string>>{
            {"rt", "\"temperature-c core.s\""}, {"if", "\"sensor\""}, {"ct", "0"}}));
    d->add(std::make_unique<Extra>(
        "/sensors/light",
        std::vector<std::pair<std::string, std::string>>{{"rt", "\"light-lux\""}, {"obs", ""}}));
    d->add(
        std::make_unique<Extra>("/a*b", std::vector<std::pair<std::string, std::string>>{
                                            {"title", "\"x=y\""}, {"sz", "12"}, {"rt", "\"\""}}));
    d->add(std::make_unique<Extra>(
        "/.well-known/other",
        std::vector<std::pair<std::string, std::string>>{{"rt", "\"hidden\""}}));
    return d;
  }();
  return *dir;
}

bool value_matches(std::string_view value, std::string_view pattern) {
  if (!pattern.empty() && pattern.back() == '*')
    return value.substr(0, pattern.size() - 1) == pattern.substr(0, pattern.size() - 1);
  return value == pattern;
}

// Whether the filter selects r, from RFC 6690 4.1's rules (see above).
bool selected(const Resource& r, std::string_view filter) {
  if (filter.empty()) return true;
  const std::size_t eq = filter.find('=');
  const std::string_view name = filter.substr(0, eq);
  const std::string_view pattern = eq == std::string_view::npos ? "" : filter.substr(eq + 1);
  if (name == "href") return value_matches(r.path(), pattern);
  for (const auto& [attr, raw] : r.attributes()) {
    if (attr != name) continue;
    std::string_view v = raw;
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    // The words between spaces; a value without any is one empty word.
    for (std::size_t start = 0; start <= v.size();) {
      const std::size_t end = std::min(v.find(' ', start), v.size());
      if (value_matches(v.substr(start, end - start), pattern)) return true;
      start = end + 1;
    }
  }
  return false;
}

// The link for r as RFC 6690 writes it: <target>;attr[=value]...
std::string link(const Resource& r) {
  std::string s = "<" + r.path() + ">";
  for (const auto& [name, value] : r.attributes())
    s += ";" + name + (value.empty() ? "" : "=" + value);
  return s;
}

std::string expected(std::string_view filter) {
  std::string out;
  for (const auto& r : directory().all()) {
    if (r->path().starts_with("/.well-known/") || !selected(*r, filter)) continue;
    out += (out.empty() ? "" : ",") + link(*r);
  }
  return out;
}

}  // namespace
}  // namespace coap::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace coap::fuzz;
  const std::string_view filter(reinterpret_cast<const char*>(data), size);
  const std::string got = coap::link_format(directory(), filter);
  const std::string want = expected(filter);
  FUZZ_CHECK(got == want, "filter '%.*s': got '%s', RFC 6690 4.1 gives '%s'",
             static_cast<int>(size), data, got.c_str(), want.c_str());
  if (filter.find('=') != std::string_view::npos && !filter.ends_with("*")) {
    const std::string wider = coap::link_format(directory(), std::string(filter) + "*");
    for (const auto& r : directory().all())
      if (got.find(link(*r)) != std::string::npos)
        FUZZ_CHECK(wider.find(link(*r)) != std::string::npos, "'%.*s*' lost %s that '%.*s' lists",
                   static_cast<int>(size), data, r->path().c_str(), static_cast<int>(size), data);
  }
  return 0;
}
