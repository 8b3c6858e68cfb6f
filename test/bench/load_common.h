// Shared pieces of the coap_load generator: options, the counters every mode
// fills in, the clock, target addresses and a thin epoll wrapper.
//
// Every mode runs single-threaded in one epoll loop. A run has a warmup
// phase (traffic flows, nothing is counted) followed by the measured phase;
// Stats only counts events that happen during the measured phase.
#pragma once

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "coap/message.h"
#include "daemon/coapd/latency_histogram.h"

namespace bench {

enum class Mode { kUdp, kTcp, kChurn, kDtls, kTls, kDtlsChurn };
enum class CloseMode { kEof, kDrain };

struct Options {
  Mode mode = Mode::kUdp;
  std::string target = "127.0.0.1:5683";
  std::string path = "/time";
  int sockets = 1;  // udp
  int conns = 1;    // tcp, churn, dtls, tls, dtls_churn
  int window = 32;  // udp, tcp, dtls, tls: requests in flight per socket / connection
  double duration_s = 5.0;
  double warmup_s = 1.0;
  uint64_t cycles = 0;     // churn: stop after this many measured cycles (0 = use duration)
  double timeout_s = 1.0;  // a request (or churn cycle) older than this is lost
  CloseMode close_mode = CloseMode::kEof;
  bool wait_csm = false;  // churn: send the GET only once the server's CSM arrived
  int token_len = 8;
  bool json = false;
  // tcp, churn: local addresses to bind to, used round-robin. More source
  // addresses mean more local ports, for churn against a peer whose closed
  // connections cannot be reused from TIME_WAIT (no TCP timestamps).
  std::vector<std::string> sources;
  // dtls, tls, dtls_churn: the client's PSK, the cipher suites to offer
  // (mbedTLS names; empty: coapd's client defaults) and how long a
  // handshake may take (dtls_churn: the whole cycle has opts.timeout_s).
  std::string psk_identity = "coapd-bench";
  std::string psk_key = "bench-secret";
  std::vector<std::string> ciphersuites;
  double handshake_timeout_s = 5.0;
};

// Monotonic nanoseconds.
int64_t now_ns();

// Counters of one run. The mode code calls the count_* functions
// unconditionally; they are no-ops until start_measuring().
class Stats {
 public:
  void start_measuring(int64_t now);
  void stop_measuring(int64_t now);
  bool measuring() const { return measuring_; }

  void count_request() {
    if (measuring_) ++requests_;
  }
  void count_response(int64_t latency_ns) {
    if (!measuring_) return;
    ++responses_;
    latency_.record(static_cast<uint64_t>(latency_ns));
  }
  // A response counted without a latency sample (churn records cycle times).
  void count_answer() {
    if (measuring_) ++responses_;
  }
  void count_lost() {
    if (measuring_) ++lost_;
  }
  // Errors are counted by kind ("econnreset", "timeout", "rst", ...).
  void count_error(const std::string& kind) {
    if (measuring_) ++errors_[kind];
  }
  void count_cycle(int64_t cycle_ns) {
    if (!measuring_) return;
    ++cycles_;
    latency_.record(static_cast<uint64_t>(cycle_ns));
  }
  // A finished DTLS/TLS handshake and its suite. Suites are noted also
  // during the warmup (a single-session run has its one handshake there).
  void count_handshake(const std::string& cipher) {
    ++ciphers_[cipher];
    if (measuring_) ++handshakes_;
  }

  uint64_t requests() const { return requests_; }
  uint64_t responses() const { return responses_; }
  uint64_t lost() const { return lost_; }
  uint64_t cycles() const { return cycles_; }
  uint64_t handshakes() const { return handshakes_; }
  const std::map<std::string, uint64_t>& ciphers() const { return ciphers_; }
  uint64_t errors() const;
  const std::map<std::string, uint64_t>& error_kinds() const { return errors_; }
  const coapd::LatencyHistogram& latency() const { return latency_; }
  double elapsed_s() const { return static_cast<double>(end_ns_ - start_ns_) / 1e9; }

 private:
  bool measuring_ = false;
  int64_t start_ns_ = 0;
  int64_t end_ns_ = 0;
  uint64_t requests_ = 0;
  uint64_t responses_ = 0;
  uint64_t lost_ = 0;
  uint64_t cycles_ = 0;
  uint64_t handshakes_ = 0;
  std::map<std::string, uint64_t> errors_;
  std::map<std::string, uint64_t> ciphers_;
  coapd::LatencyHistogram latency_;
};

// "IP:PORT" or "[IPv6]:PORT".
struct Target {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = 0;
};
bool parse_target(const std::string& text, Target& out, std::string& error);
// A numeric IPv4 or IPv6 address without port (port 0 in out).
bool parse_address(const std::string& text, Target& out, std::string& error);

// Name of an errno value for error counters ("econnreset"); "errno_N" for
// the ones without a short name here.
std::string errno_kind(int err);

// The request every mode sends: GET with Uri-Path segments of opts.path.
// Owns the path string the options point into.
class RequestTemplate {
 public:
  explicit RequestTemplate(const std::string& path);
  RequestTemplate(const RequestTemplate&) = delete;
  RequestTemplate& operator=(const RequestTemplate&) = delete;
  const coap::OptionList& options() const { return options_; }

 private:
  std::string path_;
  coap::OptionList options_;
};

// Token for request number `seq` in slot `slot`: the low 16 bits carry the
// slot so that a response finds its slot without a lookup table, the rest a
// per-socket sequence number that makes every token unique.
inline coap::Token make_token(uint64_t seq, uint32_t slot, int len) {
  return coap::Token::from_u64((seq << 16) | slot, static_cast<uint8_t>(len));
}
inline uint64_t token_value(const coap::Token& t) {
  uint64_t v = 0;
  for (int i = 0; i < t.len; ++i) v = (v << 8) | t.bytes[i];
  return v;
}

// Owns an epoll instance. Registered fds carry a 64-bit cookie chosen by the
// caller (an index into the caller's table, never a pointer).
class Epoll {
 public:
  Epoll();
  ~Epoll();
  Epoll(const Epoll&) = delete;
  Epoll& operator=(const Epoll&) = delete;

  void add(int fd, uint32_t events, uint64_t cookie);
  void modify(int fd, uint32_t events, uint64_t cookie);
  // Waits at most timeout_ms; returns the number of events in events().
  int wait(int timeout_ms);
  const epoll_event& event(int i) const { return events_[i]; }

 private:
  int fd_;
  epoll_event events_[256];
};

// Opens a non-blocking TCP socket with TCP_NODELAY, binds it to source
// (when given; the port is still chosen at connect time) and starts
// connecting it to target. Returns the fd, or -1 with *err set to the errno.
int start_tcp_connect(const Target& target, const Target* source, int* err);
// The pending error of a socket (SO_ERROR), 0 when none.
int socket_error(int fd);

// Milliseconds to wait in epoll so as to wake up by deadline_ns (at least 0,
// at most max_ms).
int wait_ms_until(int64_t deadline_ns, int64_t now, int max_ms);

// The runs; each returns when the measured phase is over.
Stats run_udp(const Options& opts, const Target& target);
// sources: parsed Options::sources (may be empty).
Stats run_tcp(const Options& opts, const Target& target, const std::vector<Target>& sources);
Stats run_churn(const Options& opts, const Target& target, const std::vector<Target>& sources);
// The secure modes (secure_common.h): DTLS sessions x window, TLS
// connections x window, and DTLS handshake churn.
Stats run_dtls(const Options& opts, const Target& target);
Stats run_tls(const Options& opts, const Target& target, const std::vector<Target>& sources);
Stats run_dtls_churn(const Options& opts, const Target& target);

// Round-robin over source addresses; nullptr when there are none.
class SourcePicker {
 public:
  explicit SourcePicker(const std::vector<Target>& sources) : sources_(sources) {}
  const Target* next() {
    if (sources_.empty()) return nullptr;
    const Target* t = &sources_[next_];
    next_ = (next_ + 1) % sources_.size();
    return t;
  }

 private:
  const std::vector<Target>& sources_;
  std::size_t next_ = 0;
};

}  // namespace bench
