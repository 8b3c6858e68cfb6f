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
//   sessions -> {"sessions":[{"id","protocol","role","state","peer","local",
//                "age_s","bytes_in","bytes_out","msgs_in","msgs_out",
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
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace control {

inline constexpr int kProtocolVersion = 1;
// A request line longer than this closes the connection (it is garbage).
inline constexpr std::size_t kMaxLineBytes = 1 << 20;

std::string base64_encode(std::span<const uint8_t> data);
std::optional<std::vector<uint8_t>> base64_decode(std::string_view text);

}  // namespace control
