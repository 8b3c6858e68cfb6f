// A resource the user defined (config entry, coapd's resource directory,
// coapctl resource add): a stored value with its content-format, served with
// an ETag made from the content, Max-Age, the preconditions of RFC 7252
// 5.10.8 (If-Match, If-None-Match; 2.03 Valid for a GET naming the current
// ETag), the methods the user allowed, and a separate response when it has
// a delay. JSON values also take FETCH, PATCH and iPATCH (RFC 8132).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "coap/resource.h"
#include "coap/resource_spec.h"

namespace coap {

class UserResource final : public Resource {
 public:
  // max_size: the largest value a PUT, POST or patch may leave (4.13 beyond).
  UserResource(ResourceSpec spec, ResourceSource source, std::size_t max_size);

  bool allows(Code method) const override { return (spec_.methods & method_bit(method)) != 0; }
  void handle(const Request& req, Response& resp) override;
  Duration response_delay() const override { return milliseconds(spec_.delay_ms); }
  bool evaluates_preconditions() const override { return true; }
  ResourceSource source() const override { return source_; }

  // A new value from outside (coapctl resource set, a file changed on
  // disk): observers are notified. ct nullopt keeps the content-format.
  void set_value(std::span<const uint8_t> value, std::optional<uint32_t> ct);

  const ResourceSpec& spec() const { return spec_; }
  std::span<const uint8_t> value() const { return spec_.value; }
  std::span<const uint8_t> etag() const { return {etag_.data(), etag_.size()}; }
  std::size_t max_size() const { return max_size_; }

  // Link-format attributes for a spec ({"ct","0"}, {"rt","\"x\""}, ...).
  static std::vector<std::pair<std::string, std::string>> attributes_of(const ResourceSpec& s);

 private:
  void serve_representation(const Request& req, Response& resp);
  // Whether the request's If-Match / If-None-Match hold for this resource
  // (it exists, with the current ETag).
  bool preconditions_hold(const Message& msg) const;
  void store(std::span<const uint8_t> value, uint32_t ct);
  void set_etag(Response& resp) const;
  // JSON methods (user_resource_json.cc).
  void handle_fetch(const Request& req, Response& resp);
  void handle_patch(const Request& req, Response& resp);

  ResourceSpec spec_;
  ResourceSource source_;
  std::size_t max_size_;
  std::array<uint8_t, 8> etag_{};
};

// The ETag of a representation: a hash of its content-format and bytes.
std::array<uint8_t, 8> content_etag(uint32_t ct, std::span<const uint8_t> value);

}  // namespace coap
