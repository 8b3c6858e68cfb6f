// The control protocol between coapd and coapctl, in one place (as chrony's
// candm.h): a Unix stream socket carrying newline-delimited JSON objects.
//
// Request:   {"v":1,"id":N,"cmd":"<command>", ...arguments}
// Response:  {"v":1,"id":N,"ok":true,"result":{...}}
//            {"v":1,"id":N,"ok":false,"error":"<sentence>"}
// Event:     {"v":1,"event":{"time":"<ISO 8601 UTC>","event":"<name>",
//            "session_id":N,"peer":"<ip:port>"[,"reason":"..."][,"attempt":N]}}
//            (only on a connection that sent "events" with "follow":true)
//
// Commands and results:
//   status   -> {"version","pid","uptime_s","tap","mac","addresses":[...],
//                "udp_port","tcp_port","call_home_port","control_socket",
//                "sessions","engine":{"alive","wakeups"}}
//   stats    -> {"lwip":{"tcp_active","tcp_listen","tcp_time_wait","tcp_bound",
//                "udp"},"counters":{"rx_frames","tx_frames","requests",
//                "responses","bad_packets",...},"sessions":N}
//   sessions -> {"sessions":[{"id","protocol","role","state","peer","local_address",
//                "age","bytes_in","bytes_out","messages_in","messages_out",
//                "outgoing","call_home","reconnect_attempt","queued_bytes",
//                "observers"}]}
//   events   {"follow":bool} -> {"events":[<event>...]} (recent history);
//                with follow, event lines keep coming until the client closes
//   request  {"method","uri","payload_b64"?,"content_format"?,"accept"?,
//             "timeout"?,"session"?} -> {"status":"response"|"timeout"|
//             "cancelled"|"error","code":"2.05","code_name":"Content",
//             "options":[{"number","name","value"}],"payload_b64",
//             "error"?,"session"}
//   connect  {"uri","call_home"?,"reconnect_interval"?,
//             "reconnect_max_interval"?,"reconnect_attempts"?}
//             -> {"session":N,"existing":bool}
//   close    {"session":N} -> {}
//   debug_stall {"seconds":S} -> {} (only with --debug-commands)
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace control {

inline constexpr int kProtocolVersion = 1;
// A request line longer than this closes the connection (it is garbage).
inline constexpr std::size_t kMaxLineBytes = 1 << 20;

std::string base64_encode(std::span<const uint8_t> data);
std::optional<std::vector<uint8_t>> base64_decode(std::string_view text);

// Lowercase hex, no separators ("01ab"). A request result carries option
// values as JSON numbers (uint options), JSON strings (string options) or
// hex_encode()d strings (opaque and unknown options; "" for empty ones).
std::string hex_encode(std::span<const uint8_t> data);

// One event as a human-readable line, without the newline:
//   "<time> <event> session=<N> peer=<ip:port>[ reason=<text>][ attempt=<N>]"
// event is the "event" object of an event message. Missing or empty fields
// print as "-"; reason and attempt appear only when present.
std::string format_event_line(const nlohmann::json& event);

// A request whose fields do not fit the protocol; what() names the field.
struct BadRequest : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Typed access to request fields: the value of `key`, or `fallback` when the
// request has no such field. Throws BadRequest when the field has the wrong
// type or lies outside [min, max].
double number_field(const nlohmann::json& req, const char* key, double fallback, double min,
                    double max);
uint64_t uint_field(const nlohmann::json& req, const char* key, uint64_t fallback, uint64_t max);
bool bool_field(const nlohmann::json& req, const char* key, bool fallback);
std::string string_field(const nlohmann::json& req, const char* key, const std::string& fallback);

// Splits a byte stream into '\n'-terminated lines (a '\r' before the '\n' is
// dropped), for either end of the control socket.
class LineReader {
 public:
  // Appends received bytes. Returns false when the unterminated line now
  // exceeds kMaxLineBytes: the peer is sending garbage and the connection
  // should be closed.
  bool feed(std::string_view bytes);

  // The next complete line without its terminator, or nullopt.
  std::optional<std::string> next_line();

  // Bytes received but not yet returned as lines.
  std::size_t pending_bytes() const { return buffer_.size() - start_; }

 private:
  std::string buffer_;
  std::size_t start_ = 0;         // first byte not yet returned
  std::size_t scan_ = 0;          // bytes before this offset hold no '\n'
  std::size_t unterminated_ = 0;  // bytes after the last '\n' received
};

}  // namespace control
