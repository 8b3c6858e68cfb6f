// coapctl's commands: each sends one control request to coapd, prints the
// answer to stdout (human-readable, or the raw result with --json) and
// returns the process exit status. Diagnostics go to stderr as one
// "coapctl: ..." line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/control/messages.h"

namespace coapctl {

// Exit statuses, documented in coapctl --help.
enum ExitStatus : int {
  kExitOk = 0,             // success; a request got a 2.xx response
  kExitFailure = 1,        // coapd unreachable, or it refused the command (ok:false)
  kExitUsage = 2,          // bad command line
  kExitClientError = 3,    // a request got a 4.xx response
  kExitServerError = 4,    // a request got a 5.xx response
  kExitTimeout = 5,        // a request timed out
  kExitRequestFailed = 6,  // a request failed or was cancelled
};

inline constexpr const char* kDefaultSocketPath = "/run/coapd/coapd.sock";
inline constexpr const char* kSocketEnvVar = "COAPD_CONTROL_SOCKET";
inline constexpr double kDefaultTimeoutS = 10;
inline constexpr double kDefaultRequestTimeoutS = 30;
// How much longer than a request's own timeout coapctl waits for coapd to
// report its outcome, so that coapd's "timeout" answer wins the race.
inline constexpr double kRequestAnswerMarginS = 5;

struct GlobalOptions {
  std::string socket_path = kDefaultSocketPath;
  bool json = false;
  double timeout_s = kDefaultTimeoutS;  // connecting, and waiting for an answer
};

// coaps:// and coaps+tcp:// choices of a request or connect (files are
// read by coapctl and their contents sent).
struct SecurityOptions {
  std::optional<std::string> psk_identity;
  std::optional<std::string> psk_key;  // text, or hex after 0x
  std::optional<std::string> cert_file, key_file, ca_file;
  bool insecure = false;
};

struct RequestOptions {
  std::string method;  // "GET", "PUT", "POST", "DELETE", "FETCH", "PATCH" or "IPATCH"
  std::string uri;
  std::optional<std::string> payload;
  std::optional<std::string> payload_file;  // "-" reads stdin
  std::optional<unsigned> content_format;
  std::optional<unsigned> accept;
  double timeout_s = kDefaultRequestTimeoutS;
  std::optional<uint64_t> session;
  SecurityOptions security;
  bool non = false;
  std::vector<control::RequestOption> options;  // -O and --no-response
  std::optional<std::vector<uint8_t>> token;
  std::optional<uint32_t> block_size;
};

// coapctl observe: the request, and when to stop (besides Ctrl-C).
struct ObserveOptions {
  RequestOptions request;
  std::optional<uint64_t> count;     // notifications, the registration's answer the first
  std::optional<double> duration_s;  // seconds
};

struct ConnectOptions {
  std::string uri;
  bool call_home = false;
  std::optional<double> reconnect_interval_s;
  std::optional<double> reconnect_max_interval_s;
  std::optional<uint64_t> reconnect_attempts;
  std::optional<double> keepalive_s;
  SecurityOptions security;
};

// coapctl resource add|set: what to send (value from --value or --file).
struct ResourceOptions {
  std::string path;
  std::optional<unsigned> ct;
  std::string rt, if_, title;
  bool obs = false;
  std::string methods;
  std::optional<std::string> value;
  std::optional<std::string> file;
  unsigned delay_ms = 0;
  std::optional<unsigned> max_age;
};

int run_status(const GlobalOptions& global);
// With `prometheus`, in the Prometheus text format (prometheus.h).
int run_stats(const GlobalOptions& global, bool prometheus = false);
int run_sessions(const GlobalOptions& global);
int run_events(const GlobalOptions& global, bool follow);
int run_request(const GlobalOptions& global, const RequestOptions& options);
// Prints every notification (seq, code, content-format, payload; with
// --json one object per line) until count, duration or SIGINT/SIGTERM, then
// deregisters and exits 0; a resource that is not observable is printed and
// exits as `coapctl get` would (observe.cc).
int run_observe(const GlobalOptions& global, const ObserveOptions& options);
int run_observe_cancel(const GlobalOptions& global, uint64_t observation);
int run_observations(const GlobalOptions& global);
// Has coapd send a multicast GET /.well-known/core to `group` from its own
// stack and collect the answers for wait_s seconds; one line per node:
// "ADDRESS LINKS".
int run_discover(const GlobalOptions& global, const std::string& group, double wait_s);
int run_connect(const GlobalOptions& global, const ConnectOptions& options);
int run_close(const GlobalOptions& global, uint64_t session);
int run_resource_list(const GlobalOptions& global);
int run_resource_add(const GlobalOptions& global, const ResourceOptions& options);
int run_resource_set(const GlobalOptions& global, const ResourceOptions& options);
int run_resource_delete(const GlobalOptions& global, const std::string& path);
// "log level LEVEL (was PREVIOUS)".
int run_log_level(const GlobalOptions& global, const std::string& level);
// What the reload changed; exit 1 (and coapd's error, naming the key) when
// the config file is bad, in which case nothing changed.
int run_reload(const GlobalOptions& global);

struct CaptureOptions {
  std::string file;
  uint64_t count = 0;     // 0: no limit
  double duration_s = 0;  // 0: no limit
  std::string filter = "all";
};
// Has coapd write the frames its stack receives and sends to FILE (made
// absolute here) until --count, --duration, or SIGINT/SIGTERM (which stop the
// capture through a second connection); prints what was written and how many
// frames were dropped. Exit 1 when coapd refuses (a capture runs already,
// FILE cannot be written).
int run_capture(const GlobalOptions& global, const CaptureOptions& o);
int run_debug_stall(const GlobalOptions& global, double seconds);
int run_debug_timer_probe(const GlobalOptions& global, double interval_ms, int count);

}  // namespace coapctl
