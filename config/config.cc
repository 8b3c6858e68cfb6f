// coapd's flags and config file. One table, kOptions, describes every option
// once: its name (flag and config key), its help text, how its default is
// shown and how a value is applied to a Config. The command line (tokenised
// by CLI11), the config file (read by CLI11's TOML reader) and --help are all
// driven by that table, so they cannot drift apart.
//
// Values are checked by our own code (values.cc) rather than by CLI11
// validators so that every error is one line in one format, whether it comes
// from a flag or a key:
//   coapd: --address: '300.1.2.3/24' is not an IPv4 address with prefix ...
//   coapd: config file /x.conf: address: '300.1.2.3/24' is not an IPv4 ...
#include "config/config.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string_view>

#include "config/values_internal.h"

#ifndef COAPD_VERSION
#error "COAPD_VERSION must be defined by the build (config/CMakeLists.txt)"
#endif

namespace config {
namespace {

using namespace detail;

constexpr std::string_view kVersion = COAPD_VERSION;

// Upper bounds that keep derived durations (RFC 7252 MAX_TRANSMIT_WAIT is
// ACK_TIMEOUT * (2^(MAX_RETRANSMIT+1) - 1) * ACK_RANDOM_FACTOR) well inside a
// nanosecond steady_clock.
constexpr double kMaxAckTimeout = 300.0;
constexpr double kMaxAckRandomFactor = 10.0;
constexpr uint64_t kMaxRetransmit = 20;
constexpr uint64_t kMinMessageSize = 1152;  // RFC 8323 section 5.3.1 base value
constexpr uint64_t kMinQueuedBytes = 1024;

const std::vector<std::string_view> kLogLevels = {"trace", "debug",    "info", "warn",
                                                  "error", "critical", "off"};

// ---------------------------------------------------------------------------
// The option table.

enum class Group { kGeneral, kNetwork, kUdp, kTcp, kSessions, kControl };

constexpr std::string_view group_title(Group g) {
  switch (g) {
    case Group::kGeneral:
      return "General";
    case Group::kNetwork:
      return "Network";
    case Group::kUdp:
      return "CoAP over UDP (RFC 7252)";
    case Group::kTcp:
      return "CoAP over TCP (RFC 8323)";
    case Group::kSessions:
      return "Outgoing sessions";
    case Group::kControl:
      return "Control and logging";
  }
  return "";
}

enum class Kind {
  kValue,       // --name VALUE, once
  kFlag,        // --name (or --name=true/false; `name = true` in the file)
  kRepeatable,  // --name VALUE, any number of times
};

struct OptionSpec {
  std::string_view name;  // flag without "--", and config key
  std::string_view arg;   // placeholder in --help; empty for flags
  Group group;
  Kind kind;
  std::string_view help;
  // The default as --help shows it, from a default-constructed Config.
  std::string (*show)(const Config&);
  // Applies one value; for kRepeatable, appends it.
  Problem (*apply)(const std::string& value, Config& c);
};

std::string show_none(const Config&) { return "none"; }

const std::vector<OptionSpec> kOptions = {
    // --config is handled by parse() itself: it cannot be a config key.
    {"config", "FILE", Group::kGeneral, Kind::kValue,
     "Read options from the config file FILE (see FILES). Options given on the command line "
     "override the file. Without --config no file is read.",
     show_none, nullptr},

    // Network.
    {"tap", "NAME", Group::kNetwork, Kind::kValue,
     "Name of the TAP interface that coapd creates (or attaches to, if it already exists) and "
     "connects its own lwIP stack to; at most 15 characters.",
     [](const Config& c) { return c.tap; },
     [](const std::string& v, Config& c) -> Problem {
       if (auto p = check_interface_name(v)) return p;
       c.tap = v;
       return std::nullopt;
     }},
    {"address", "ADDR/PREFIX", Group::kNetwork, Kind::kValue,
     "IPv4 address and prefix length of coapd's own stack, where it serves CoAP.",
     [](const Config& c) { return c.address.str(); },
     [](const std::string& v, Config& c) -> Problem {
       std::string error;
       auto p = parse_ipv4_prefix(v, &error);
       if (!p) return error;
       c.address = *p;
       return std::nullopt;
     }},
    {"gateway", "ADDR", Group::kNetwork, Kind::kValue,
     "IPv4 default gateway of coapd's stack, for peers outside the --address subnet. Without "
     "it only the local subnet is reachable.",
     show_none,
     [](const std::string& v, Config& c) -> Problem {
       std::string error;
       auto a = parse_ipv4(v, &error);
       if (!a) return error;
       c.gateway = *a;
       return std::nullopt;
     }},
    {"host-address", "ADDR/PREFIX|none", Group::kNetwork, Kind::kValue,
     "IPv4 address and prefix length that coapd gives to the kernel side of the TAP interface, "
     "or 'none' to leave the kernel side's addresses alone (configure them yourself).",
     [](const Config& c) { return c.host_address ? c.host_address->str() : std::string("none"); },
     [](const std::string& v, Config& c) -> Problem {
       if (v == "none") {
         c.host_address.reset();
         return std::nullopt;
       }
       std::string error;
       auto p = parse_ipv4_prefix(v, &error);
       if (!p) {
         return "is not an IPv4 address with prefix length or 'none' (example: 192.0.2.1/24)";
       }
       c.host_address = *p;
       return std::nullopt;
     }},
    {"ipv6", "ADDR/PREFIX", Group::kNetwork, Kind::kValue,
     "IPv6 address and prefix length of coapd's stack, besides its link-local address (which it "
     "always has).",
     show_none,
     [](const std::string& v, Config& c) -> Problem {
       std::string error;
       auto p = parse_ipv6_prefix(v, &error);
       if (!p) return error;
       c.ipv6 = *p;
       return std::nullopt;
     }},
    {"host-ipv6", "ADDR/PREFIX", Group::kNetwork, Kind::kValue,
     "IPv6 address and prefix length that coapd gives to the kernel side of the TAP interface.",
     show_none,
     [](const std::string& v, Config& c) -> Problem {
       std::string error;
       auto p = parse_ipv6_prefix(v, &error);
       if (!p) return error;
       c.host_ipv6 = *p;
       return std::nullopt;
     }},
    {"mac", "MAC", Group::kNetwork, Kind::kValue,
     "Ethernet address of coapd's stack: six colon-separated hex bytes, a unicast address.",
     [](const Config&) {
       return std::string("a locally administered address derived from the TAP name");
     },
     [](const std::string& v, Config& c) -> Problem {
       std::string error;
       auto m = parse_mac(v, &error);
       if (!m) return error;
       c.mac = *m;
       return std::nullopt;
     }},

    // CoAP over UDP.
    {"udp-port", "PORT", Group::kUdp, Kind::kValue,
     "UDP port where coapd serves CoAP over UDP; 0 disables UDP.",
     [](const Config& c) { return std::to_string(c.udp_port); },
     [](const std::string& v, Config& c) { return set_port(v, c.udp_port); }},
    {"ack-timeout", "S", Group::kUdp, Kind::kValue,
     "ACK_TIMEOUT: seconds to wait for the acknowledgement of a Confirmable message before the "
     "first retransmission; each retransmission doubles the wait. Greater than 0, at most 300.",
     [](const Config& c) { return format_number(c.ack_timeout); },
     [](const std::string& v, Config& c) {
       return set_seconds(v, 0.0, false, kMaxAckTimeout, c.ack_timeout);
     }},
    {"ack-random-factor", "F", Group::kUdp, Kind::kValue,
     "ACK_RANDOM_FACTOR: the first wait is chosen at random between ACK_TIMEOUT and ACK_TIMEOUT "
     "times F. At least 1.0, at most 10.",
     [](const Config& c) { return format_number(c.ack_random_factor); },
     [](const std::string& v, Config& c) {
       return parse_real(v, 1.0, true, kMaxAckRandomFactor, "a factor", &c.ack_random_factor);
     }},
    {"max-retransmit", "N", Group::kUdp, Kind::kValue,
     "MAX_RETRANSMIT: retransmissions of a Confirmable message before giving up; 0 to 20.",
     [](const Config& c) { return std::to_string(c.max_retransmit); },
     [](const std::string& v, Config& c) {
       return set_whole(v, 0, kMaxRetransmit, c.max_retransmit);
     }},
    {"max-udp-sessions", "N", Group::kUdp, Kind::kValue,
     "UDP peers remembered at once; when there are more, the least recently active one is "
     "forgotten. At least 1.",
     [](const Config& c) { return std::to_string(c.max_udp_sessions); },
     [](const std::string& v, Config& c) { return set_whole(v, 1, kU32Max, c.max_udp_sessions); }},
    {"udp-session-timeout", "S", Group::kUdp, Kind::kValue,
     "Seconds of silence after which a UDP peer is forgotten; greater than 0.",
     [](const Config& c) { return format_number(c.udp_session_timeout); },
     [](const std::string& v, Config& c) {
       return set_seconds(v, 0.0, false, kMaxSeconds, c.udp_session_timeout);
     }},

    // CoAP over TCP.
    {"tcp-port", "PORT", Group::kTcp, Kind::kValue,
     "TCP port where coapd accepts CoAP-over-TCP connections; 0: no TCP listener.",
     [](const Config& c) { return std::to_string(c.tcp_port); },
     [](const std::string& v, Config& c) { return set_port(v, c.tcp_port); }},
    {"max-tcp-sessions", "N", Group::kTcp, Kind::kValue,
     "TCP sessions at once, incoming and outgoing together. A connection beyond the limit is "
     "sent a CSM and an Abort message and closed. At least 1.",
     [](const Config& c) { return std::to_string(c.max_tcp_sessions); },
     [](const std::string& v, Config& c) { return set_whole(v, 1, kU32Max, c.max_tcp_sessions); }},
    {"tcp-idle-timeout", "S", Group::kTcp, Kind::kValue,
     "Seconds without traffic after which a TCP session is closed: no complete message "
     "received (bytes of an unfinished one do not count) and nothing sent; 0: never.",
     [](const Config& c) { return format_number(c.tcp_idle_timeout); },
     [](const std::string& v, Config& c) {
       return set_seconds(v, 0.0, true, kMaxSeconds, c.tcp_idle_timeout);
     }},
    {"csm-timeout", "S", Group::kTcp, Kind::kValue,
     "Seconds to wait for the peer's CSM (Capabilities and Settings Message) after a connection "
     "opens; a peer that sends none in time is disconnected. Greater than 0.",
     [](const Config& c) { return format_number(c.csm_timeout); },
     [](const std::string& v, Config& c) {
       return set_seconds(v, 0.0, false, kMaxSeconds, c.csm_timeout);
     }},
    {"max-message-size", "BYTES", Group::kTcp, Kind::kValue,
     "Max-Message-Size that coapd announces in its CSM: the largest message it accepts from a "
     "peer. At least 1152.",
     [](const Config& c) { return std::to_string(c.max_message_size); },
     [](const std::string& v, Config& c) {
       return set_whole(v, kMinMessageSize, kU32Max, c.max_message_size);
     }},
    {"max-queued-bytes", "BYTES", Group::kTcp, Kind::kValue,
     "Bytes that may wait, per TCP session, to be sent to a peer that reads slowly. At least "
     "1024.",
     [](const Config& c) { return std::to_string(c.max_queued_bytes); },
     [](const std::string& v, Config& c) {
       return set_whole(v, kMinQueuedBytes, kU32Max, c.max_queued_bytes);
     }},
    {"max-time-wait", "N", Group::kTcp, Kind::kValue,
     "Connections kept in TIME_WAIT (2 x MSL, 120 s, after coapd closed first) at most; beyond "
     "it the oldest are forgotten. A peer that reconnects from the same port with a higher "
     "sequence number reopens its connection at any time. 0 keeps none.",
     [](const Config& c) { return std::to_string(c.max_time_wait); },
     [](const std::string& v, Config& c) { return set_whole(v, 0, kU32Max, c.max_time_wait); }},
    {"call-home-listen", "PORT", Group::kTcp, Kind::kValue,
     "TCP port where coapd accepts call-home connections: the peer that connects is the CoAP "
     "server and coapd the client (RFC 8323 role reversal). 0: off.",
     [](const Config& c) { return std::to_string(c.call_home_listen); },
     [](const std::string& v, Config& c) { return set_port(v, c.call_home_listen); }},

    // Outgoing sessions.
    {"session", "SPEC", Group::kSessions, Kind::kRepeatable,
     "Open an outgoing CoAP-over-TCP session at start-up and keep it open, reconnecting when it "
     "fails; repeatable. SPEC is coap+tcp://HOST[:PORT][/PATH] (HOST an IPv4 address or a "
     "bracketed IPv6 address, PORT 5683 by default) followed by any of these comma-separated "
     "items: 'call-home' (coapd connects, then serves the peer's requests: RFC 8323 role "
     "reversal); 'reconnect-interval=S' (seconds before reconnecting, default 1); "
     "'reconnect-max-interval=S' (when greater than the interval, the wait doubles after each "
     "failed attempt up to S; default 0, no backoff); 'reconnect-attempts=N' (give up after N "
     "failed attempts; default 0, never give up).",
     show_none,
     [](const std::string& v, Config& c) -> Problem {
       std::string error;
       auto s = parse_session(v, &error);
       if (!s) return error;
       c.sessions.push_back(*s);
       return std::nullopt;
     }},
    {"connect-timeout", "S", Group::kSessions, Kind::kValue,
     "Seconds an outgoing TCP connection attempt may take before it counts as failed. Greater "
     "than 0.",
     [](const Config& c) { return format_number(c.connect_timeout); },
     [](const std::string& v, Config& c) {
       return set_seconds(v, 0.0, false, kMaxSeconds, c.connect_timeout);
     }},

    // Control and logging.
    {"control-socket", "PATH", Group::kControl, Kind::kValue,
     "Unix stream socket where coapd accepts coapctl(1) commands.",
     [](const Config& c) { return c.control_socket; },
     [](const std::string& v, Config& c) -> Problem {
       if (auto p = check_socket_path(v)) return p;
       c.control_socket = v;
       return std::nullopt;
     }},
    {"log-level", "LEVEL", Group::kControl, Kind::kValue,
     "Least severe messages logged: trace, debug, info, warn, error, critical or off.",
     [](const Config& c) { return c.log_level; },
     [](const std::string& v, Config& c) -> Problem {
       if (std::find(kLogLevels.begin(), kLogLevels.end(), v) == kLogLevels.end()) {
         return "is not a log level (trace, debug, info, warn, error, critical or off)";
       }
       c.log_level = v;
       return std::nullopt;
     }},
    {"cpu-placement", "MODE", Group::kControl, Kind::kValue,
     "Where the io thread and the CoAP engine thread run. 'auto': on one core while the "
     "traffic is mostly CoAP over UDP at a high rate (each datagram is handed from one thread "
     "to the other, and a hand-off across cores costs more than running in parallel gains), "
     "otherwise wherever the scheduler puts them. 'shared': always on one core. 'spread': "
     "never pinned.",
     [](const Config& c) { return c.cpu_placement; },
     [](const std::string& v, Config& c) -> Problem {
       if (v != "auto" && v != "spread" && v != "shared") return "is not auto, spread or shared";
       c.cpu_placement = v;
       return std::nullopt;
     }},
    {"debug-commands", "", Group::kControl, Kind::kFlag,
     "Accept coapctl's debug commands, which can stall coapd on purpose. For tests only.",
     [](const Config& c) { return std::string(c.debug_commands ? "on" : "off"); },
     [](const std::string& v, Config& c) { return set_bool(v, c.debug_commands); }},
};

const OptionSpec* find_option(std::string_view name) {
  for (const auto& o : kOptions) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// --help.

// In help text, joins two words that must not be split across lines
// (`tap = "coap0"`); printed as a space.
constexpr char kNoBreak = 1;

// Appends `text` wrapped to `width` columns, each line indented by `indent`.
// The first line continues from column `col` when that is past the indent.
void append_wrapped(std::string& out, std::string_view text, std::size_t indent,
                    std::size_t col = 0, std::size_t width = 79) {
  if (col < indent) {
    out.append(indent - col, ' ');
    col = indent;
  }
  bool line_start = true;
  while (!text.empty()) {
    const std::size_t space = text.find(' ');
    const std::string_view word = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
    if (!line_start && col + 1 + word.size() > width) {
      out += '\n';
      out.append(indent, ' ');
      col = indent;
      line_start = true;
    }
    if (!line_start) {
      out += ' ';
      ++col;
    }
    for (char c : word) out += c == kNoBreak ? ' ' : c;
    col += word.size();
    line_start = false;
  }
  out += '\n';
}

// A term and its explanation: the text goes under the term, or beside it
// when the term is short (exit codes).
void append_item(std::string& out, std::string_view term, std::string_view text) {
  out.append(4, ' ');
  out += term;
  if (term.size() < 3) {
    append_wrapped(out, text, 8, 4 + term.size());
  } else {
    out += '\n';
    append_wrapped(out, text, 8);
  }
}

std::string help_text() {
  const Config defaults;
  std::string out = "Usage: coapd [OPTION]...\n\n";
  out += "DESCRIPTION\n";
  append_wrapped(
      out,
      "coapd is a CoAP endpoint that runs its own TCP/IP stack (lwIP) in user space, attached "
      "to a Linux TAP interface: the kernel sees an Ethernet link with coapd's stack at the "
      "other end. coapd serves CoAP over UDP (RFC 7252) and CoAP over TCP (RFC 8323) at its own "
      "addresses, and opens outgoing CoAP-over-TCP sessions, including call-home sessions in "
      "which it connects out and then serves the peer's requests. While it runs it is "
      "controlled with coapctl(1) through a Unix control socket: status, statistics, sessions, "
      "events, CoAP requests, connect and close. Creating the TAP interface needs "
      "CAP_NET_ADMIN and access to /dev/net/tun.",
      4);
  out += "\nOPTIONS\n";
  append_wrapped(out,
                 "Every option except --config, --help and --version can also be set in the "
                 "config file, as a key named like the option without its leading dashes "
                 "(tap\x01=\x01\"coap0\"). Options given on the command line override the file.",
                 4);
  std::optional<Group> group;
  for (const auto& o : kOptions) {
    if (group != o.group) {
      group = o.group;
      out += "\n  ";
      out += group_title(o.group);
      out += ":\n";
      if (o.group == Group::kGeneral) {
        append_item(out, "-h, --help", "Print this help and exit.");
        append_item(out, "--version", "Print \"coapd " + std::string(kVersion) + "\" and exit.");
      }
    }
    std::string term = "--" + std::string(o.name);
    if (!o.arg.empty()) term += " " + std::string(o.arg);
    append_item(out, term, std::string(o.help) + " Default: " + o.show(defaults) + ".");
  }

  out += "\nFILES\n";
  append_item(out, "/etc/coapd/coapd.conf",
              "The config file, read when coapd is started with --config /etc/coapd/coapd.conf. "
              "One key\x01=\x01value per line; '#' starts a comment; strings are quoted "
              "(tap\x01=\x01\"coap0\"), numbers are not (udp-port\x01=\x01"
              "5683), a flag is true "
              "or false (debug-commands\x01=\x01true). Keys may also be written with "
              "underscores (host_address). Sessions are a list, "
              "session\x01=\x01[\"coap+tcp://192.0.2.1,call-home\", "
              "\"coap+tcp://[2001:db8::1]:5684\"], or one session\x01=\x01\"...\" line each. An "
              "unknown key is an error. The installed file lists every key with its default, "
              "commented out.");
  append_item(out, defaults.control_socket,
              "The control socket (--control-socket), where coapctl(1) connects.");

  out += "\nEXIT STATUS\n";
  append_item(out, "0", "Clean shutdown on SIGTERM or SIGINT, or --help or --version.");
  append_item(out, "1",
              "Runtime failure, such as failing to create the TAP interface or the "
              "control socket.");
  append_item(out, "2",
              "Bad configuration: an unknown option or key, a bad value, or a config "
              "file that cannot be read. One line on standard error names it.");

  out += "\nEXAMPLES\n";
  append_item(out, "coapd",
              "Serve CoAP on 192.0.2.2, UDP and TCP port 5683, behind the TAP interface coap0 "
              "whose kernel side is 192.0.2.1/24.");
  append_item(out, "coapd --config /etc/coapd/coapd.conf --log-level debug",
              "Take the settings from the config file, but log more.");
  append_item(out, "coapd --tap coap1 --address 10.9.0.2/24 --host-address 10.9.0.1/24",
              "A second instance, on its own interface and subnet.");
  append_item(out, "coapd --ipv6 fd00:9::2/64 --host-ipv6 fd00:9::1/64",
              "Serve on IPv6 at fd00:9::2 too, with the kernel side at fd00:9::1.");
  append_item(out, "coapd --host-address none",
              "Leave the kernel side of coap0 without addresses, for instance to put it in a "
              "bridge.");
  append_item(out,
              "coapd --session 'coap+tcp://192.0.2.1:5683,call-home,reconnect-max-interval=60'",
              "Connect to 192.0.2.1 at start-up and serve its requests on that connection, "
              "reconnecting with backoff up to a minute when it fails.");
  append_item(out, "coapctl status", "Ask the running coapd for its state.");

  out += "\nSEE ALSO\n";
  append_wrapped(out, "coapctl(1), RFC 7252, RFC 8323.", 4);
  return out;
}

// ---------------------------------------------------------------------------
// Sources of values.

// An error: exit status 2 and one line. Control characters that came with a
// value (`--tap $'a\nb'`) are escaped so that the line stays one line.
ParseResult failure(const std::string& message) {
  std::string line = "coapd: ";
  for (unsigned char c : message) {
    if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      line += "\\x";
      line += kHex[c >> 4];
      line += kHex[c & 15];
    } else {
      line += static_cast<char>(c);
    }
  }
  return {false, 2, line + "\n"};
}

// The first line of a CLI11 error, in our words where we know them.
std::string describe_cli_error(const CLI::ParseError& e) {
  std::string what = e.what();
  what = what.substr(0, what.find('\n'));
  const std::size_t colon = what.find(':');
  if (e.get_name() == "ArgumentMismatch" && what.rfind("--", 0) == 0 &&
      colon != std::string::npos) {
    const std::string flag = what.substr(0, colon);
    if (what.find("missing") != std::string::npos) {
      const OptionSpec* o = find_option(flag.substr(2));
      return flag + ": missing value" +
             (o && !o->arg.empty() ? " (expected " + std::string(o->arg) + ")" : "");
    }
    if (what.find("At Most") != std::string::npos) return flag + ": given more than once";
  }
  return what;
}

// Applies the config file at `path` to `cfg`. Returns an error message
// (without the "coapd: " prefix) on failure.
std::optional<std::string> apply_file(const std::string& path, Config& cfg) {
  const std::string where = "config file " + path + ": ";
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return where + "is a directory";
  std::ifstream in(path);
  if (!in) return where + "cannot be read: " + std::strerror(errno);

  std::vector<CLI::ConfigItem> items;
  try {
    items = CLI::ConfigTOML().from_config(in);
  } catch (const CLI::Error& e) {
    std::string what = e.what();
    return where + what.substr(0, what.find('\n'));
  }
  if (in.bad()) return where + "read error";

  std::set<const OptionSpec*> seen;
  for (const CLI::ConfigItem& item : items) {
    if (item.name == "++" || item.name == "--") {
      // CLI11's markers for entering and leaving a [section].
      std::string section;
      for (const auto& p : item.parents) section += (section.empty() ? "" : ".") + p;
      return where + "unknown section [" + section + "]";
    }
    const std::string key = item.fullname();
    if (!item.parents.empty()) return where + "unknown key '" + key + "'";
    std::string name = key;
    std::replace(name.begin(), name.end(), '_', '-');
    if (name == "config") return where + key + ": only allowed on the command line (--config)";
    const OptionSpec* o = find_option(name);
    if (o == nullptr) return where + "unknown key '" + key + "'";
    if (o->kind != Kind::kRepeatable) {
      if (!seen.insert(o).second) return where + key + ": given more than once";
      if (item.inputs.size() != 1) {
        return where + key + ": takes one value, not " + std::to_string(item.inputs.size()) +
               " (a list, or the key repeated on consecutive lines)";
      }
    }
    for (const std::string& value : item.inputs) {
      // CLI11 2.1 reads `[ "a" , "b" ]` (a space before a comma) as "a", "",
      // "b": skip such empty list entries rather than blame the user.
      if (value.empty() && item.inputs.size() > 1) continue;
      if (auto p = o->apply(value, cfg)) {
        // An unquoted `session = coap+tcp://h,call-home` is split at the comma.
        const bool unquoted = o->kind == Kind::kRepeatable &&
                              value.find("://") == std::string::npos && item.inputs.size() > 1;
        return where + key + ": '" + value + "' " + *p +
               (unquoted ? " (quote each session: session = \"coap+tcp://HOST,call-home\")" : "");
      }
    }
  }
  return std::nullopt;
}

}  // namespace

ParseResult parse(int argc, const char* const* argv, Config& out) {
  CLI::App app("", "coapd");
  app.set_help_flag("-h,--help");
  app.allow_extras(true);  // reported below, in our words
  std::vector<CLI::Option*> flags;
  for (const auto& o : kOptions) {
    const std::string flag = "--" + std::string(o.name);
    CLI::Option* opt = o.kind == Kind::kFlag ? app.add_flag(flag) : app.add_option(flag);
    if (o.kind == Kind::kRepeatable) {
      opt->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    }
    flags.push_back(opt);
  }
  CLI::Option* version = app.add_flag("--version");

  try {
    if (argc > 0) app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return {false, 0, help_text()};
  } catch (const CLI::ParseError& e) {
    return failure(describe_cli_error(e));
  }
  if (version->count() > 0) return {false, 0, "coapd " + std::string(kVersion) + "\n"};
  std::vector<std::string> extras = app.remaining();
  std::erase(extras, "--");  // the end-of-options marker, harmless here
  if (!extras.empty()) {
    const std::string& arg = extras.front();
    if (arg.size() > 1 && arg[0] == '-') {
      return failure(arg.substr(0, arg.find('=')) + ": unknown option (see coapd --help)");
    }
    return failure("unexpected argument '" + arg + "' (coapd takes no arguments, only options)");
  }

  Config cfg;
  const CLI::Option* config_flag = app.get_option("--config");
  if (config_flag->count() > 0) {
    cfg.config_file = config_flag->results().front();
    if (cfg.config_file->empty()) return failure("--config: missing file name");
    if (auto error = apply_file(*cfg.config_file, cfg)) return failure(*error);
  }

  for (std::size_t i = 0; i < kOptions.size(); ++i) {
    const OptionSpec& o = kOptions[i];
    if (o.apply == nullptr || flags[i]->count() == 0) continue;
    // Sessions given on the command line replace those from the file.
    if (o.kind == Kind::kRepeatable) cfg.sessions.clear();
    for (const std::string& value : flags[i]->results()) {
      if (auto p = o.apply(value, cfg)) {
        return failure("--" + std::string(o.name) + ": '" + value + "' " + *p);
      }
    }
  }
  out = std::move(cfg);
  return {};
}

}  // namespace config
