// Server-side request processing shared by CoAP over UDP and over TCP:
// option checks (4.02, 5.05), resource lookup (4.04, 4.05), Block1
// reassembly and Block2 slicing (RFC 7959, BERT per RFC 8323), content
// negotiation (4.06) and the Observe registration decision (RFC 7641).
// The endpoint turns the result into a message for its transport.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

#include "coap/message.h"
#include "coap/resource.h"
#include "coap/time.h"

namespace coap {

struct DispatchLimits {
  std::size_t max_payload = 1024;  // largest payload one message to this peer may carry
  bool blockwise = true;           // the peer may be answered in blocks
  bool bert = false;               // the peer accepts BERT blocks (SZX 7)
};

struct DispatchOutput {
  enum class Observe : uint8_t { kNone, kRegister, kDeregister };

  Code code;
  OptionList options;                // without Observe: the endpoint adds its sequence number
  std::span<const uint8_t> payload;  // valid until the next dispatch
  Resource* resource = nullptr;
  Observe observe = Observe::kNone;
  // Bytes of the request body this answers: all its Block1 blocks together.
  std::size_t request_body = 0;
  // A DELETE removed `resource`: the endpoint takes it out once answered.
  bool remove_resource = false;
  // The request made this resource (Response::created): the endpoint adds it.
  std::unique_ptr<Resource> created;
};

// The request a FETCH observation repeats for each notification.
struct FetchQuery {
  std::span<const uint8_t> body;
  std::optional<uint32_t> content_format;
};

class Dispatcher {
 public:
  struct Options {
    std::size_t max_body_size = 1 << 20;  // largest request body accepted in blocks
    std::size_t max_block1_transfers = 64;
    Duration block1_lifetime = seconds(247);
  };

  Dispatcher(ResourceDirectory& dir, const Options& options);

  // The number of the first critical option the endpoint cannot honour
  // (unknown, malformed, or repeated when it may not be), or 0.
  static uint16_t unusable_critical_option(const Message& msg);

  // Whether the request's No-Response option (RFC 7967) says that a response
  // with this code is not wanted: bit 2 suppresses 2.xx, 8 4.xx, 16 5.xx.
  static bool suppressed(const Message& msg, Code response);

  // Processes one request (msg.code is a method). Fills *out.
  void dispatch(const Message& msg, const Address& peer, Proto proto, SessionId session,
                const DispatchLimits& limits, TimePoint now, DispatchOutput* out);

  // Produces the current representation of r as a notification would carry
  // it (GET, or the FETCH of an observation made with FETCH; first block
  // only when it is larger than one message).
  void render_notification(Resource& r, const Address& peer, Proto proto, SessionId session,
                           const DispatchLimits& limits, DispatchOutput* out,
                           const FetchQuery* fetch = nullptr);

  // Drops the transfers of a resource about to be removed.
  void forget_resource(const Resource* r);
  // Drops Block1 transfers of a session that ended.
  void forget_session(SessionId session);
  // Drops stale Block1 transfers; returns the next expiry.
  TimePoint expire(TimePoint now);

  std::size_t block1_transfers() const { return block1_.size(); }
  std::size_t block2_responses() const { return block2_.size(); }

 private:
  struct Block1State {
    std::vector<uint8_t> body;
    TimePoint expires;
  };
  // The response to a PUT/POST that did not fit one message: its later
  // blocks are fetched by repeating the request with Block2 and no body
  // (RFC 7959 2.7), which must not run the handler again.
  struct Block2State {
    Code code;
    std::optional<uint32_t> content_format;
    std::vector<uint8_t> body;
    TimePoint expires;
  };
  // A Block1 transfer is one session's upload to one resource under one
  // Request-Tag list (RFC 9175 3.3: uploads with different tags are
  // different operations and may run at once). The list is kept as its
  // values, each prefixed by its length; absent is "".
  using Block1Key = std::tuple<SessionId, const Resource*, std::string>;
  using Block2Key = std::pair<SessionId, const Resource*>;

  // Each returns true when it produced the final answer in *out.
  // Proxy options, unusable critical options, BERT over UDP.
  bool reject_unusable(const Message& msg, Proto proto, DispatchOutput* out);
  // A later Block2 block of a PUT/POST response kept from its first block.
  bool serve_kept_block2(const Message& msg, Resource& r, SessionId session,
                         const DispatchLimits& limits, TimePoint now, DispatchOutput* out);
  void keep_block2(const Response& resp, const Resource& r, SessionId session, TimePoint now);
  // Returns false when it already produced the final answer (an error or 2.31).
  bool collect_block1(const Message& msg, Resource& r, SessionId session, TimePoint now,
                      std::span<const uint8_t>* body, DispatchOutput* out);
  void finish(const Message& msg, Response& resp, const DispatchLimits& limits,
              DispatchOutput* out);
  void error(DispatchOutput* out, Code code, std::string_view diagnostic);

  ResourceDirectory& dir_;
  Options options_;
  std::vector<uint8_t> body_;  // response body, reused
  std::array<uint8_t, 8> etag_{};
  std::string location_;  // Location-Path of the last response
  std::map<Block1Key, Block1State> block1_;
  std::map<Block2Key, Block2State> block2_;
  Message empty_request_;
  Message fetch_request_;                  // render_notification's FETCH
  std::array<uint8_t, 4> fetch_format_{};  // its Content-Format value
};

}  // namespace coap
