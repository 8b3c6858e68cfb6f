// Arguments and results of every control command (protocol.h), each with its
// JSON encoding: encode() is what coapd (results) or coapctl (arguments)
// sends, decode() what the other end accepts. A decode error is a sentence
// naming the field. Keys below are the JSON keys; types are JSON types.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "coap/result.h"

namespace control {

using coap::Result;

// Longest timeout or interval a request may ask for: a day.
inline constexpr double kMaxSeconds = 86400;

// {"name": value, ...} in this order.
struct NamedCount {
  std::string name;
  uint64_t value = 0;
  bool operator==(const NamedCount&) const = default;
};
using NamedCounts = std::vector<NamedCount>;

// {"count":N,"p50":us,"p99":us,"max":us[,"sum":us,"buckets":[[le_us,N],...]]}
// buckets: cumulative counts of values <= le (Prometheus histogram buckets).
struct LatencySummary {
  uint64_t count = 0;
  double p50 = 0, p99 = 0, max = 0;  // microseconds
  double sum = 0;                    // microseconds
  std::vector<std::pair<double, uint64_t>> buckets;
  nlohmann::json encode() const;
  static Result<LatencySummary> decode(const nlohmann::json& j);
  bool operator==(const LatencySummary&) const = default;
};

// --- status and stats ---------------------------------------------------------

// What both status and stats start with (and coapd's /status resource is):
// "version" string, "pid" number, "uptime_s" number, "sessions" number,
// "lwip" {tcp_active, tcp_listen, tcp_time_wait, tcp_bound, udp: numbers},
// "counters" {rx_frames, tx_frames, requests, ...: numbers},
// "observations" number, "dedup_entries" number.
struct Snapshot {
  std::string version;
  int64_t pid = 0;
  double uptime_s = 0;
  uint64_t sessions = 0;
  NamedCounts lwip;
  NamedCounts counters;
  uint64_t observations = 0;
  uint64_t dedup_entries = 0;
  nlohmann::json encode() const;
  bool operator==(const Snapshot&) const = default;
};

// status: Snapshot fields plus "tap", "mac" strings, "addresses"
// [{"address","state"}], "host_address" string (the kernel side's IPv4
// address, or "none"), "address_note" string (why coapd left its embedded
// default subnet; "" when it did not), "udp_port", "tcp_port", "call_home_port",
// "dtls_port", "tls_port" numbers, "dtls", "tls" bools (the server runs),
// "control_socket" string, "engine" {"alive" bool, "wakeups" number}.
struct StatusResult {
  struct AddressState {
    std::string address;  // "192.0.2.2/24", "fe80::..%coap0/64"
    std::string state;    // "preferred", "tentative", ...
    bool operator==(const AddressState&) const = default;
  };
  Snapshot snapshot;
  std::string tap;
  std::string mac;
  std::vector<AddressState> addresses;
  std::string host_address;
  std::string address_note;
  uint16_t udp_port = 0, tcp_port = 0, call_home_port = 0, dtls_port = 0, tls_port = 0;
  bool dtls_on = false, tls_on = false;
  std::string control_socket;
  bool engine_alive = false;
  uint64_t engine_wakeups = 0;

  nlohmann::json encode() const;
  static Result<StatusResult> decode(const nlohmann::json& j);
  bool operator==(const StatusResult&) const = default;
};

// stats: Snapshot fields plus "engine" {"wakeups", "udp_dropped", "items",
// "flushes", "tap_batches", "tap_polled_batches" (of those, the ones read while
// busy polling, --busy-poll), "cpu_placement_changes" numbers, "cpu_placement"
// "shared"|"spread", "tcp_wake_latency_us", "udp_wake_latency_us"
// LatencySummary}.
struct StatsResult {
  struct Engine {
    uint64_t wakeups = 0, udp_dropped = 0, items = 0, flushes = 0, tap_batches = 0;
    uint64_t tap_polled_batches = 0;
    std::string cpu_placement;
    uint64_t cpu_placement_changes = 0;
    LatencySummary tcp_wake_latency_us, udp_wake_latency_us;
    bool operator==(const Engine&) const = default;
  };
  Snapshot snapshot;
  Engine engine;

  nlohmann::json encode() const;
  static Result<StatsResult> decode(const nlohmann::json& j);
  bool operator==(const StatsResult&) const = default;
};

// --- sessions -------------------------------------------------------------------

// One object of "sessions": "id" number, "protocol" "udp"|"tcp"|"dtls"|"tls",
// "security" "none"|"psk"|"x509", "peer_identity" (PSK identity or
// certificate subject) and "cipher" strings ("" until a handshake is done), "role"
// "server"|"client", "state" string, "peer", "local_address" strings, "age"
// number (s), "bytes_in", "bytes_out", "messages_in", "messages_out" numbers,
// "outgoing", "call_home" bools, "reconnect_attempt", "queued_bytes",
// "observers" numbers.
struct SessionEntry {
  uint64_t id = 0;
  std::string protocol, role, state, peer, local_address;
  double age = 0;
  uint64_t bytes_in = 0, bytes_out = 0, messages_in = 0, messages_out = 0;
  bool outgoing = false, call_home = false;
  uint64_t reconnect_attempt = 0, queued_bytes = 0, observers = 0;
  std::string security = "none", peer_identity, cipher;
  bool operator==(const SessionEntry&) const = default;
};
struct SessionsResult {
  std::vector<SessionEntry> sessions;
  nlohmann::json encode() const;
  static Result<SessionsResult> decode(const nlohmann::json& j);
  bool operator==(const SessionsResult&) const = default;
};

// --- events ---------------------------------------------------------------------

// {"follow": bool}
struct EventsArgs {
  bool follow = false;
  nlohmann::json encode() const;
  static Result<EventsArgs> decode(const nlohmann::json& j);
  bool operator==(const EventsArgs&) const = default;
};

// One event: "time" ISO 8601 UTC string, "event" name, "session_id" number,
// "peer" "ip:port" string, and when they apply "reason" string, "attempt"
// number, "detail" string, and for handshake_done "security", "peer_identity",
// "cipher" strings.
struct EventRecord {
  std::string time, event;
  uint64_t session_id = 0;
  std::string peer;
  std::optional<std::string> reason;
  std::optional<uint64_t> attempt;
  std::optional<std::string> detail;
  std::optional<std::string> security, peer_identity, cipher;
  nlohmann::json encode() const;
  static Result<EventRecord> decode(const nlohmann::json& j);
  bool operator==(const EventRecord&) const = default;
};

// {"events": [EventRecord...]}: the recent history, oldest first.
struct EventsResult {
  std::vector<EventRecord> events;
  nlohmann::json encode() const;
  static Result<EventsResult> decode(const nlohmann::json& j);
  bool operator==(const EventsResult&) const = default;
};

// --- request --------------------------------------------------------------------

// How coapd's own coaps:// or coaps+tcp:// request or session secures itself
// ("security" of request and connect): {"psk_identity" string,
// "psk_key_b64" base64, "cert_pem", "key_pem", "ca_pem" PEM strings,
// "insecure" bool}; every field optional (coapd's --client-psk-*, --cert,
// --key and --ca apply to what is missing).
struct SecurityArgs {
  std::optional<std::string> psk_identity;
  std::optional<std::vector<uint8_t>> psk_key;
  std::string cert_pem, key_pem, ca_pem;
  bool insecure = false;
  bool empty() const { return !psk_identity && cert_pem.empty() && ca_pem.empty() && !insecure; }
  nlohmann::json encode() const;
  static Result<SecurityArgs> decode(const nlohmann::json& j);
  bool operator==(const SecurityArgs&) const = default;
};

// One option a request carries besides those coapd sets itself:
// {"number" 1..65535, "value_hex" hex}.
struct RequestOption {
  uint16_t number = 0;
  std::vector<uint8_t> value;
  bool operator==(const RequestOption&) const = default;
};

// {"method" "GET"|"PUT"|"POST"|"DELETE"|"FETCH"|"PATCH"|"IPATCH", "uri"
//  string, "payload_b64" base64, "content_format" number, "accept" number,
//  "timeout" number (s), "session" number, "security" SecurityArgs,
//  "non" bool (a NON request), "options" [RequestOption], "token_hex" hex
//  (0 to 8 bytes), "block_size" 16..1024 or BERT}; all but method and uri
//  optional.
//
// block_size: a power of two 16..1024 is the Block1/Block2 block size
// (RFC 7959); a multiple of 1024 above it up to kMaxBertBytes asks for BERT
// (RFC 8323 6, CoAP over TCP only): up to that many bytes per message.
inline constexpr uint64_t kMaxBertBytes = 1024 * 1024;
inline bool valid_block_size(uint64_t n) {
  if (n > 1024) return n <= kMaxBertBytes && n % 1024 == 0;
  return n >= 16 && (n & (n - 1)) == 0;
}
struct RequestArgs {
  std::string method = "GET";
  std::string uri;
  std::optional<std::vector<uint8_t>> payload;
  std::optional<uint32_t> content_format;
  std::optional<uint32_t> accept;
  double timeout = 30;
  std::optional<uint64_t> session;
  SecurityArgs security;
  bool non = false;
  std::vector<RequestOption> options;
  std::optional<std::vector<uint8_t>> token;
  std::optional<uint32_t> block_size;
  nlohmann::json encode() const;
  static Result<RequestArgs> decode(const nlohmann::json& j);
  bool operator==(const RequestArgs&) const = default;
};

// One option of a response: {"number" number, "name" string, "format"
// "uint"|"string"|"opaque"|"empty", "value"}. The value's JSON type follows
// the format: a number for uint options, a string for string options, a
// lowercase hex string for opaque, empty and unknown options ("" when empty).
struct OptionEntry {
  uint16_t number = 0;
  std::string name;
  std::string format;  // "uint", "string", "opaque", "empty"
  std::variant<uint64_t, std::string> value;
  nlohmann::json encode() const;
  static Result<OptionEntry> decode(const nlohmann::json& j);
  // The value as a person reads it: the number, the text, or the hex.
  std::string text() const;
  bool operator==(const OptionEntry&) const = default;
};

// {"status" "response"|"timeout"|"cancelled"|"error"|"deregistered" (an
//  observation ended on request), "session" number,
//  with a response: "code" "2.05", "code_name" "Content", "options"
//  [OptionEntry...], "payload_b64" base64; otherwise "error" sentence}.
struct RequestResult {
  std::string status;
  uint64_t session = 0;
  std::string code, code_name;
  std::vector<OptionEntry> options;
  std::vector<uint8_t> payload;
  std::string error;
  nlohmann::json encode() const;
  static Result<RequestResult> decode(const nlohmann::json& j);
  // 2 for 2.xx ...; -1 when code is not of the form "C.DD".
  int code_class() const;
  bool operator==(const RequestResult&) const = default;
};

// --- connect and close ----------------------------------------------------------------

// {"uri" string, "call_home" bool, "reconnect_interval" number (s, > 0),
//  "reconnect_max_interval" number (s), "reconnect_attempts" number,
//  "keepalive" number (s, 0 off), "security" SecurityArgs}
struct ConnectArgs {
  std::string uri;
  bool call_home = false;
  std::optional<double> reconnect_interval;
  std::optional<double> reconnect_max_interval;
  std::optional<uint32_t> reconnect_attempts;
  std::optional<double> keepalive;  // seconds, 0 off
  SecurityArgs security;
  nlohmann::json encode() const;
  static Result<ConnectArgs> decode(const nlohmann::json& j);
  bool operator==(const ConnectArgs&) const = default;
};
// {"session" number, "existing" bool}
struct ConnectResult {
  uint64_t session = 0;
  bool existing = false;
  nlohmann::json encode() const;
  static Result<ConnectResult> decode(const nlohmann::json& j);
  bool operator==(const ConnectResult&) const = default;
};
// {"session" number} -> {}
struct CloseArgs {
  uint64_t session = 0;
  nlohmann::json encode() const;
  static Result<CloseArgs> decode(const nlohmann::json& j);
  bool operator==(const CloseArgs&) const = default;
};

// --- resources (messages_resource.cc) ------------------------------------------------

// One object of "resources": "path" string, "ct" number (null: none fixed,
// a built-in), "observable" bool, "observers" number, "methods" "get|put"
// string, "size" number (bytes of the value; 0 for a built-in), "etag" hex
// string ("" for a built-in), "source" "builtin"|"config"|"dir"|"runtime",
// "rt", "if", "title" strings, "delay_ms" number, "max_age" number or null.
struct ResourceEntry {
  std::string path;
  std::optional<uint32_t> ct;
  bool observable = false;
  uint64_t observers = 0;
  std::string methods;
  uint64_t size = 0;
  std::string etag;
  std::string source;
  std::string rt, if_, title;
  uint64_t delay_ms = 0;
  std::optional<uint32_t> max_age;
  bool operator==(const ResourceEntry&) const = default;
};
// resource_list: {} -> {"resources": [ResourceEntry...]}, in directory order.
struct ResourceListResult {
  std::vector<ResourceEntry> resources;
  nlohmann::json encode() const;
  static Result<ResourceListResult> decode(const nlohmann::json& j);
  bool operator==(const ResourceListResult&) const = default;
};
// resource_add: {"path" string, "ct" number, "rt", "if", "title" strings,
// "sz" number, "obs" bool, "methods" "get|put" string, "value_b64" base64,
// "delay_ms" number, "max_age" number}; all but path optional -> {}.
struct ResourceAddArgs {
  std::string path;
  std::optional<uint32_t> ct;
  std::string rt, if_, title;
  std::optional<uint32_t> sz;
  bool obs = false;
  std::string methods;  // "" means get
  std::vector<uint8_t> value;
  uint32_t delay_ms = 0;
  std::optional<uint32_t> max_age;
  nlohmann::json encode() const;
  static Result<ResourceAddArgs> decode(const nlohmann::json& j);
  bool operator==(const ResourceAddArgs&) const = default;
};
// resource_set: {"path" string, "value_b64" base64, "ct" number (optional:
// keep)} -> {}. Observers are notified.
struct ResourceSetArgs {
  std::string path;
  std::vector<uint8_t> value;
  std::optional<uint32_t> ct;
  nlohmann::json encode() const;
  static Result<ResourceSetArgs> decode(const nlohmann::json& j);
  bool operator==(const ResourceSetArgs&) const = default;
};
// resource_delete: {"path" string} -> {}. Observers get 4.04.
struct ResourceDeleteArgs {
  std::string path;
  nlohmann::json encode() const;
  static Result<ResourceDeleteArgs> decode(const nlohmann::json& j);
  bool operator==(const ResourceDeleteArgs&) const = default;
};

// --- runtime control ---------------------------------------------------------------

// {"level" string: trace|debug|info|warn|error|critical|off} ->
// {"level", "previous" strings}
struct LogLevelArgs {
  std::string level;
  nlohmann::json encode() const;
  static Result<LogLevelArgs> decode(const nlohmann::json& j);
  bool operator==(const LogLevelArgs&) const = default;
};
struct LogLevelResult {
  std::string level, previous;
  nlohmann::json encode() const;
  static Result<LogLevelResult> decode(const nlohmann::json& j);
  bool operator==(const LogLevelResult&) const = default;
};

// reload: {} -> {"log_level" string, "sessions_opened", "sessions_closed"
// [string] (the session entries), "restart_needed" [string] (keys changed
// since start that only a restart applies)}. A bad config file is an error
// naming the key; nothing changes then.
struct ReloadResult {
  std::string log_level;
  std::vector<std::string> sessions_opened, sessions_closed, restart_needed;
  // Paths of `resource` entries added, removed, and changed (new value, or
  // replaced when other keys changed).
  std::vector<std::string> resources_added, resources_removed, resources_changed;
  nlohmann::json encode() const;
  static Result<ReloadResult> decode(const nlohmann::json& j);
  bool operator==(const ReloadResult&) const = default;
};

// capture: {"file" string (absolute path, written by coapd), "count" number
// (frames; 0: no limit), "duration" number (seconds; 0: no limit), "filter"
// string: all|udp|tcp|coap} -> CaptureResult, once the capture has ended
// (count or duration reached, capture_stop, or the requesting client gone).
// One capture at a time.
struct CaptureArgs {
  std::string file;
  uint64_t count = 0;
  double duration = 0;
  std::string filter = "all";
  nlohmann::json encode() const;
  static Result<CaptureArgs> decode(const nlohmann::json& j);
  bool operator==(const CaptureArgs&) const = default;
};
// {"file" string, "frames", "bytes" (written), "dropped" (frames the capture
// could not keep up with) numbers, "seconds" number, "reason" string:
// count|duration|stopped|client gone|write error}
struct CaptureResult {
  std::string file;
  uint64_t frames = 0, bytes = 0, dropped = 0;
  double seconds = 0;
  std::string reason;
  nlohmann::json encode() const;
  static Result<CaptureResult> decode(const nlohmann::json& j);
  bool operator==(const CaptureResult&) const = default;
};
// capture_stop: {} -> CaptureResult of the capture it ended; an error when
// none runs.

// --- debug (coapd --debug-commands) ------------------------------------------------

// {"seconds" number} -> {}
struct DebugStallArgs {
  double seconds = 1;
  nlohmann::json encode() const;
  static Result<DebugStallArgs> decode(const nlohmann::json& j);
  bool operator==(const DebugStallArgs&) const = default;
};
// {"interval_ms" number, "count" number}
struct TimerProbeArgs {
  double interval_ms = 50;
  uint32_t count = 100;
  nlohmann::json encode() const;
  static Result<TimerProbeArgs> decode(const nlohmann::json& j);
  bool operator==(const TimerProbeArgs&) const = default;
};
// {"interval_ms", "count", "early" numbers, "lateness_us" LatencySummary,
//  "min_lateness_us" number}
struct TimerProbeResult {
  double interval_ms = 0;
  uint64_t count = 0;
  uint64_t early = 0;
  LatencySummary lateness_us;
  double min_lateness_us = 0;
  nlohmann::json encode() const;
  static Result<TimerProbeResult> decode(const nlohmann::json& j);
  bool operator==(const TimerProbeResult&) const = default;
};

}  // namespace control
