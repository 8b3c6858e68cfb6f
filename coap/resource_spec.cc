#include "coap/resource_spec.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace coap {
namespace {

constexpr const char* kMethodNames[] = {"get", "post", "put", "delete", "fetch", "patch", "ipatch"};
constexpr std::string_view kKeyList[] = {"ct",   "rt",      "if",      "title",
                                         "sz",   "obs",     "methods", "value",
                                         "file", "max-age", "delay",   "multicast"};
constexpr std::string_view kKeys =
    "ct, rt, if, title, sz, obs, methods, value, file, max-age, delay, multicast";

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

Result<uint32_t> parse_number(std::string_view v, uint32_t max) {
  uint32_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc{} || end != v.data() + v.size() || n > max)
    return error("'", v, "' is not a whole number from 0 to ", std::to_string(max));
  return n;
}

// A link attribute value goes into /.well-known/core inside quotes.
Status check_attribute_text(std::string_view v) {
  if (v.empty()) return error("is empty");
  for (char c : v)
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
      return error("'", v, "' has a quote, backslash or control character");
  return {};
}

Status apply_number_key(const std::string& key, std::string_view v, ResourceSpec& spec) {
  if (key == "ct") {
    auto n = parse_number(v, 65535);
    if (!n) return std::move(n).take_error();
    spec.ct = *n;
  } else if (key == "sz") {
    auto n = parse_number(v, 0xffffffffu);
    if (!n) return std::move(n).take_error();
    spec.sz = *n;
  } else if (key == "max-age") {
    auto n = parse_number(v, 0xffffffffu);
    if (!n) return std::move(n).take_error();
    spec.max_age = *n;
  } else {
    auto n = parse_number(v, kMaxDelayMs);
    if (!n) return std::move(n).take_error();
    spec.delay_ms = *n;
  }
  return {};
}

Status apply_key(const std::string& key, std::optional<std::string_view> value,
                 ResourceSpec& spec) {
  if (key == "obs" || key == "multicast") {
    if (value) return error("takes no value");
    (key == "obs" ? spec.observable : spec.multicast) = true;
    return {};
  }
  if (!value) return error("needs '=value'");
  const std::string_view v = *value;
  if (key == "ct" || key == "sz" || key == "max-age" || key == "delay")
    return apply_number_key(key, v, spec);
  if (key == "rt" || key == "if" || key == "title") {
    if (Status s = check_attribute_text(v); !s) return s;
    (key == "rt" ? spec.rt : key == "if" ? spec.if_ : spec.title) = std::string(v);
    return {};
  }
  if (key == "methods") {
    auto m = parse_methods(v);
    if (!m) return std::move(m).take_error();
    spec.methods = *m;
    return {};
  }
  if (key == "file") {
    if (v.empty()) return error("is empty");
    spec.file = std::string(v);
    return {};
  }
  spec.value.assign(v.begin(), v.end());  // value
  return {};
}

}  // namespace

const char* source_name(ResourceSource s) {
  switch (s) {
    case ResourceSource::kBuiltin: return "builtin";
    case ResourceSource::kConfig: return "config";
    case ResourceSource::kDir: return "dir";
    case ResourceSource::kRuntime: return "runtime";
  }
  return "?";
}

MethodSet method_bit(Code method) {
  if (method.cls() != 0 || method.detail() < 1 || method.detail() > 7) return 0;
  return static_cast<MethodSet>(1u << (method.detail() - 1));
}

Result<MethodSet> parse_methods(std::string_view text) {
  MethodSet set = 0;
  while (true) {
    const std::size_t bar = text.find('|');
    const std::string word = lower(trim(text.substr(0, bar)));
    const auto* it = std::find(std::begin(kMethodNames), std::end(kMethodNames), word);
    if (it == std::end(kMethodNames))
      return error("'", word, "' is not a method (get, put, post, delete, fetch, patch, ipatch)");
    set |= static_cast<MethodSet>(1u << (it - std::begin(kMethodNames)));
    if (bar == std::string_view::npos) break;
    text.remove_prefix(bar + 1);
  }
  return set;
}

std::string methods_text(MethodSet set) {
  std::string out;
  for (unsigned i = 0; i < 7; ++i) {
    if (!(set & (1u << i))) continue;
    if (!out.empty()) out += '|';
    out += kMethodNames[i];
  }
  return out;
}

Status check_resource_path(std::string_view path) {
  if (path.empty() || path.front() != '/') return error("does not start with '/'");
  if (path == "/") return error("is the root, which coapd serves itself");
  std::string_view rest = path.substr(1);
  std::size_t segments = 0;
  while (true) {
    const std::size_t slash = rest.find('/');
    const std::string_view seg = rest.substr(0, slash);
    if (seg.empty()) return error("has an empty segment");
    if (seg.size() > kMaxSegmentLength)
      return error("has a segment longer than ", std::to_string(kMaxSegmentLength), " bytes");
    if (seg == "." || seg == "..") return error("has a '.' or '..' segment");
    for (char c : seg)
      if (static_cast<unsigned char>(c) < 0x20 || c == ',' || c == ';' || c == '<' || c == '>')
        return error("has a control character or one of , ; < > in a segment");
    if (++segments > kMaxSegments)
      return error("has more than ", std::to_string(kMaxSegments), " segments");
    if (segments == 1 && seg == ".well-known") return error("is under /.well-known/");
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return {};
}

Status check_resource_spec(const ResourceSpec& spec) {
  if (Status s = check_resource_path(spec.path); !s)
    return error("path '", spec.path, "' ", s.error());
  const std::pair<const char*, const std::string*> texts[] = {
      {"rt", &spec.rt}, {"if", &spec.if_}, {"title", &spec.title}};
  for (const auto& [key, text] : texts)
    if (!text->empty())
      if (Status s = check_attribute_text(*text); !s) return error(key, " ", s.error());
  if (spec.ct > 65535) return error("ct is not from 0 to 65535");
  if (spec.delay_ms > kMaxDelayMs)
    return error("delay is more than ", std::to_string(kMaxDelayMs), " ms");
  if (spec.methods == 0 || spec.methods > 0x7f) return error("methods is empty");
  return {};
}

Result<ResourceSpec> parse_resource_entry(std::string_view entry) {
  ResourceSpec spec;
  std::size_t comma = entry.find(',');
  spec.path = std::string(trim(entry.substr(0, comma)));
  if (Status s = check_resource_path(spec.path); !s)
    return error("path '", spec.path, "' ", s.error());
  std::vector<std::string> given;
  while (comma != std::string_view::npos) {
    entry.remove_prefix(comma + 1);
    const std::size_t eq = entry.find('=');
    comma = entry.find(',');
    const bool has_value = eq != std::string_view::npos && eq < comma;
    const std::string key = lower(trim(entry.substr(0, has_value ? eq : comma)));
    if (key.empty()) return error("has an empty item (a stray ',')");
    std::optional<std::string_view> value;
    if (has_value) {
      // value= is the rest of the entry: a payload may hold commas.
      if (key == "value") comma = std::string_view::npos;
      value = entry.substr(eq + 1, comma == std::string_view::npos ? comma : comma - eq - 1);
      if (key != "value") value = trim(*value);
    }
    if (std::find(std::begin(kKeyList), std::end(kKeyList), key) == std::end(kKeyList))
      return error("key '", key, "' is not known (expected ", kKeys, ")");
    if (std::find(given.begin(), given.end(), key) != given.end())
      return error("key '", key, "' is given more than once");
    given.push_back(key);
    if (Status s = apply_key(key, value, spec); !s) return error("key '", key, "' ", s.error());
  }
  if (spec.file && std::find(given.begin(), given.end(), "value") != given.end())
    return error("key 'file' and key 'value' both given; use one");
  return spec;
}

}  // namespace coap
