// Private to config/: checks for single values, shared by the option table
// (options.cc) and the public parsers (values.cc). Each returns a Status
// whose error, when the value is not fine, is a phrase completing
// "'<value>' ...", such as "is out of range (expected 0 to 65535)"; the
// caller makes the sentence ("coapd: --udp-port: '70000' is out of ...").
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "coap/result.h"
#include "config/config.h"

namespace config::detail {

using Problem = coap::Status;
inline Problem problem(std::string phrase) { return coap::Error{std::move(phrase)}; }

inline constexpr uint64_t kU32Max = std::numeric_limits<uint32_t>::max();
// The longest time any option accepts, except the RFC 7252 transmission
// parameters, which have tighter bounds (config.cc): one year.
inline constexpr double kMaxSeconds = 31536000.0;

// "2", "1.5", "31536000": a double as people write it.
std::string format_number(double v);

// A whole number in [lo, hi], decimal digits only.
Problem parse_whole(const std::string& s, uint64_t lo, uint64_t hi, uint64_t* out);
// A finite decimal number, > lo (>= lo when lo_inclusive) and <= hi; `unit`
// names it in the phrase ("seconds").
Problem parse_real(const std::string& s, double lo, bool lo_inclusive, double hi,
                   std::string_view unit, double* out);

// The same, storing into a Config field; the field is unchanged on failure.
Problem set_whole(const std::string& s, uint64_t lo, uint64_t hi, uint32_t& field);
Problem set_port(const std::string& s, uint16_t& field);  // 0 to 65535
Problem set_seconds(const std::string& s, double lo, bool lo_inclusive, double hi, double& field);
Problem set_bool(const std::string& s, bool& field);  // true/false, 1/0, yes/no, on/off

// "off", "127.0.0.1:9464", "[::1]:9464": a numeric address (no name lookup)
// and a port from 1 to 65535.
Problem parse_listen_address(const std::string& s, Config::ListenAddress& out);

// A Linux network interface name (dev_valid_name()), not starting with '-'.
Problem check_interface_name(const std::string& s);
// Fits in sockaddr_un.sun_path.
Problem check_socket_path(const std::string& s);

}  // namespace config::detail
