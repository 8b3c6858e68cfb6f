#include "coap/tcp_framing.h"

#include <algorithm>

namespace coap {
namespace {

// Extended-length field size for a body of n bytes, and the Len nibble.
std::size_t ext_len_size(std::size_t n) { return n < 13 ? 0 : n < 269 ? 1 : n < 65805 ? 2 : 4; }

}  // namespace

std::size_t tcp_frame_size(std::size_t token_len, std::size_t body) {
  return 1 + ext_len_size(body) + 1 + token_len + body;
}

void write_tcp(std::vector<uint8_t>& out, Code code, const Token& token, const OptionList& options,
               std::span<const uint8_t> payload) {
  const std::size_t body = options_and_payload_size(options, payload.size());
  const uint8_t tkl = token.len;
  if (body < 13) {
    out.push_back(static_cast<uint8_t>((body << 4) | tkl));
  } else if (body < 269) {
    out.push_back(static_cast<uint8_t>((13 << 4) | tkl));
    out.push_back(static_cast<uint8_t>(body - 13));
  } else if (body < 65805) {
    const std::size_t v = body - 269;
    out.push_back(static_cast<uint8_t>((14 << 4) | tkl));
    out.push_back(static_cast<uint8_t>(v >> 8));
    out.push_back(static_cast<uint8_t>(v));
  } else {
    const std::size_t v = body - 65805;
    out.push_back(static_cast<uint8_t>((15 << 4) | tkl));
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
  }
  out.push_back(code.raw);
  out.insert(out.end(), token.bytes.begin(), token.bytes.begin() + tkl);
  write_options_and_payload(out, options, payload);
}

namespace {

// What the first bytes of a frame say about it. `need` is the number of bytes
// required to know the frame's size; total is valid once size >= need.
struct FrameHeader {
  std::size_t need;
  uint64_t total;
  std::size_t hdr_len;  // Len/TKL byte plus extended length
  uint8_t tkl;
};

FrameHeader peek_header(std::span<const uint8_t> d) {
  const uint8_t len_nibble = d[0] >> 4;
  const uint8_t tkl = d[0] & 0x0f;
  const std::size_t ext = len_nibble < 13 ? 0 : len_nibble == 13 ? 1 : len_nibble == 14 ? 2 : 4;
  FrameHeader h{1 + ext, 0, 1 + ext, tkl};
  if (d.size() < h.need) return h;
  uint64_t body = len_nibble;
  if (ext) {
    uint64_t v = 0;
    for (std::size_t i = 0; i < ext; ++i) v = (v << 8) | d[1 + i];
    body = v + (ext == 1 ? 13 : ext == 2 ? 269 : 65805);
  }
  h.total = 1 + ext + 1 + tkl + body;
  return h;
}

}  // namespace

FrameError FrameDecoder::check(std::span<const uint8_t> d, std::size_t& total,
                               uint64_t* frame_size_out) const {
  total = 0;
  if (d.empty()) return FrameError::kNone;
  if ((d[0] & 0x0f) > 8) return FrameError::kBadTokenLength;
  const FrameHeader h = peek_header(d);
  if (d.size() < h.need) return FrameError::kNone;
  if (h.total > max_frame_size_) {
    if (frame_size_out) *frame_size_out = h.total;
    return FrameError::kTooLarge;
  }
  total = static_cast<std::size_t>(h.total);
  return FrameError::kNone;
}

FrameError FrameDecoder::deliver(std::span<const uint8_t> frame, const FrameHandler& on_frame,
                                 bool& stop) {
  const FrameHeader h = peek_header(frame);
  msg_.type = Type::kCon;  // meaningless over TCP, which is reliable by itself
  msg_.mid = 0;
  msg_.code = Code(frame[h.hdr_len]);
  msg_.token = Token::from(frame.subspan(h.hdr_len + 1, h.tkl));
  if (parse_options_and_payload(frame.subspan(h.hdr_len + 1 + h.tkl), msg_) != ParseError::kNone)
    return FrameError::kBadMessage;
  stop = !on_frame(msg_, frame.size());
  return FrameError::kNone;
}

FrameError FrameDecoder::feed(std::span<const uint8_t> bytes, const FrameHandler& on_frame,
                              uint64_t* frame_size_out) {
  bool stop = false;
  std::size_t total = 0;
  // Finish a buffered partial frame first, copying only the bytes it still
  // needs, so that the frames behind it are decoded in place.
  while (!buf_.empty() && !bytes.empty()) {
    if (FrameError e = check(buf_, total, frame_size_out); e != FrameError::kNone) return e;
    const std::size_t want = total ? total - buf_.size() : peek_header(buf_).need - buf_.size();
    const std::size_t take = std::min(want, bytes.size());
    buf_.insert(buf_.end(), bytes.begin(), bytes.begin() + take);
    bytes = bytes.subspan(take);
    if (FrameError e = check(buf_, total, frame_size_out); e != FrameError::kNone) return e;
    if (total && buf_.size() == total) {
      // Moved out first: after the handler returns, nothing of this object
      // is touched if it asked to stop.
      std::vector<uint8_t> frame;
      frame.swap(buf_);
      FrameError e = deliver(frame, on_frame, stop);
      if (e != FrameError::kNone || stop) return e;
      frame.clear();
      buf_.swap(frame);  // keep the capacity
    }
  }
  while (!bytes.empty()) {
    if (FrameError e = check(bytes, total, frame_size_out); e != FrameError::kNone) return e;
    if (total == 0 || bytes.size() < total) {
      buf_.assign(bytes.begin(), bytes.end());
      break;
    }
    if (FrameError e = deliver(bytes.first(total), on_frame, stop); e != FrameError::kNone || stop)
      return e;
    bytes = bytes.subspan(total);
  }
  return FrameError::kNone;
}

}  // namespace coap
