#include "coap/dir_resources.h"

#include <algorithm>

#include "coap/endpoint.h"

namespace coap {
namespace {

struct Extension {
  std::string_view suffix;
  uint32_t ct;
};
// Longest suffixes first: ".senml.json" before ".json".
constexpr Extension kExtensions[] = {
    {".senml.json", 110}, {".senml.cbor", 112}, {".txt", 0},   {".json", 50},
    {".cbor", 60},        {".xml", 41},         {".link", 40},
};

constexpr MethodSet kAllMethods = 0x7f;

std::string parent_of(const std::string& rel) {
  const std::size_t slash = rel.rfind('/');
  return slash == std::string::npos ? std::string() : rel.substr(0, slash);
}

std::string join(std::string_view dir, std::string_view name) {
  return dir.empty() ? std::string(name) : std::string(dir) + '/' + std::string(name);
}

// The request's Uri-Path as a path below the directory; false when a
// segment could step out of it or is no file name at all.
bool relative_path(const Message& msg, std::string* rel) {
  rel->clear();
  for (const OptionView& o : msg.options) {
    if (o.number != opt::kUriPath) continue;
    const std::string_view seg = as_string(o.value());
    if (seg.empty() || seg == "." || seg == ".." ||
        seg.find_first_of(std::string_view("/\0", 2)) != std::string_view::npos)
      return false;
    if (!rel->empty()) *rel += '/';
    *rel += seg;
  }
  return true;
}

constexpr std::string_view kOutside = "the path leaves the resource directory";

}  // namespace

UserResource::Refusal refusal_of(const StoreResult& r);

namespace {

void refuse(const StoreResult& r, Response& resp) {
  const UserResource::Refusal f = refusal_of(r);
  resp.error(f.code, f.diagnostic);
}

}  // namespace

uint32_t content_format_for_file(std::string_view path) {
  const std::string_view name = path.substr(path.rfind('/') + 1);
  for (const Extension& e : kExtensions)
    if (name.size() > e.suffix.size() && name.ends_with(e.suffix)) return e.ct;
  return content_format::kOctetStream;
}

std::optional<std::string_view> extension_for_format(uint32_t ct) {
  if (ct == content_format::kOctetStream) return std::string_view();
  for (const Extension& e : kExtensions)
    if (e.ct == ct) return e.suffix;
  return std::nullopt;
}

UserResource::Refusal refusal_of(const StoreResult& r) {
  switch (r.code) {
    case StoreCode::kRefused: return {codes::kForbidden, std::string(kOutside)};
    case StoreCode::kMissing: return {codes::kNotFound, "Not Found"};
    case StoreCode::kTooLarge:
      return {codes::kRequestEntityTooLarge, "value larger than the resource limit"};
    default: return {codes::kInternalServerError, "storage failed: " + r.detail};
  }
}

// --- DirResource ----------------------------------------------------------------

namespace {

ResourceSpec dir_spec(std::string_view rel, std::vector<uint8_t> value) {
  ResourceSpec s;
  s.path = "/" + std::string(rel);
  s.ct = content_format_for_file(rel);
  s.observable = true;
  s.methods = kAllMethods;
  s.value = std::move(value);
  return s;
}

}  // namespace

DirResource::DirResource(std::string_view rel, std::vector<uint8_t> value, ResourceStore& store,
                         std::size_t max_size)
    : UserResource(dir_spec(rel, std::move(value)), ResourceSource::kDir, max_size),
      store_(store) {}

std::optional<UserResource::Refusal> DirResource::persist(std::span<const uint8_t> value) {
  if (StoreResult r = store_.replace(file(), value); !r) return refusal_of(r);
  return std::nullopt;
}

std::optional<UserResource::Refusal> DirResource::erase() {
  StoreResult r = store_.remove(file());
  // Gone already (removed by someone else): the DELETE still succeeds.
  if (!r && r.code != StoreCode::kMissing) return refusal_of(r);
  return std::nullopt;
}

// --- DirFallback ----------------------------------------------------------------

DirFallback::DirFallback(ResourceStore& store, const ResourceDirectory& dir,
                         std::size_t max_resources, std::size_t max_size)
    : Resource("/", {}),
      store_(store),
      dir_(dir),
      max_resources_(max_resources),
      max_size_(max_size) {}

void DirFallback::handle(const Request& req, Response& resp) {
  std::string rel;
  if (!relative_path(req.msg, &rel)) return resp.error(codes::kForbidden, kOutside);
  if (!check_resource_path("/" + rel)) return resp.error(codes::kNotFound, "Not Found");
  const EntryKind kind = store_.kind(rel);
  // A link (wherever it points), or a path through one: never followed.
  if (kind == EntryKind::kOther) return resp.error(codes::kForbidden, kOutside);
  if (req.method == codes::kPut && kind != EntryKind::kDirectory) return put_new(req, rel, resp);
  if (req.method == codes::kPost && kind == EntryKind::kDirectory) return post_into(req, rel, resp);
  resp.error(codes::kNotFound, "Not Found");
}

bool DirFallback::may_create(const Request& req, Response& resp) const {
  if (req.msg.find(opt::kIfMatch)) {
    resp.error(codes::kPreconditionFailed, "Precondition Failed");  // nothing to match
    return false;
  }
  if (req.payload.size() > max_size_) {
    resp.error(codes::kRequestEntityTooLarge, "value larger than the resource limit");
    return false;
  }
  if (dir_.user_count() >= max_resources_) {
    resp.error(codes::kServiceUnavailable, "there are " + std::to_string(max_resources_) +
                                               " user resources already (--max-resources)");
    return false;
  }
  return true;
}

void DirFallback::put_new(const Request& req, const std::string& rel, Response& resp) {
  const EntryKind parent = store_.kind(parent_of(rel));
  if (parent == EntryKind::kOther) return resp.error(codes::kForbidden, kOutside);
  if (parent != EntryKind::kDirectory) return resp.error(codes::kNotFound, "no such directory");
  const std::optional<uint32_t> ct = req.msg.uint_option(opt::kContentFormat);
  if (ct && *ct != content_format_for_file(rel))
    return resp.error(
        codes::kUnsupportedContentFormat,
        "the file name says content-format " + std::to_string(content_format_for_file(rel)));
  if (!may_create(req, resp)) return;
  if (StoreResult r = store_.replace(rel, req.payload); !r) return refuse(r, resp);
  created(rel, req.payload, resp);
}

void DirFallback::post_into(const Request& req, const std::string& rel, Response& resp) {
  const uint32_t ct =
      req.msg.uint_option(opt::kContentFormat).value_or(content_format::kOctetStream);
  const std::optional<std::string_view> ext = extension_for_format(ct);
  if (!ext)
    return resp.error(codes::kUnsupportedContentFormat,
                      "no file name extension for content-format " + std::to_string(ct));
  if (!may_create(req, resp)) return;
  // A fresh name: the first number not taken (on disk or here).
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const std::string name = join(rel, std::to_string(next_name_++) + std::string(*ext));
    if (dir_.find("/" + name)) continue;
    StoreResult r = store_.create(name, req.payload);
    if (r.code == StoreCode::kExists) continue;
    if (!r) return refuse(r, resp);
    resp.location = "/" + name;
    return created(name, req.payload, resp);
  }
  resp.error(codes::kInternalServerError, "no free file name");
}

void DirFallback::created(std::string rel, std::span<const uint8_t> value, Response& resp) {
  resp.code = codes::kCreated;
  auto r = std::make_unique<DirResource>(rel, std::vector<uint8_t>(value.begin(), value.end()),
                                         store_, max_size_);
  resp.etag = content_etag(r->spec().ct, value);
  resp.etag_len = 8;
  resp.created = std::move(r);
}

// --- DirTree --------------------------------------------------------------------

void DirTree::scan(std::string_view rel, const Add& add, Scan* out) {
  std::vector<std::pair<std::string, EntryKind>> entries;
  if (StoreResult r = store_.list(rel, &entries); !r) {
    out->skipped.push_back((rel.empty() ? "." : std::string(rel)) + ": " + r.detail);
    return;
  }
  out->directories.emplace_back(rel);
  std::sort(entries.begin(), entries.end());
  for (const auto& [name, kind] : entries) {
    const std::string path = join(rel, name);
    if (kind == EntryKind::kDirectory) {
      if (check_resource_path("/" + path)) scan(path, add, out);
      continue;
    }
    if (kind != EntryKind::kFile || is_store_temporary(name)) continue;
    if (Status st = check_resource_path("/" + path); !st) {
      out->skipped.push_back(path + ": the path " + st.error());
      continue;
    }
    std::vector<uint8_t> value;
    if (StoreResult r = store_.read(path, max_size_, &value); !r) {
      out->skipped.push_back(
          path + ": " +
          (r.code == StoreCode::kTooLarge ? "larger than --max-resource-size" : r.detail));
      continue;
    }
    if (Status st = add(std::make_unique<DirResource>(path, std::move(value), store_, max_size_));
        !st)
      out->skipped.push_back(path + ": " + st.error());
  }
}

void DirTree::refresh(Endpoint& ep, std::string_view rel_view, TimePoint now, Scan* out) {
  const std::string rel(rel_view);
  const std::string_view name = rel_view.substr(rel_view.rfind('/') + 1);
  if (is_store_temporary(name)) return;
  switch (store_.kind(rel)) {
    case EntryKind::kFile: file_changed(ep, rel, now, out); break;
    case EntryKind::kDirectory:
      scan(
          rel,
          [&](std::unique_ptr<Resource> r) {
            // Served already (a directory seen again): nothing to add.
            if (ep.resources().find(r->path())) return Status{};
            return ep.add_resource(std::move(r), now);
          },
          out);
      break;
    default:
      entry_gone(ep, rel, now);
      out->gone.push_back(rel);
      break;
  }
}

void DirTree::file_changed(Endpoint& ep, const std::string& rel, TimePoint now, Scan* out) {
  const std::string path = "/" + rel;
  if (Status st = check_resource_path(path); !st) return;
  std::vector<uint8_t> value;
  if (StoreResult r = store_.read(rel, max_size_, &value); !r) {
    // Too large now, or unreadable: no longer served.
    out->skipped.push_back(rel + ": " + r.detail);
    return entry_gone(ep, rel, now);
  }
  const Resource* existing = ep.resources().find(path);
  if (!existing) {
    if (Status st =
            ep.add_resource(std::make_unique<DirResource>(rel, value, store_, max_size_), now);
        !st)
      out->skipped.push_back(rel + ": " + st.error());
    return;
  }
  if (existing->source() == ResourceSource::kDir)
    (void)ep.set_resource_value(path, value, std::nullopt, now, /*from_disk=*/true);
}

void DirTree::entry_gone(Endpoint& ep, const std::string& rel, TimePoint now) {
  const std::string path = "/" + rel;
  const std::string below = path + "/";
  std::vector<std::string> doomed;
  for (const auto& r : ep.resources().all())
    if (r->source() == ResourceSource::kDir && (r->path() == path || r->path().starts_with(below)))
      doomed.push_back(r->path());
  for (const std::string& p : doomed) (void)ep.remove_resource(p, now);
}

}  // namespace coap
