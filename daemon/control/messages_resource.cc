// Encoding of the resource_list, resource_add, resource_set and
// resource_delete messages.
#include "daemon/control/codec.h"
#include "daemon/control/messages.h"

namespace control {
namespace {

using nlohmann::json;

constexpr uint64_t kU32 = 0xffffffffu;

json optional_number(const std::optional<uint32_t>& v) { return v ? json(*v) : json(nullptr); }

std::optional<uint32_t> read_u32(FieldReader& r, const char* key, uint64_t max = kU32) {
  if (auto v = r.optional_uint(key, max)) return static_cast<uint32_t>(*v);
  return std::nullopt;
}

// A field that may be null (ct and max_age of a built-in).
std::optional<uint32_t> read_nullable(const json& j, FieldReader& r, const char* key) {
  auto it = j.find(key);
  if (it != j.end() && it->is_null()) return std::nullopt;
  return read_u32(r, key);
}

json entry_json(const ResourceEntry& e) {
  return {{"path", e.path},
          {"ct", optional_number(e.ct)},
          {"observable", e.observable},
          {"observers", e.observers},
          {"methods", e.methods},
          {"size", e.size},
          {"etag", e.etag},
          {"source", e.source},
          {"rt", e.rt},
          {"if", e.if_},
          {"title", e.title},
          {"delay_ms", e.delay_ms},
          {"max_age", optional_number(e.max_age)}};
}

Result<ResourceEntry> entry_of(const json& j) {
  if (!j.is_object()) return coap::Error{"resources: an entry is not an object"};
  FieldReader r(j);
  ResourceEntry e;
  e.path = r.string("path");
  e.ct = read_nullable(j, r, "ct");
  e.observable = r.boolean("observable", false);
  e.observers = r.uint("observers", 0, UINT64_MAX);
  e.methods = r.string("methods");
  e.size = r.uint("size", 0, UINT64_MAX);
  e.etag = r.string("etag");
  e.source = r.string("source");
  e.rt = r.string("rt");
  e.if_ = r.string("if");
  e.title = r.string("title");
  e.delay_ms = r.uint("delay_ms", 0, UINT64_MAX);
  e.max_age = read_nullable(j, r, "max_age");
  return r.result(std::move(e));
}

}  // namespace

json ResourceListResult::encode() const {
  json list = json::array();
  for (const ResourceEntry& e : resources) list.push_back(entry_json(e));
  return {{"resources", std::move(list)}};
}

Result<ResourceListResult> ResourceListResult::decode(const json& j) {
  FieldReader r(j);
  ResourceListResult out;
  if (const json* list = r.array("resources")) {
    for (const json& item : *list) {
      Result<ResourceEntry> e = entry_of(item);
      if (!e) return std::move(e).take_error();
      out.resources.push_back(std::move(*e));
    }
  }
  return r.result(std::move(out));
}

json ResourceAddArgs::encode() const {
  json j = {{"path", path}};
  if (ct) j["ct"] = *ct;
  if (!rt.empty()) j["rt"] = rt;
  if (!if_.empty()) j["if"] = if_;
  if (!title.empty()) j["title"] = title;
  if (sz) j["sz"] = *sz;
  if (obs) j["obs"] = true;
  if (!methods.empty()) j["methods"] = methods;
  if (!value.empty()) j["value_b64"] = base64_encode(value);
  if (delay_ms) j["delay_ms"] = delay_ms;
  if (max_age) j["max_age"] = *max_age;
  return j;
}

Result<ResourceAddArgs> ResourceAddArgs::decode(const json& j) {
  FieldReader r(j);
  ResourceAddArgs a;
  a.path = r.string("path");
  a.ct = read_u32(r, "ct", 65535);
  a.rt = r.string("rt");
  a.if_ = r.string("if");
  a.title = r.string("title");
  a.sz = read_u32(r, "sz");
  a.obs = r.boolean("obs", false);
  a.methods = r.string("methods");
  a.value = r.optional_bytes("value_b64").value_or(std::vector<uint8_t>{});
  a.delay_ms = static_cast<uint32_t>(r.uint("delay_ms", 0, kU32));
  a.max_age = read_u32(r, "max_age");
  if (r.ok() && a.path.empty()) r.fail("field \"path\" is required");
  return r.result(std::move(a));
}

json ResourceSetArgs::encode() const {
  json j = {{"path", path}, {"value_b64", base64_encode(value)}};
  if (ct) j["ct"] = *ct;
  return j;
}

Result<ResourceSetArgs> ResourceSetArgs::decode(const json& j) {
  FieldReader r(j);
  ResourceSetArgs a;
  a.path = r.string("path");
  a.value = r.optional_bytes("value_b64").value_or(std::vector<uint8_t>{});
  a.ct = read_u32(r, "ct", 65535);
  if (r.ok() && a.path.empty()) r.fail("field \"path\" is required");
  return r.result(std::move(a));
}

json ResourceDeleteArgs::encode() const { return {{"path", path}}; }

Result<ResourceDeleteArgs> ResourceDeleteArgs::decode(const json& j) {
  FieldReader r(j);
  ResourceDeleteArgs a;
  a.path = r.string("path");
  if (r.ok() && a.path.empty()) r.fail("field \"path\" is required");
  return r.result(std::move(a));
}

}  // namespace control
