// Splits a byte stream into '\n'-terminated lines (a '\r' before the '\n' is
// dropped), for either end of the control socket.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/control/protocol.h"

namespace control {

class LineReader {
 public:
  // Lines up to max_line bytes (coapd reads requests: kMaxLineBytes; coapctl
  // reads answers: kMaxAnswerBytes).
  explicit LineReader(std::size_t max_line = kMaxLineBytes) : max_line_(max_line) {}

  // Appends received bytes. Returns false when the unterminated line now
  // exceeds the maximum: the peer is sending garbage and the connection
  // should be closed.
  bool feed(std::string_view bytes);

  // The next complete line without its terminator, or nullopt.
  std::optional<std::string> next_line();

  // Bytes received but not yet returned as lines.
  std::size_t pending_bytes() const { return buffer_.size() - start_; }
  // Memory held (for the control server's total bound).
  std::size_t capacity() const { return buffer_.capacity(); }

 private:
  std::string buffer_;
  std::size_t start_ = 0;         // first byte not yet returned
  std::size_t scan_ = 0;          // bytes before this offset hold no '\n'
  std::size_t unterminated_ = 0;  // bytes after the last '\n' received
  std::size_t max_line_;
};

}  // namespace control
