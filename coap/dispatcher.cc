#include "coap/dispatcher.h"

#include <algorithm>

#include "coap/block.h"

namespace coap {
namespace {

// The Request-Tag list of a request (RFC 9175 3.2), as one comparable
// string: each value prefixed by its length (0..8). No option: "", which
// differs from one empty Request-Tag, "\0".
std::string request_tag(const Message& msg) {
  std::string key;
  msg.for_each(opt::kRequestTag, [&key](const OptionView& o) {
    key += static_cast<char>(o.length);
    key.append(reinterpret_cast<const char*>(o.data), o.length);
  });
  return key;
}

// An option this endpoint cannot honour: unknown, of a length its
// definition does not allow, or repeated when it may not be.
bool option_unusable(const Message& msg, std::size_t i) {
  const OptionView& o = msg.options[i];
  const OptionInfo* info = find_option_info(o.number);
  if (!info) return true;
  if (o.length < info->min_len || o.length > info->max_len) return true;
  return !info->repeatable && i > 0 && msg.options[i - 1].number == o.number;
}

// SZX 7 is BERT over TCP, and reserved over UDP (RFC 7959 2.2, RFC 8323 6).
bool has_bert_block(const Message& msg) {
  for (uint16_t n : {opt::kBlock1, opt::kBlock2})
    if (auto v = msg.uint_option(n); v && (*v & 7) == 7) return true;
  return false;
}

uint64_t fnv1a(std::span<const uint8_t> b) {
  uint64_t h = 1469598103934665603ull;
  for (uint8_t c : b) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

uint16_t Dispatcher::unusable_critical_option(const Message& msg) {
  for (std::size_t i = 0; i < msg.options.size(); ++i) {
    const uint16_t n = msg.options[i].number;
    if (is_critical(n) && option_unusable(msg, i)) return n;
  }
  return 0;
}

bool Dispatcher::suppressed(const Message& msg, Code response) {
  const std::optional<uint32_t> nr = msg.uint_option(opt::kNoResponse);
  if (!nr || *nr == 0) return false;
  const unsigned cls = response.cls();
  const uint32_t bit = cls == 2 ? 2 : cls == 4 ? 8 : cls == 5 ? 16 : 0;
  return (*nr & bit) != 0;
}

Dispatcher::Dispatcher(ResourceDirectory& dir, const Options& options)
    : dir_(dir), options_(options) {
  empty_request_.code = codes::kGet;
}

void Dispatcher::error(DispatchOutput* out, Code code, std::string_view diagnostic) {
  out->code = code;
  body_.assign(diagnostic.begin(), diagnostic.end());
  out->payload = body_;
  out->observe = DispatchOutput::Observe::kNone;
}

bool Dispatcher::reject_unusable(const Message& msg, Proto proto, DispatchOutput* out) {
  if (msg.find(opt::kProxyUri) || msg.find(opt::kProxyScheme)) {
    error(out, codes::kProxyingNotSupported, "coapd is not a proxy");
  } else if (const uint16_t n = unusable_critical_option(msg)) {
    error(out, codes::kBadOption, "unrecognized or malformed critical option " + std::to_string(n));
  } else if (proto == Proto::kUdp && has_bert_block(msg)) {
    error(out, codes::kBadRequest, "block size exponent 7 (BERT) is not valid over UDP");
  } else {
    return false;
  }
  return true;
}

bool Dispatcher::serve_kept_block2(const Message& msg, Resource& r, SessionId session,
                                   const DispatchLimits& limits, TimePoint now,
                                   DispatchOutput* out) {
  const bool safe_method = msg.code == codes::kGet || msg.code == codes::kFetch;
  if (safe_method || msg.find(opt::kBlock1) || !msg.payload.empty()) return false;
  auto b2 = BlockOption::decode(msg.uint_option(opt::kBlock2).value_or(0));
  if (!b2 || b2->num == 0) return false;
  // A later block of a response that is no longer kept (expired, evicted,
  // never made): running the handler again would repeat a non-idempotent
  // action, so the client has to start over.
  auto cached = block2_.find({session, &r});
  if (cached == block2_.end() || cached->second.expires <= now) {
    error(out, codes::kRequestEntityIncomplete,
          "no response kept for this Block2 request: send the request again");
    return true;
  }
  Response resp(body_);
  resp.code = cached->second.code;
  resp.content_format = cached->second.content_format;
  resp.set_payload(cached->second.body);
  finish(msg, resp, limits, out);
  return true;
}

void Dispatcher::keep_block2(const Response& resp, const Resource& r, SessionId session,
                             TimePoint now) {
  if (!block2_.count({session, &r}) && block2_.size() >= options_.max_block1_transfers) {
    auto oldest = std::min_element(block2_.begin(), block2_.end(), [](auto& a, auto& b) {
      return a.second.expires < b.second.expires;
    });
    block2_.erase(oldest);
  }
  block2_[{session, &r}] =
      Block2State{resp.code, resp.content_format, resp.body, now + options_.block1_lifetime};
}

void Dispatcher::dispatch(const Message& msg, const Address& peer, Proto proto, SessionId session,
                          const DispatchLimits& limits, TimePoint now, DispatchOutput* out) {
  out->options.clear();
  out->resource = nullptr;
  out->observe = DispatchOutput::Observe::kNone;
  out->payload = {};
  out->request_body = msg.payload.size();
  out->remove_resource = false;
  out->created.reset();
  if (reject_unusable(msg, proto, out)) return;

  Resource* r = dir_.find(msg);
  if (!r) r = dir_.fallback();
  if (!r) return error(out, codes::kNotFound, "Not Found");
  out->resource = r;
  if (!r->allows(msg.code)) return error(out, codes::kMethodNotAllowed, "Method Not Allowed");
  if (!r->evaluates_preconditions()) {
    // RFC 7252 5.4.1: a critical option that is not honoured is refused.
    for (uint16_t n : {opt::kIfMatch, opt::kIfNoneMatch})
      if (msg.find(n))
        return error(out, codes::kBadOption,
                     "unrecognized or malformed critical option " + std::to_string(n));
  }
  if (serve_kept_block2(msg, *r, session, limits, now, out)) return;

  std::span<const uint8_t> body = msg.payload;
  const bool block1 =
      msg.find(opt::kBlock1) && (msg.code == codes::kPut || msg.code == codes::kPost);
  if (block1 && !collect_block1(msg, *r, session, now, &body, out)) return;

  // The handler writes into body_, so a reassembled request body must not
  // live there: it lives in block1_ until after the handler runs.
  Response resp(body_);
  Request req{msg.code, msg, body, peer, proto, session};
  r->handle(req, resp);
  out->request_body = body.size();
  out->remove_resource = resp.remove;
  out->created = std::move(resp.created);
  if (block1) {
    if (auto b = BlockOption::decode(msg.uint_option(opt::kBlock1).value_or(0));
        b && resp.code.is_success())
      out->options.add_uint(opt::kBlock1, b->encode());
    block1_.erase({session, r, request_tag(msg)});
  }
  // RFC 8132 2.4: a FETCH is observed like a GET, its body part of the query.
  if (resp.code.is_success() && (msg.code == codes::kGet || msg.code == codes::kFetch) &&
      r->observable()) {
    const std::optional<uint32_t> obs = msg.uint_option(opt::kObserve);
    if (obs == 0u) out->observe = DispatchOutput::Observe::kRegister;
    if (obs == 1u) out->observe = DispatchOutput::Observe::kDeregister;
  }
  const bool safe_method = msg.code == codes::kGet || msg.code == codes::kFetch;
  if (!safe_method && resp.body.size() > limits.max_payload) keep_block2(resp, *r, session, now);
  if (auto accept = msg.uint_option(opt::kAccept);
      accept && resp.content_format && *accept != *resp.content_format) {
    out->observe = DispatchOutput::Observe::kNone;
    return error(out, codes::kNotAcceptable, "Not Acceptable");
  }
  finish(msg, resp, limits, out);
}

bool Dispatcher::collect_block1(const Message& msg, Resource& r, SessionId session, TimePoint now,
                                std::span<const uint8_t>* body, DispatchOutput* out) {
  const auto b1 = BlockOption::decode(msg.uint_option(opt::kBlock1).value_or(0xffffffff));
  if (!b1) {
    error(out, codes::kBadOption, "malformed Block1 option");
    return false;
  }
  if (auto size1 = msg.uint_option(opt::kSize1); size1 && *size1 > options_.max_body_size) {
    error(out, codes::kRequestEntityTooLarge, "request body too large");
    out->options.add_uint(opt::kSize1, static_cast<uint32_t>(options_.max_body_size));
    return false;
  }
  const Block1Key key{session, &r, request_tag(msg)};
  auto it = block1_.find(key);
  if (b1->num == 0) {
    if (it == block1_.end()) {
      if (block1_.size() >= options_.max_block1_transfers) {
        // Too many unfinished transfers: drop the one closest to expiry.
        auto oldest = std::min_element(block1_.begin(), block1_.end(), [](auto& a, auto& b) {
          return a.second.expires < b.second.expires;
        });
        block1_.erase(oldest);
      }
      it = block1_.emplace(key, Block1State{}).first;
    }
    it->second.body.clear();
  } else if (it == block1_.end() || it->second.body.size() != b1->offset()) {
    error(out, codes::kRequestEntityIncomplete, "Block1 out of sequence");
    return false;
  }
  const std::size_t unit = b1->unit();
  if (b1->more && (msg.payload.empty() || msg.payload.size() % unit != 0 ||
                   (!b1->bert() && msg.payload.size() != unit))) {
    block1_.erase(it);
    error(out, codes::kBadRequest, "Block1 payload does not match its block size");
    return false;
  }
  if (it->second.body.size() + msg.payload.size() > options_.max_body_size) {
    block1_.erase(it);
    error(out, codes::kRequestEntityTooLarge, "request body too large");
    out->options.add_uint(opt::kSize1, static_cast<uint32_t>(options_.max_body_size));
    return false;
  }
  it->second.body.insert(it->second.body.end(), msg.payload.begin(), msg.payload.end());
  it->second.expires = now + options_.block1_lifetime;
  if (b1->more) {
    out->code = codes::kContinue;
    out->options.add_uint(opt::kBlock1, b1->encode());
    out->payload = {};
    return false;
  }
  *body = it->second.body;
  return true;
}

void Dispatcher::finish(const Message& msg, Response& resp, const DispatchLimits& limits,
                        DispatchOutput* out) {
  out->code = resp.code;
  if (resp.content_format) out->options.add_uint(opt::kContentFormat, *resp.content_format);
  if (resp.max_age) out->options.add_uint(opt::kMaxAge, *resp.max_age);
  if (!resp.location.empty()) {
    location_ = std::move(resp.location);
    out->options.add_path(opt::kLocationPath, location_);
  }
  if (resp.etag) {
    etag_ = *resp.etag;
    out->options.add(opt::kETag, std::span<const uint8_t>(etag_.data(), resp.etag_len));
  }
  std::span<const uint8_t> body = resp.body;
  std::optional<BlockOption> want;
  if (auto v = msg.uint_option(opt::kBlock2)) {
    want = BlockOption::decode(*v);
    if (!want) return error(out, codes::kBadOption, "malformed Block2 option");
  }
  if (!want && body.size() <= limits.max_payload) {
    out->payload = body;
    return;
  }
  if (!want && !limits.blockwise) {
    out->options.remove(opt::kContentFormat);
    out->options.remove(opt::kMaxAge);
    out->options.remove(opt::kETag);
    return error(out, codes::kInternalServerError,
                 "response larger than the peer's Max-Message-Size and block-wise not offered");
  }
  // Choose the block size: what the peer asked for, never more than fits.
  uint8_t szx = want ? want->szx : szx_for(limits.max_payload);
  if (szx == 7 && !limits.bert) szx = 6;
  std::size_t chunk;
  if (szx == 7) {
    chunk = std::max<std::size_t>(1024, limits.max_payload / 1024 * 1024);
  } else {
    while (szx > 0 && (std::size_t{1} << (szx + 4)) > limits.max_payload) --szx;
    chunk = std::size_t{1} << (szx + 4);
  }
  const std::size_t unit = szx == 7 ? 1024 : chunk;
  const std::size_t offset = want ? want->offset() : 0;
  if (offset > body.size() || (offset == body.size() && offset != 0))
    return error(out, codes::kBadOption, "Block2 beyond the end of the representation");
  const std::size_t len = std::min(chunk, body.size() - offset);
  BlockOption b2{static_cast<uint32_t>(offset / unit), offset + len < body.size(), szx};
  out->options.add_uint(opt::kBlock2, b2.encode());
  if (offset == 0) out->options.add_uint(opt::kSize2, static_cast<uint32_t>(body.size()));
  if (!resp.etag) {
    // Lets the client notice a representation that changed between blocks.
    const uint64_t h = fnv1a(body);
    for (int i = 0; i < 4; ++i) etag_[i] = static_cast<uint8_t>(h >> (8 * i));
    out->options.add(opt::kETag, std::span<const uint8_t>(etag_.data(), 4));
  }
  out->payload = body.subspan(offset, len);
}

void Dispatcher::render_notification(Resource& r, const Address& peer, Proto proto,
                                     SessionId session, const DispatchLimits& limits,
                                     DispatchOutput* out, const FetchQuery* fetch) {
  out->options.clear();
  out->resource = &r;
  out->observe = DispatchOutput::Observe::kNone;
  Response resp(body_);
  const Message* msg = &empty_request_;
  if (fetch) {
    fetch_request_.code = codes::kFetch;
    fetch_request_.options.clear();
    fetch_request_.payload = fetch->body;
    if (fetch->content_format) {
      // Minimal big-endian uint, as on the wire.
      uint8_t len = 0;
      for (uint32_t v = *fetch->content_format; v; v >>= 8) ++len;
      for (uint8_t i = 0; i < len; ++i)
        fetch_format_[i] = static_cast<uint8_t>(*fetch->content_format >> (8 * (len - 1 - i)));
      fetch_request_.options.push_back(OptionView{opt::kContentFormat, len, fetch_format_.data()});
    }
    msg = &fetch_request_;
  }
  Request req{msg->code, *msg, msg->payload, peer, proto, session};
  r.handle(req, resp);
  finish(*msg, resp, limits, out);
}

void Dispatcher::forget_resource(const Resource* r) {
  for (auto it = block1_.begin(); it != block1_.end();)
    it = std::get<1>(it->first) == r ? block1_.erase(it) : std::next(it);
  for (auto it = block2_.begin(); it != block2_.end();)
    it = it->first.second == r ? block2_.erase(it) : std::next(it);
}

void Dispatcher::forget_session(SessionId session) {
  for (auto it = block1_.begin(); it != block1_.end();)
    it = std::get<0>(it->first) == session ? block1_.erase(it) : std::next(it);
  for (auto it = block2_.begin(); it != block2_.end();)
    it = it->first.first == session ? block2_.erase(it) : std::next(it);
}

namespace {

template <typename Map>
TimePoint expire_map(Map& m, TimePoint now) {
  TimePoint next = kNever;
  for (auto it = m.begin(); it != m.end();) {
    if (it->second.expires <= now) {
      it = m.erase(it);
    } else {
      next = std::min(next, it->second.expires);
      ++it;
    }
  }
  return next;
}

}  // namespace

TimePoint Dispatcher::expire(TimePoint now) {
  return std::min(expire_map(block1_, now), expire_map(block2_, now));
}

}  // namespace coap
