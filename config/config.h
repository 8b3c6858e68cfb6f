// coapd's configuration: the model, its embedded defaults, and parsing from
// the command line and a config file (CLI11). Every flag is also a config
// file key (the long flag name without the dashes, e.g. `tap = "coap0"`);
// flags given on the command line win over the file.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "coap/resource_spec.h"
#include "coap/result.h"
#include "coap/security.h"

namespace config {

struct Ipv4Prefix {
  std::array<uint8_t, 4> addr{};
  uint8_t prefix_len = 32;
  std::string str() const;  // "192.0.2.2/24"
  bool operator==(const Ipv4Prefix&) const = default;
};

struct Ipv6Prefix {
  std::array<uint8_t, 16> addr{};
  uint8_t prefix_len = 128;
  std::string str() const;  // "fd00:c0a9::2/64"
  bool operator==(const Ipv6Prefix&) const = default;
};

// An outgoing session opened at start-up (key `session`, repeatable).
// Written as
//   "coap+tcp://192.0.2.1:5683[,call-home][,reconnect-interval=S]
//    [,reconnect-max-interval=S][,reconnect-attempts=N]"
// or over TLS, "coaps+tcp://...[,psk-identity=ID,psk-key=KEY][,insecure]".
struct SessionConfig {
  std::string uri;  // validated: coap+tcp:// or coaps+tcp:// with an IP literal host
  bool call_home = false;
  double reconnect_interval = 1.0;          // seconds, > 0
  double reconnect_max_interval = 0.0;      // seconds; > interval enables backoff
  uint32_t reconnect_attempts = 0;          // 0: forever
  std::optional<std::string> psk_identity;  // coaps+tcp: instead of --client-psk-identity
  std::optional<std::vector<uint8_t>> psk_key;
  bool insecure = false;            // coaps+tcp: do not verify the server's certificate
  std::optional<double> keepalive;  // seconds, 0 off; instead of --keepalive
  bool operator==(const SessionConfig&) const = default;
};

struct Config {
  std::optional<std::string> config_file;

  // Network.
  std::string tap = "coap0";
  Ipv4Prefix address{{192, 0, 2, 2}, 24};
  std::optional<std::array<uint8_t, 4>> gateway;
  // The kernel side of the TAP; nullopt when `--host-address none`.
  std::optional<Ipv4Prefix> host_address = Ipv4Prefix{{192, 0, 2, 1}, 24};
  // Set when --address, --host-address or --gateway is given (flag or key):
  // coapd then never moves to another subnet (daemon/coapd/host_network.h).
  bool address_given = false;
  std::optional<Ipv6Prefix> ipv6;             // besides the link-local address
  std::optional<Ipv6Prefix> host_ipv6;        // given to the kernel side, if set
  std::optional<std::array<uint8_t, 6>> mac;  // default: derived from the TAP name
  uint16_t udp_port = 5683;                   // 0: no UDP
  uint16_t tcp_port = 5683;                   // 0: no TCP listener
  uint16_t call_home_listen = 0;              // 0: off

  // Control and logging.
  std::string control_socket = "/run/coapd/coapd.sock";
  std::string log_level = "info";  // trace debug info warn error critical off
  // --metrics-listen: where GET /metrics is served over HTTP (a kernel socket
  // on the host side); empty host: off.
  struct ListenAddress {
    std::string host;  // "127.0.0.1", "::1" (without brackets)
    uint16_t port = 0;
    std::string str() const;  // "127.0.0.1:9464", "[::1]:9464", "off"
    bool operator==(const ListenAddress&) const = default;
  } metrics_listen;
  bool debug_commands = false;         // enables `coapctl debug ...` (tests only)
  std::string cpu_placement = "auto";  // auto spread shared (daemon/placement.h)
  uint32_t busy_poll_us = 200;         // io thread and engine look for more work before sleeping

  // CoAP over UDP (RFC 7252 4.8).
  double ack_timeout = 2.0;
  double ack_random_factor = 1.5;
  uint32_t max_retransmit = 4;
  uint32_t max_udp_sessions = 4096;
  double udp_session_timeout = 300.0;

  // CoAP over TCP (RFC 8323).
  uint32_t max_tcp_sessions = 256;
  double tcp_idle_timeout = 300.0;  // 0: never
  double keepalive = 0.0;           // seconds; 0: off
  uint32_t keepalive_misses = 2;
  double csm_timeout = 5.0;
  uint32_t max_message_size = 132096;
  uint32_t max_queued_bytes = 1048576;
  double connect_timeout = 10.0;
  uint32_t max_time_wait = 1024;  // lwIP pcbs in TIME_WAIT kept at most

  // DTLS and TLS (coaps://, coaps+tcp://).
  uint16_t dtls_port = 5684;  // 0: no DTLS server
  uint16_t tls_port = 5684;   // 0: no TLS listener
  std::optional<std::string> psk_file;
  std::string psk_hint;
  std::optional<std::string> cert_file;
  std::optional<std::string> key_file;
  std::optional<std::string> ca_file;
  std::optional<std::string> client_psk_identity;
  std::optional<std::vector<uint8_t>> client_psk_key;
  double handshake_timeout = 10.0;
  uint32_t max_handshakes = 64;
  // Read from the files above by parse(), checked, and kept here.
  coap::Credentials credentials;
  // Set by coapd's host network check (daemon/coapd/host_network.h) when it
  // moved off the embedded defaults: why, and what it uses instead.
  std::string address_note;

  std::vector<SessionConfig> sessions;

  // Resources the user defines (key `resource`, repeatable): checked, and
  // with the contents of any file=PATH read into the value.
  std::vector<coap::ResourceSpec> resources;
  uint32_t max_resources = 1000;
  uint32_t max_resource_size = 1 << 20;
  std::string resource_dir;  // --resource-dir; empty: none
  bool multicast = true;     // join the All-CoAP-Nodes groups
  double leisure = 5.0;      // seconds (RFC 7252 8.2)
};

// Outcome of parsing. When `run` is false the caller prints `output` (to
// stdout for --help/--version with exit_code 0, else to stderr) and exits
// with exit_code. A bad flag, value or config key gives exactly one line
// naming it and exit_code 2.
struct ParseResult {
  bool run = true;
  int exit_code = 0;
  std::string output;
};

ParseResult parse(int argc, const char* const* argv, Config& out);

// Parsers of single values, used by parse() and by tests: "a.b.c.d/len",
// "addr/len" (IPv6), "a.b.c.d", a MAC "02:00:..", a session spec. The error
// is a phrase completing "'<value>' ...".
coap::Result<Ipv4Prefix> parse_ipv4_prefix(const std::string& s);
coap::Result<Ipv6Prefix> parse_ipv6_prefix(const std::string& s);
coap::Result<std::array<uint8_t, 4>> parse_ipv4(const std::string& s);
coap::Result<std::array<uint8_t, 6>> parse_mac(const std::string& s);
coap::Result<SessionConfig> parse_session(const std::string& s);

// A PSK file: one credential per line, "IDENTITY KEY" (white space between;
// KEY as text, or hex after "0x"); '#' starts a comment; blank lines are
// skipped. The error names the line.
coap::Result<std::vector<coap::PskEntry>> parse_psk_lines(const std::string& text);

// Resource entries as a whole: paths unique and not built in, file=PATH
// read (at most max_resource_size bytes), no more than max_resources. The
// error is a sentence naming the entry.
coap::Status check_resources(Config& c);
// The keys (option names without dashes, in table order) whose values
// differ between a and b: what a reload changes.
std::vector<std::string> changed_options(const Config& a, const Config& b);

// Every session's link-local zone names the TAP (the daemon reaches such
// peers through it alone); the error is a sentence naming the session.
coap::Status check_session_zones(const Config& c);

}  // namespace config
