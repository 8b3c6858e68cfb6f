#include "daemon/control/codec.h"

#include <array>

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

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool is_whole_number(const nlohmann::json& v) {
  return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
}

namespace {

std::string quoted(const char* key) { return std::string("field \"") + key + "\""; }

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

std::optional<std::vector<uint8_t>> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::vector<uint8_t> out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = hex_value(text[i]);
    const int lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return out;
}

// --- FieldReader -----------------------------------------------------------------

FieldReader::FieldReader(const nlohmann::json& object) : object_(object) {
  if (!object_.is_object()) error_ = "the request is not a JSON object";
}

const nlohmann::json* FieldReader::find(const char* key) const {
  if (!error_.empty() || !object_.is_object()) return nullptr;
  auto it = object_.find(key);
  return it == object_.end() ? nullptr : &*it;
}

bool FieldReader::has(const char* key) const {
  return object_.is_object() && object_.contains(key);
}

void FieldReader::fail(std::string sentence) {
  if (error_.empty()) error_ = std::move(sentence);
}

Status FieldReader::status() const {
  if (error_.empty()) return {};
  return coap::Error{error_};
}

std::optional<double> FieldReader::optional_number(const char* key, double min, double max) {
  const nlohmann::json* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_number()) {
    fail(quoted(key) + " must be a number");
    return std::nullopt;
  }
  const double d = v->get<double>();
  if (!(d >= min && d <= max)) {
    fail(quoted(key) + " must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return d;
}

double FieldReader::number(const char* key, double fallback, double min, double max) {
  return optional_number(key, min, max).value_or(fallback);
}

std::optional<uint64_t> FieldReader::optional_uint(const char* key, uint64_t max) {
  const nlohmann::json* v = find(key);
  if (!v) return std::nullopt;
  if (!is_whole_number(*v) || v->get<uint64_t>() > max) {
    fail(quoted(key) + " must be a whole number from 0 to " + std::to_string(max));
    return std::nullopt;
  }
  return v->get<uint64_t>();
}

uint64_t FieldReader::uint(const char* key, uint64_t fallback, uint64_t max) {
  return optional_uint(key, max).value_or(fallback);
}

bool FieldReader::boolean(const char* key, bool fallback) {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  if (!v->is_boolean()) {
    fail(quoted(key) + " must be true or false");
    return fallback;
  }
  return v->get<bool>();
}

std::optional<std::string> FieldReader::optional_string(const char* key) {
  const nlohmann::json* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    fail(quoted(key) + " must be a string");
    return std::nullopt;
  }
  return v->get<std::string>();
}

std::string FieldReader::string(const char* key, const std::string& fallback) {
  return optional_string(key).value_or(fallback);
}

std::optional<std::vector<uint8_t>> FieldReader::optional_bytes(const char* key) {
  std::optional<std::string> text = optional_string(key);
  if (!text) return std::nullopt;
  auto bytes = base64_decode(*text);
  if (!bytes) fail(std::string(key) + " is not valid base64");
  return bytes;
}

const nlohmann::json* FieldReader::array(const char* key) {
  const nlohmann::json* v = find(key);
  if (v && !v->is_array()) {
    fail(quoted(key) + " must be an array");
    return nullptr;
  }
  return v;
}

const nlohmann::json* FieldReader::object(const char* key) {
  const nlohmann::json* v = find(key);
  if (v && !v->is_object()) {
    fail(quoted(key) + " must be an object");
    return nullptr;
  }
  return v;
}

}  // namespace control
