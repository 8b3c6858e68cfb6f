// CoAP over TCP message framing (RFC 8323 section 3.2):
//
//   Len(4) TKL(4) | Extended Length (0, 1, 2 or 4 bytes) | Code | Token | Options | 0xFF Payload
//
// Len counts the bytes of options and payload; 13, 14 and 15 announce an
// extended length of 1, 2 or 4 bytes, offset by 13, 269 and 65805.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "coap/message.h"

namespace coap {

// Appends one framed message.
void write_tcp(std::vector<uint8_t>& out, Code code, const Token& token, const OptionList& options,
               std::span<const uint8_t> payload);
// Size write_tcp would append.
std::size_t tcp_frame_size(std::size_t token_len, std::size_t options_and_payload_len);

enum class FrameError : uint8_t {
  kNone,
  kTooLarge,        // the header announces more than the configured maximum
  kBadTokenLength,  // TKL 9..15
  kBadMessage,      // options or payload do not parse
};

// Reassembles frames from a byte stream fed in pieces of any size. It never
// buffers more than one partial frame, and refuses a frame whose announced
// size exceeds max_frame_size as soon as the header is complete, without
// reserving memory for it.
class FrameDecoder {
 public:
  explicit FrameDecoder(std::size_t max_frame_size) : max_frame_size_(max_frame_size) {}

  // Called once per complete frame; the message views bytes that stay valid
  // only during the call. Return false to stop decoding (the rest of the input
  // is then discarded by the caller's choice, e.g. on close).
  using FrameHandler = std::function<bool(const Message& msg, std::size_t frame_size)>;

  // Feeds bytes. Returns kNone, or the first error; after an error the decoder
  // is unusable (the connection must be aborted). *frame_size_out, when given,
  // receives the announced size on kTooLarge.
  FrameError feed(std::span<const uint8_t> bytes, const FrameHandler& on_frame,
                  uint64_t* frame_size_out = nullptr);

  // Bytes held of an incomplete frame.
  std::size_t buffered() const { return buf_.size(); }
  void set_max_frame_size(std::size_t n) { max_frame_size_ = n; }

 private:
  // Validates the header at the front of d; total is the frame size, or 0
  // while the header is incomplete.
  FrameError check(std::span<const uint8_t> d, std::size_t& total, uint64_t* frame_size_out) const;
  // Parses one complete frame and hands it to on_frame.
  FrameError deliver(std::span<const uint8_t> frame, const FrameHandler& on_frame, bool& stop);

  std::size_t max_frame_size_;
  std::vector<uint8_t> buf_;
  Message msg_;
};

}  // namespace coap
