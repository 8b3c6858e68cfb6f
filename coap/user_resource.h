// A resource the user defined (config entry, coapd's resource directory,
// coapctl resource add): a stored value with its content-format, served with
// an ETag made from the content, Max-Age, the preconditions of RFC 7252
// 5.10.8 (If-Match, If-None-Match; 2.03 Valid for a GET naming the current
// ETag), the methods the user allowed, and a separate response when it has
// a delay. JSON values also take FETCH, PATCH and iPATCH (RFC 8132).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "coap/resource.h"
#include "coap/resource_spec.h"

namespace coap {

class UserResource : public Resource {
 public:
  // Why a value or DELETE was refused: the response code and diagnostic.
  struct Refusal {
    Code code;
    std::string diagnostic;
  };

  // max_size: the largest value a PUT, POST or patch may leave (4.13 beyond).
  UserResource(ResourceSpec spec, ResourceSource source, std::size_t max_size);

  bool allows(Code method) const override { return (spec_.methods & method_bit(method)) != 0; }
  void handle(const Request& req, Response& resp) override;
  Duration response_delay() const override { return milliseconds(spec_.delay_ms); }
  bool evaluates_preconditions() const override { return true; }
  ResourceSource source() const override { return source_; }
  bool answers_multicast() const override { return spec_.multicast; }

  // A new value from outside (coapctl resource set, a file changed on
  // disk): observers are notified. ct nullopt keeps the content-format.
  // `persist`: goes through persist() first (coapctl resource set writes a
  // --resource-dir file; a change read from disk does not write it back).
  // Read from disk, a value equal to the current one notifies nobody.
  std::optional<Refusal> set_value(std::span<const uint8_t> value, std::optional<uint32_t> ct,
                                   bool persist = true);

  const ResourceSpec& spec() const { return spec_; }
  std::span<const uint8_t> value() const { return spec_.value; }
  std::span<const uint8_t> etag() const { return {etag_.data(), etag_.size()}; }
  std::size_t max_size() const { return max_size_; }

  // Link-format attributes for a spec ({"ct","0"}, {"rt","\"x\""}, ...).
  static std::vector<std::pair<std::string, std::string>> attributes_of(const ResourceSpec& s);

 protected:
  // Where a value a client sends goes before it is served, and what a
  // DELETE removes (a file of --resource-dir): an error is answered with
  // its code and nothing changes. Memory only by default.
  virtual std::optional<Refusal> persist(std::span<const uint8_t>) { return std::nullopt; }
  virtual std::optional<Refusal> erase() { return std::nullopt; }
  // Whether a PUT or POST may change the content-format (not for a file,
  // whose name says it).
  virtual bool format_fixed() const { return false; }

 private:
  // persist() then store(); false (resp holds the error) when persist failed.
  bool commit(std::span<const uint8_t> value, uint32_t ct, Response& resp);
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
