// Encodings the control protocol uses inside its JSON: base64 for payloads,
// hex for opaque option values, and typed, checked access to the fields of a
// JSON object.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "coap/result.h"

namespace control {

using coap::Result;
using coap::Status;

// RFC 4648 section 4 base64 (standard alphabet, padded).
std::string base64_encode(std::span<const uint8_t> data);
// Strict: nullopt unless text is the one canonical encoding of some bytes.
std::optional<std::vector<uint8_t>> base64_decode(std::string_view text);

// Lowercase hex, no separators ("01ab").
std::string hex_encode(std::span<const uint8_t> data);
// nullopt unless text is an even number of hex digits.
std::optional<std::vector<uint8_t>> hex_decode(std::string_view text);

// A JSON number that is a whole number >= 0 (however it is stored).
bool is_whole_number(const nlohmann::json& v);

// Reads the fields of one JSON object, checking type and range. The first
// problem is kept (later reads return their fallback) and reported by
// status(), a sentence naming the field: `field "timeout" must be a number`.
class FieldReader {
 public:
  explicit FieldReader(const nlohmann::json& object);

  bool has(const char* key) const;
  double number(const char* key, double fallback, double min, double max);
  uint64_t uint(const char* key, uint64_t fallback, uint64_t max);
  bool boolean(const char* key, bool fallback);
  std::string string(const char* key, const std::string& fallback = {});
  // Absent fields are nullopt.
  std::optional<double> optional_number(const char* key, double min, double max);
  std::optional<uint64_t> optional_uint(const char* key, uint64_t max);
  std::optional<std::string> optional_string(const char* key);
  // A base64 field as bytes.
  std::optional<std::vector<uint8_t>> optional_bytes(const char* key);
  // The field as a JSON array or object (nullptr when absent or another type,
  // which is reported).
  const nlohmann::json* array(const char* key);
  const nlohmann::json* object(const char* key);

  Status status() const;
  bool ok() const { return error_.empty(); }
  // value, or the first problem.
  template <typename T>
  Result<T> result(T value) const {
    if (!ok()) return coap::Error{error_};
    return value;
  }
  // Records a problem of the caller's own (the first one wins).
  void fail(std::string sentence);

 private:
  const nlohmann::json* find(const char* key) const;
  const nlohmann::json& object_;
  std::string error_;
};

}  // namespace control
