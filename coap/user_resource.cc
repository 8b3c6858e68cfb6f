#include "coap/user_resource.h"

#include <algorithm>

namespace coap {

std::array<uint8_t, 8> content_etag(uint32_t ct, std::span<const uint8_t> value) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint8_t c) { h = (h ^ c) * 1099511628211ull; };
  for (int i = 0; i < 4; ++i) mix(static_cast<uint8_t>(ct >> (8 * i)));
  for (uint8_t c : value) mix(c);
  std::array<uint8_t, 8> out{};
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(h >> (8 * i));
  return out;
}

std::vector<std::pair<std::string, std::string>> UserResource::attributes_of(
    const ResourceSpec& s) {
  std::vector<std::pair<std::string, std::string>> a;
  a.emplace_back("ct", std::to_string(s.ct));
  if (!s.rt.empty()) a.emplace_back("rt", '"' + s.rt + '"');
  if (!s.if_.empty()) a.emplace_back("if", '"' + s.if_ + '"');
  if (!s.title.empty()) a.emplace_back("title", '"' + s.title + '"');
  if (s.sz) a.emplace_back("sz", std::to_string(*s.sz));
  if (s.observable) a.emplace_back("obs", "");
  return a;
}

UserResource::UserResource(ResourceSpec spec, ResourceSource source, std::size_t max_size)
    : Resource(spec.path, attributes_of(spec), spec.observable),
      spec_(std::move(spec)),
      source_(source),
      max_size_(max_size) {
  etag_ = content_etag(spec_.ct, spec_.value);
}

void UserResource::store(std::span<const uint8_t> value, uint32_t ct) {
  spec_.value.assign(value.begin(), value.end());
  spec_.ct = ct;
  etag_ = content_etag(ct, spec_.value);
}

bool UserResource::commit(std::span<const uint8_t> value, uint32_t ct, Response& resp) {
  if (std::optional<Refusal> r = persist(value)) {
    resp.error(r->code, r->diagnostic);
    return false;
  }
  store(value, ct);
  return true;
}

std::optional<UserResource::Refusal> UserResource::set_value(std::span<const uint8_t> value,
                                                             std::optional<uint32_t> ct,
                                                             bool persist_it) {
  const uint32_t format = format_fixed() ? spec_.ct : ct.value_or(spec_.ct);
  // A file event for what coapd wrote itself (or a touch) brings nothing new.
  if (!persist_it && content_etag(format, value) == etag_ && spec_.value.size() == value.size())
    return std::nullopt;
  if (persist_it)
    if (std::optional<Refusal> r = persist(value)) return r;
  store(value, format);
  notify_changed();
  return std::nullopt;
}

void UserResource::set_etag(Response& resp) const {
  resp.etag = etag_;
  resp.etag_len = static_cast<uint8_t>(etag_.size());
}

bool UserResource::preconditions_hold(const Message& msg) const {
  bool if_match = false, matched = false;
  for (const OptionView& o : msg.options) {
    if (o.number == opt::kIfNoneMatch) return false;  // the resource exists
    if (o.number != opt::kIfMatch) continue;
    if_match = true;
    // An empty If-Match matches any current representation.
    const auto v = o.value();
    if (v.empty() || std::equal(v.begin(), v.end(), etag_.begin(), etag_.end())) matched = true;
  }
  return !if_match || matched;
}

void UserResource::serve_representation(const Request& req, Response& resp) {
  set_etag(resp);
  resp.max_age = spec_.max_age;
  for (const OptionView& o : req.msg.options) {
    const auto v = o.value();
    if (o.number == opt::kETag && std::equal(v.begin(), v.end(), etag_.begin(), etag_.end())) {
      // RFC 7252 5.10.6.2: the client's stored representation is current.
      resp.code = codes::kValid;
      resp.body.clear();
      return;
    }
  }
  resp.code = codes::kContent;
  resp.content_format = spec_.ct;
  resp.set_payload(spec_.value);
}

void UserResource::handle(const Request& req, Response& resp) {
  const Code m = req.method;
  if (m == codes::kGet) return serve_representation(req, resp);
  if (m == codes::kFetch) return handle_fetch(req, resp);
  if (!preconditions_hold(req.msg)) {
    resp.error(codes::kPreconditionFailed, "Precondition Failed");
    return set_etag(resp);
  }
  if (m == codes::kDelete) {
    if (std::optional<Refusal> r = erase()) return resp.error(r->code, r->diagnostic);
    resp.code = codes::kDeleted;
    resp.remove = true;
    return;
  }
  if (m == codes::kPatch || m == codes::kIPatch) return handle_patch(req, resp);
  // PUT and POST replace the value.
  if (req.payload.size() > max_size_)
    return resp.error(codes::kRequestEntityTooLarge, "value larger than the resource limit");
  const std::optional<uint32_t> ct = req.msg.uint_option(opt::kContentFormat);
  if (ct && *ct != spec_.ct && format_fixed())
    return resp.error(codes::kUnsupportedContentFormat,
                      "the file name fixes the content-format at " + std::to_string(spec_.ct));
  if (!commit(req.payload, ct.value_or(spec_.ct), resp)) return;
  resp.code = codes::kChanged;
  set_etag(resp);
  notify_changed();
}

}  // namespace coap
