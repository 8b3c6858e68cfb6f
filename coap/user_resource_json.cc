// UserResource: FETCH, PATCH and iPATCH on JSON values (RFC 8132), with
// nlohmann-json's JSON Pointer, JSON Patch (RFC 6902) and JSON Merge Patch
// (RFC 7396). A patch that fails leaves the value as it was.
#include <nlohmann/json.hpp>

#include "coap/user_resource.h"

namespace coap {
namespace {

using nlohmann::json;

constexpr uint32_t kJsonPatch = 51;   // application/json-patch+json
constexpr uint32_t kMergePatch = 52;  // application/merge-patch+json

bool is_json_format(uint32_t ct) { return ct == content_format::kJson; }

json parse(std::span<const uint8_t> bytes) {
  return json::parse(bytes.begin(), bytes.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
}

}  // namespace

void UserResource::handle_fetch(const Request& req, Response& resp) {
  // RFC 8132 2.2: the request's Content-Format says what the body selects.
  const std::optional<uint32_t> ct = req.msg.uint_option(opt::kContentFormat);
  if (!ct || *ct != content_format::kJson)
    return resp.error(codes::kUnsupportedContentFormat,
                      "FETCH takes an application/json array of JSON Pointers");
  if (!is_json_format(spec_.ct))
    return resp.error(codes::kMethodNotAllowed, "FETCH needs a JSON resource");
  const json doc = parse(spec_.value);
  if (doc.is_discarded()) return resp.error(codes::kConflict, "the resource value is not JSON");
  const json query = parse(req.payload);
  if (!query.is_array()) return resp.error(codes::kBadRequest, "FETCH body is not a JSON array");
  json out = json::object();
  for (const json& p : query) {
    if (!p.is_string()) return resp.error(codes::kBadRequest, "a FETCH item is not a string");
    try {
      const json::json_pointer ptr(p.get<std::string>());
      if (doc.contains(ptr)) out[ptr] = doc.at(ptr);
    } catch (const json::exception&) {
      return resp.error(codes::kBadRequest, "'" + p.get<std::string>() + "' is not a JSON Pointer");
    }
  }
  set_etag(resp);
  resp.max_age = spec_.max_age;
  resp.code = codes::kContent;
  resp.content_format = content_format::kJson;
  resp.set_payload(out.dump());
}

void UserResource::handle_patch(const Request& req, Response& resp) {
  const std::optional<uint32_t> ct = req.msg.uint_option(opt::kContentFormat);
  // iPATCH must be idempotent: merge patch is, JSON Patch need not be.
  const bool usable =
      ct && (*ct == kMergePatch || (*ct == kJsonPatch && req.method == codes::kPatch));
  if (!usable)
    return resp.error(codes::kUnsupportedContentFormat,
                      req.method == codes::kPatch
                          ? "PATCH takes application/json-patch+json (51) or "
                            "application/merge-patch+json (52)"
                          : "iPATCH takes application/merge-patch+json (52)");
  if (!is_json_format(spec_.ct))
    return resp.error(codes::kConflict, "the resource is not application/json");
  json doc = parse(spec_.value);
  if (doc.is_discarded()) return resp.error(codes::kConflict, "the resource value is not JSON");
  const json patch = parse(req.payload);
  // RFC 8132 3.4: a malformed patch document is 4.00; one that cannot be
  // applied to this resource is 4.22.
  if (patch.is_discarded()) return resp.error(codes::kBadRequest, "the patch is not JSON");
  if (*ct == kJsonPatch) {
    if (!patch.is_array()) return resp.error(codes::kBadRequest, "a JSON Patch is an array");
    try {
      doc = doc.patch(patch);
    } catch (const json::exception& e) {
      return resp.error(codes::kUnprocessableEntity, std::string("patch failed: ") + e.what());
    }
  } else {
    doc.merge_patch(patch);
  }
  const std::string text = doc.dump();
  if (text.size() > max_size_)
    return resp.error(codes::kRequestEntityTooLarge, "patched value larger than the limit");
  if (!commit(as_bytes(text), spec_.ct, resp)) return;
  resp.code = codes::kChanged;
  set_etag(resp);
  notify_changed();
}

}  // namespace coap
