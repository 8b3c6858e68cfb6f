// What a user says about a resource of their own (config entry, coapctl
// resource add, a file of --resource-dir): its path, link attributes,
// methods and first value. Parsed here, I/O-free: a `file=PATH` entry is
// read by the caller.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coap/code.h"
#include "coap/result.h"

namespace coap {

// Where a resource came from (coapctl resource list "source").
enum class ResourceSource : uint8_t { kBuiltin, kConfig, kDir, kRuntime };
const char* source_name(ResourceSource s);

// Methods as a bit set: bit i is method code 0.0(i+1) (GET 0.01 ... iPATCH 0.07).
using MethodSet = uint8_t;
inline constexpr MethodSet kMethodGet = 1;
MethodSet method_bit(Code method);  // 0 for a code that is not a method
// "get|put" (case-insensitive, '|'-separated); the error names the bad word.
Result<MethodSet> parse_methods(std::string_view text);
// "get|put", in code order.
std::string methods_text(MethodSet set);

// Longest path segment (RFC 7252 Uri-Path) and number of segments accepted.
inline constexpr std::size_t kMaxSegmentLength = 255;
inline constexpr std::size_t kMaxSegments = 16;
// "/a/b": starts with '/', no empty segment, none longer than 255 bytes, no
// "." or "..", not under /.well-known/. The error says what is wrong.
Status check_resource_path(std::string_view path);

struct ResourceSpec {
  std::string path;
  uint32_t ct = 0;  // content-format of the value
  std::string rt, if_, title;
  std::optional<uint32_t> sz;
  bool observable = false;
  MethodSet methods = kMethodGet;
  std::vector<uint8_t> value;
  std::optional<std::string> file;  // file=PATH: the caller reads it into value
  std::optional<uint32_t> max_age;
  uint32_t delay_ms = 0;  // separate response after this long (RFC 7252 5.2.2)
  bool multicast = false;
  bool operator==(const ResourceSpec&) const = default;
};

// Longest delay=MS accepted: a minute (a client gives up long before).
inline constexpr uint32_t kMaxDelayMs = 60000;

// A spec built field by field (coapctl resource add): the checks
// parse_resource_entry makes. The error names the field.
Status check_resource_spec(const ResourceSpec& spec);

// "/sensors/temp,ct=0,rt=temperature-c,if=core.s,obs,methods=get|put,value=21.5".
// Keys: ct, rt, if, title, sz, obs, methods, value, file, max-age, delay,
// multicast; value= takes the rest of the entry, commas included. The error
// names the key ("key 'ct': ..."), or the path.
Result<ResourceSpec> parse_resource_entry(std::string_view entry);

}  // namespace coap
