// CoAP message codes (RFC 7252 section 12.1, RFC 8323 section 11.1): a class
// in the upper 3 bits and a detail in the lower 5, written "c.dd".
#pragma once

#include <cstdint>
#include <string>

namespace coap {

enum class Type : uint8_t { kCon = 0, kNon = 1, kAck = 2, kRst = 3 };
const char* type_name(Type t);

struct Code {
  uint8_t raw = 0;

  constexpr Code() = default;
  constexpr explicit Code(uint8_t r) : raw(r) {}
  constexpr Code(unsigned cls, unsigned detail) : raw(static_cast<uint8_t>((cls << 5) | detail)) {}

  constexpr unsigned cls() const { return raw >> 5; }
  constexpr unsigned detail() const { return raw & 0x1f; }
  constexpr bool is_empty() const { return raw == 0; }
  constexpr bool is_request() const { return cls() == 0 && raw != 0; }
  constexpr bool is_response() const { return cls() >= 2 && cls() <= 5; }
  constexpr bool is_signaling() const { return cls() == 7; }
  constexpr bool is_success() const { return cls() == 2; }
  constexpr bool operator==(const Code&) const = default;

  // "2.05"
  std::string str() const;
  // "Content", or "" for codes without a registered name.
  const char* name() const;
};

namespace codes {
inline constexpr Code kEmpty{0, 0};
inline constexpr Code kGet{0, 1};
inline constexpr Code kPost{0, 2};
inline constexpr Code kPut{0, 3};
inline constexpr Code kDelete{0, 4};
inline constexpr Code kFetch{0, 5};
inline constexpr Code kPatch{0, 6};
inline constexpr Code kIPatch{0, 7};

inline constexpr Code kCreated{2, 1};
inline constexpr Code kDeleted{2, 2};
inline constexpr Code kValid{2, 3};
inline constexpr Code kChanged{2, 4};
inline constexpr Code kContent{2, 5};
inline constexpr Code kContinue{2, 31};

inline constexpr Code kBadRequest{4, 0};
inline constexpr Code kUnauthorized{4, 1};
inline constexpr Code kBadOption{4, 2};
inline constexpr Code kForbidden{4, 3};
inline constexpr Code kNotFound{4, 4};
inline constexpr Code kMethodNotAllowed{4, 5};
inline constexpr Code kNotAcceptable{4, 6};
inline constexpr Code kRequestEntityIncomplete{4, 8};
inline constexpr Code kConflict{4, 9};  // RFC 8132
inline constexpr Code kPreconditionFailed{4, 12};
inline constexpr Code kRequestEntityTooLarge{4, 13};
inline constexpr Code kUnsupportedContentFormat{4, 15};
inline constexpr Code kUnprocessableEntity{4, 22};  // RFC 8132

inline constexpr Code kInternalServerError{5, 0};
inline constexpr Code kNotImplemented{5, 1};
inline constexpr Code kServiceUnavailable{5, 3};
inline constexpr Code kGatewayTimeout{5, 4};
inline constexpr Code kProxyingNotSupported{5, 5};

// Signaling codes, CoAP over TCP only (RFC 8323 section 5).
inline constexpr Code kCsm{7, 1};
inline constexpr Code kPing{7, 2};
inline constexpr Code kPong{7, 3};
inline constexpr Code kRelease{7, 4};
inline constexpr Code kAbort{7, 5};
}  // namespace codes

// Method name ("GET") to code; returns kEmpty when unknown.
Code method_from_name(const std::string& name);

}  // namespace coap
