#include "coap/resource.h"

#include <algorithm>

namespace coap {

const char* proto_name(Proto p) { return p == Proto::kTcp ? "tcp" : "udp"; }

Resource::Resource(std::string path, std::vector<std::pair<std::string, std::string>> attributes,
                   bool observable)
    : path_(std::move(path)), attributes_(std::move(attributes)), observable_(observable) {
  std::string_view p = path_;
  while (!p.empty()) {
    if (p.front() == '/') {
      p.remove_prefix(1);
      continue;
    }
    const std::size_t slash = p.find('/');
    segments_.emplace_back(p.substr(0, slash));
    p = slash == std::string_view::npos ? std::string_view{} : p.substr(slash);
  }
}

ResourceDirectory::ResourceDirectory() = default;
ResourceDirectory::~ResourceDirectory() = default;

void ResourceDirectory::add(std::unique_ptr<Resource> r) {
  by_path_[r->path()] = r.get();
  if (r->source() != ResourceSource::kBuiltin) ++user_count_;
  resources_.push_back(std::move(r));
}

std::unique_ptr<Resource> ResourceDirectory::remove(const Resource* r) {
  auto it = std::find_if(resources_.begin(), resources_.end(),
                         [r](const std::unique_ptr<Resource>& p) { return p.get() == r; });
  if (it == resources_.end()) return nullptr;
  std::unique_ptr<Resource> out = std::move(*it);
  resources_.erase(it);
  by_path_.erase(out->path());
  if (out->source() != ResourceSource::kBuiltin) --user_count_;
  return out;
}

Resource* ResourceDirectory::find(const Message& msg) const {
  key_.clear();
  for (const OptionView& o : msg.options) {
    if (o.number != opt::kUriPath) continue;
    const std::string_view seg = as_string(o.value());
    // A segment holding '/' names no resource (it would alias "/a" "b").
    if (seg.find('/') != std::string_view::npos) return nullptr;
    key_ += '/';
    key_ += seg;
  }
  if (key_.empty()) key_ = "/";
  return find(key_);
}

Resource* ResourceDirectory::find(std::string_view path) const {
  auto it = by_path_.find(std::string(path));
  return it == by_path_.end() ? nullptr : it->second;
}

void ResourceDirectory::set_fallback(std::unique_ptr<Resource> r) { fallback_ = std::move(r); }

namespace {

bool value_matches(std::string_view value, std::string_view pattern) {
  if (!pattern.empty() && pattern.back() == '*') {
    pattern.remove_suffix(1);
    return value.starts_with(pattern);
  }
  return value == pattern;
}

bool resource_matches(const Resource& r, std::string_view filter) {
  if (filter.empty()) return true;
  const std::size_t eq = filter.find('=');
  const std::string_view name = filter.substr(0, eq);
  const std::string_view pattern = eq == std::string_view::npos ? "" : filter.substr(eq + 1);
  if (name == "href") return value_matches(r.path(), pattern);
  for (const auto& [attr, raw] : r.attributes()) {
    if (attr != name) continue;
    std::string_view v = raw;
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    // Relation-type-like attributes hold space-separated words; match any.
    // A value without words (an attribute without a value, or "") is one
    // empty word, which "name=" and "name=*" both match.
    for (;;) {
      const std::size_t sp = v.find(' ');
      if (value_matches(v.substr(0, sp), pattern)) return true;
      if (sp == std::string_view::npos) break;
      v.remove_prefix(sp + 1);
    }
  }
  return false;
}

}  // namespace

std::string link_format(const ResourceDirectory& dir, std::string_view query_filter) {
  std::string out;
  for (const auto& r : dir.all()) {
    if (r->path().starts_with("/.well-known/") || !resource_matches(*r, query_filter)) continue;
    if (!out.empty()) out += ',';
    out += '<' + r->path() + '>';
    for (const auto& [name, value] : r->attributes()) {
      out += ';' + name;
      if (!value.empty()) out += '=' + value;
    }
  }
  return out;
}

}  // namespace coap
