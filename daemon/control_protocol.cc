#include "daemon/control_protocol.h"

#include <array>
#include <nlohmann/json.hpp>

namespace control {
namespace {

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr int8_t kInvalid = -1;

constexpr std::array<int8_t, 256> make_decode_table() {
  std::array<int8_t, 256> table{};
  table.fill(kInvalid);
  for (int i = 0; i < 64; ++i)
    table[static_cast<uint8_t>(kBase64Alphabet[i])] = static_cast<int8_t>(i);
  return table;
}
constexpr std::array<int8_t, 256> kBase64Decode = make_decode_table();

// A JSON value as event-line text: strings unquoted, anything else as JSON,
// "-" for a missing, null or empty value.
std::string field_text(const nlohmann::json& event, const char* key) {
  auto it = event.find(key);
  if (it == event.end() || it->is_null()) return "-";
  if (it->is_string())
    return it->get_ref<const std::string&>().empty() ? "-" : it->get<std::string>();
  return it->dump();
}

}  // namespace

std::string base64_encode(std::span<const uint8_t> data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t n = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += kBase64Alphabet[(n >> 6) & 63];
    out += kBase64Alphabet[n & 63];
  }
  std::size_t rest = data.size() - i;
  if (rest == 1) {
    uint32_t n = uint32_t{data[i]} << 16;
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    uint32_t n = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += kBase64Alphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

// Strict RFC 4648 section 4: length a multiple of 4, only alphabet characters,
// '=' only as one or two final characters, and the unused bits before the
// padding zero (so every byte string has exactly one accepted encoding).
std::optional<std::vector<uint8_t>> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;

  std::vector<uint8_t> out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    std::size_t data_chars = last ? 4 - padding : 4;
    uint32_t n = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      int8_t v = 0;
      if (k < data_chars) {
        v = kBase64Decode[static_cast<uint8_t>(text[i + k])];
        if (v == kInvalid) return std::nullopt;
      }
      n = (n << 6) | static_cast<uint32_t>(v);
    }
    out.push_back(static_cast<uint8_t>(n >> 16));
    if (data_chars >= 3) out.push_back(static_cast<uint8_t>(n >> 8));
    if (data_chars == 4) out.push_back(static_cast<uint8_t>(n));
    if (data_chars == 3 && (n & 0xff) != 0) return std::nullopt;
    if (data_chars == 2 && (n & 0xffff) != 0) return std::nullopt;
  }
  return out;
}

std::string hex_encode(std::span<const uint8_t> data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

std::string format_event_line(const nlohmann::json& event) {
  std::string line = field_text(event, "time");
  line += ' ';
  line += field_text(event, "event");
  line += " session=";
  line += field_text(event, "session_id");
  line += " peer=";
  line += field_text(event, "peer");
  if (event.contains("reason")) {
    line += " reason=";
    line += field_text(event, "reason");
  }
  if (event.contains("attempt")) {
    line += " attempt=";
    line += field_text(event, "attempt");
  }
  return line;
}

double number_field(const nlohmann::json& req, const char* key, double fallback, double min,
                    double max) {
  auto it = req.find(key);
  if (it == req.end()) return fallback;
  if (!it->is_number()) throw BadRequest(std::string("field \"") + key + "\" must be a number");
  const double v = it->get<double>();
  if (!(v >= min && v <= max))
    throw BadRequest(std::string("field \"") + key + "\" must be between " + std::to_string(min) +
                     " and " + std::to_string(max));
  return v;
}

uint64_t uint_field(const nlohmann::json& req, const char* key, uint64_t fallback, uint64_t max) {
  auto it = req.find(key);
  if (it == req.end()) return fallback;
  if (!it->is_number_unsigned() || it->get<uint64_t>() > max)
    throw BadRequest(std::string("field \"") + key + "\" must be a whole number from 0 to " +
                     std::to_string(max));
  return it->get<uint64_t>();
}

bool bool_field(const nlohmann::json& req, const char* key, bool fallback) {
  auto it = req.find(key);
  if (it == req.end()) return fallback;
  if (!it->is_boolean()) throw BadRequest(std::string("field \"") + key + "\" must be true or false");
  return it->get<bool>();
}

std::string string_field(const nlohmann::json& req, const char* key, const std::string& fallback) {
  auto it = req.find(key);
  if (it == req.end()) return fallback;
  if (!it->is_string()) throw BadRequest(std::string("field \"") + key + "\" must be a string");
  return it->get<std::string>();
}

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
  return unterminated_ <= kMaxLineBytes;
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
