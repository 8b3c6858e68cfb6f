// Server resources: what a request handler sees and produces, and the
// directory that maps Uri-Path to a resource.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "coap/address.h"
#include "coap/code.h"
#include "coap/message.h"
#include "coap/resource_spec.h"
#include "coap/time.h"

namespace coap {

using SessionId = uint64_t;

namespace content_format {
inline constexpr uint32_t kTextPlain = 0;
inline constexpr uint32_t kLinkFormat = 40;
inline constexpr uint32_t kOctetStream = 42;
inline constexpr uint32_t kJson = 50;
}  // namespace content_format

enum class Proto : uint8_t { kUdp, kTcp };
const char* proto_name(Proto p);

struct Request {
  Code method;
  const Message& msg;                // options as received (Block1 already removed from the body)
  std::span<const uint8_t> payload;  // whole body (reassembled when sent in blocks)
  Address peer;
  Proto proto;
  SessionId session;
};

class Resource;

struct Response {
  explicit Response(std::vector<uint8_t>& body_buffer) : body(body_buffer) { body.clear(); }
  Code code = codes::kContent;
  std::optional<uint32_t> content_format;
  std::optional<uint32_t> max_age;
  std::optional<std::array<uint8_t, 8>> etag;
  uint8_t etag_len = 0;
  std::vector<uint8_t>& body;  // reused buffer owned by the endpoint
  // A DELETE that succeeded: the endpoint removes the resource once the
  // response is out (its observers get 4.04, RFC 7641 3.2).
  bool remove = false;
  // A request that made a new resource (a file of --resource-dir): the
  // endpoint adds it once answered; location ("/a/b") goes out as
  // Location-Path.
  std::unique_ptr<Resource> created;
  std::string location;

  void set_payload(std::string_view s) { body.assign(s.begin(), s.end()); }
  void set_payload(std::span<const uint8_t> b) { body.assign(b.begin(), b.end()); }
  void error(Code c, std::string_view diagnostic) {
    code = c;
    content_format.reset();
    set_payload(diagnostic);
  }
};

class Resource {
 public:
  // path: "/a/b"; attributes: link-format attributes as written after the
  // target, e.g. {{"rt", "\"core.time\""}, {"ct", "0"}, {"obs", ""}}.
  Resource(std::string path, std::vector<std::pair<std::string, std::string>> attributes,
           bool observable = false);
  virtual ~Resource() = default;

  const std::string& path() const { return path_; }
  const std::vector<std::string>& segments() const { return segments_; }
  const std::vector<std::pair<std::string, std::string>>& attributes() const { return attributes_; }
  bool observable() const { return observable_; }

  // Whether the method is implemented; others get 4.05.
  virtual bool allows(Code method) const = 0;
  virtual void handle(const Request& req, Response& resp) = 0;
  // For observable resources whose state changes with time (/time): how
  // often observers are notified. Zero: only when the resource says so.
  virtual Duration notify_interval() const { return Duration::zero(); }

  // Separate response (RFC 7252 5.2.2): the answer goes out this long after
  // the request (a CON is acknowledged at once). Zero: piggybacked.
  virtual Duration response_delay() const { return Duration::zero(); }
  // Whether handle() evaluates If-Match and If-None-Match (RFC 7252
  // 5.10.8); for resources that do not, the dispatcher refuses them with
  // 4.02 (a critical option that is not honoured must not be ignored).
  virtual bool evaluates_preconditions() const { return false; }
  // Whether a GET sent to a multicast group is answered (RFC 7252 8.2;
  // /.well-known/core always is).
  virtual bool answers_multicast() const { return false; }
  // Built-in resources cannot be deleted or replaced.
  virtual ResourceSource source() const { return ResourceSource::kBuiltin; }

  // The endpoint listens here to send notifications to observers.
  void set_change_listener(std::function<void(Resource&)> f) { on_change_ = std::move(f); }

 protected:
  void notify_changed() {
    if (on_change_) on_change_(*this);
  }

 private:
  std::function<void(Resource&)> on_change_;
  std::string path_;
  std::vector<std::string> segments_;
  std::vector<std::pair<std::string, std::string>> attributes_;
  bool observable_;
};

// Lookup is by a hash of the path (tens of thousands of runtime resources
// stay cheap to find); all() keeps the order they were added in.
class ResourceDirectory {
 public:
  ResourceDirectory();
  ~ResourceDirectory();
  // REQUIRES: no resource with r's path is in the directory.
  void add(std::unique_ptr<Resource> r);
  // Takes r out of the directory; nullptr if it is not in it.
  std::unique_ptr<Resource> remove(const Resource* r);
  // Matches the Uri-Path options of msg exactly; nullptr if none.
  Resource* find(const Message& msg) const;
  Resource* find(std::string_view path) const;
  const std::vector<std::unique_ptr<Resource>>& all() const { return resources_; }
  // Resources that are not built in.
  std::size_t user_count() const { return user_count_; }

  // What serves a request no resource matches (--resource-dir: creating
  // files, refusing paths that leave the directory); nullptr: 4.04.
  void set_fallback(std::unique_ptr<Resource> r);
  Resource* fallback() const { return fallback_.get(); }

 private:
  std::vector<std::unique_ptr<Resource>> resources_;
  std::unordered_map<std::string, Resource*> by_path_;
  std::size_t user_count_ = 0;
  std::unique_ptr<Resource> fallback_;
  mutable std::string key_;  // find(msg)'s path, reused
};

// RFC 6690 link format of the directory, filtered by at most one query item
// "name=value" where value may end in '*' (prefix match). href matches the
// path, other names match any space-separated word of the attribute value.
std::string link_format(const ResourceDirectory& dir, std::string_view query_filter);

}  // namespace coap
