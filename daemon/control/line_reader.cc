#include "daemon/control/line_reader.h"

#include "daemon/control/protocol.h"

namespace control {

bool LineReader::feed(std::string_view bytes) {
  // Compact once the consumed prefix dominates, keeping appends amortised O(1).
  if (start_ > 0 && start_ >= buffer_.size() / 2) {
    buffer_.erase(0, start_);
    scan_ -= start_;
    start_ = 0;
  }
  buffer_.append(bytes);
  std::size_t newline = bytes.rfind('\n');
  unterminated_ =
      newline == std::string_view::npos ? unterminated_ + bytes.size() : bytes.size() - newline - 1;
  return unterminated_ <= max_line_;
}

std::optional<std::string> LineReader::next_line() {
  std::size_t newline = buffer_.find('\n', scan_ > start_ ? scan_ : start_);
  if (newline == std::string::npos) {
    scan_ = buffer_.size();
    return std::nullopt;
  }
  std::size_t end = newline;
  if (end > start_ && buffer_[end - 1] == '\r') --end;
  std::string line = buffer_.substr(start_, end - start_);
  start_ = newline + 1;
  scan_ = start_;
  return line;
}

}  // namespace control
