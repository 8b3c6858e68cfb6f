// Tests for config/: coapd's flags, config file and --help, through parse()
// as main() calls it, plus the value parsers on their own.
#include "config/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace config {
namespace {

// Every option that is also a config key, as the user sees it.
const std::vector<std::string> kKeys = {
    "tap",
    "address",
    "gateway",
    "host-address",
    "ipv6",
    "host-ipv6",
    "mac",
    "udp-port",
    "tcp-port",
    "call-home-listen",
    "control-socket",
    "log-level",
    "debug-commands",
    "ack-timeout",
    "ack-random-factor",
    "max-retransmit",
    "max-udp-sessions",
    "udp-session-timeout",
    "max-tcp-sessions",
    "tcp-idle-timeout",
    "csm-timeout",
    "max-message-size",
    "max-queued-bytes",
    "connect-timeout",
    "session",
    "resource",
    "max-resources",
    "max-resource-size",
};

// Every field of a Config, one per line, so that a mismatch shows which.
std::string describe(const Config& c) {
  std::ostringstream o;
  auto opt4 = [](const std::optional<std::array<uint8_t, 4>>& a) {
    return a ? Ipv4Prefix{*a, 32}.str() : std::string("-");
  };
  o << "config_file=" << c.config_file.value_or("-") << "\n"
    << "tap=" << c.tap << "\naddress=" << c.address.str() << "\ngateway=" << opt4(c.gateway)
    << "\nhost_address=" << (c.host_address ? c.host_address->str() : "-")
    << "\nipv6=" << (c.ipv6 ? c.ipv6->str() : "-")
    << "\nhost_ipv6=" << (c.host_ipv6 ? c.host_ipv6->str() : "-") << "\nmac=";
  if (c.mac) {
    for (uint8_t b : *c.mac) o << int(b) << ".";
  }
  o << "\nudp_port=" << c.udp_port << "\ntcp_port=" << c.tcp_port
    << "\ncall_home_listen=" << c.call_home_listen << "\ncontrol_socket=" << c.control_socket
    << "\nlog_level=" << c.log_level << "\ndebug_commands=" << c.debug_commands
    << "\nack_timeout=" << c.ack_timeout << "\nack_random_factor=" << c.ack_random_factor
    << "\nmax_retransmit=" << c.max_retransmit << "\nmax_udp_sessions=" << c.max_udp_sessions
    << "\nudp_session_timeout=" << c.udp_session_timeout
    << "\nmax_tcp_sessions=" << c.max_tcp_sessions << "\ntcp_idle_timeout=" << c.tcp_idle_timeout
    << "\ncsm_timeout=" << c.csm_timeout << "\nmax_message_size=" << c.max_message_size
    << "\nmax_queued_bytes=" << c.max_queued_bytes << "\nconnect_timeout=" << c.connect_timeout
    << "\nmax_time_wait=" << c.max_time_wait << "\ncpu_placement=" << c.cpu_placement
    << "\nbusy_poll_us=" << c.busy_poll_us;
  o << "\nmax_resources=" << c.max_resources << "\nmax_resource_size=" << c.max_resource_size;
  for (const auto& r : c.resources)
    o << "\nresource=" << r.path << " ct=" << r.ct << " obs=" << r.observable
      << " methods=" << coap::methods_text(r.methods)
      << " value=" << std::string(r.value.begin(), r.value.end());
  for (const auto& s : c.sessions) {
    o << "\nsession=" << s.uri << " call_home=" << s.call_home
      << " interval=" << s.reconnect_interval << " max_interval=" << s.reconnect_max_interval
      << " attempts=" << s.reconnect_attempts;
  }
  return o.str() + "\n";
}

struct Parsed {
  ParseResult result;
  Config config;
};

Parsed run(const std::vector<std::string>& args) {
  std::vector<const char*> argv = {"coapd"};
  for (const auto& a : args) argv.push_back(a.c_str());
  Parsed p;
  p.result = parse(static_cast<int>(argv.size()), argv.data(), p.config);
  return p;
}

// A config file in the test's temporary directory, removed at scope exit.
class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    static int counter = 0;
    path_ = testing::TempDir() + "coapd_config_test_" + std::to_string(getpid()) + "_" +
            std::to_string(counter++) + ".conf";
    std::ofstream(path_) << contents;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Parsed run_file(const std::string& contents, std::vector<std::string> args = {}) {
  TempFile f(contents);
  args.insert(args.begin(), {"--config", f.path()});
  return run(args);
}

// A failed parse: exit 2 and exactly one line, "coapd: ...\n", naming `name`.
void expect_one_line_error(const Parsed& p, const std::string& name) {
  SCOPED_TRACE(p.result.output);
  EXPECT_FALSE(p.result.run);
  EXPECT_EQ(p.result.exit_code, 2);
  const std::string& out = p.result.output;
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.rfind("coapd: ", 0), 0u);
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
  EXPECT_NE(out.find(name), std::string::npos) << "does not name " << name;
}

Config defaults_with_file(const std::string& path) {
  Config c;
  c.config_file = path;
  return c;
}

// `s` with every run of white space (line breaks of wrapped text) as one space.
std::string flatten(const std::string& s) {
  std::string out;
  for (char c : s) {
    const bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
    if (!space) {
      out += c;
    } else if (out.empty() || out.back() != ' ') {
      out += ' ';
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Defaults, --help, --version.

TEST(ConfigParse, NoArgumentsGivesTheEmbeddedDefaults) {
  Parsed p = run({});
  EXPECT_TRUE(p.result.run);
  EXPECT_EQ(p.result.exit_code, 0);
  EXPECT_EQ(p.result.output, "");
  EXPECT_EQ(describe(p.config), describe(Config{}));
}

TEST(ConfigParse, EmbeddedDefaults) {
  const Config c;
  EXPECT_EQ(c.tap, "coap0");
  EXPECT_EQ(c.address.str(), "192.0.2.2/24");
  ASSERT_TRUE(c.host_address);
  EXPECT_EQ(c.host_address->str(), "192.0.2.1/24");
  EXPECT_EQ(c.udp_port, 5683);
  EXPECT_EQ(c.tcp_port, 5683);
  EXPECT_EQ(c.control_socket, "/run/coapd/coapd.sock");
  EXPECT_EQ(c.log_level, "info");
}

TEST(ConfigParse, MetricsListenIsOffByDefaultAndTakesIpv4OrBracketedIpv6) {
  EXPECT_EQ(Config{}.metrics_listen.str(), "off");
  Parsed v4 = run({"--metrics-listen", "127.0.0.1:9464"});
  ASSERT_TRUE(v4.result.run) << v4.result.output;
  EXPECT_EQ(v4.config.metrics_listen.host, "127.0.0.1");
  EXPECT_EQ(v4.config.metrics_listen.port, 9464);
  Parsed v6 = run({"--metrics-listen", "[::1]:9100"});
  ASSERT_TRUE(v6.result.run) << v6.result.output;
  EXPECT_EQ(v6.config.metrics_listen.host, "::1");
  EXPECT_EQ(v6.config.metrics_listen.str(), "[::1]:9100");
  EXPECT_EQ(run({"--metrics-listen", "off"}).config.metrics_listen.str(), "off");
}

TEST(ConfigParse, ArgcZeroGivesDefaults) {
  Config c;
  c.tap = "changed";
  ParseResult r = parse(0, nullptr, c);
  EXPECT_TRUE(r.run);
  EXPECT_EQ(describe(c), describe(Config{}));
}

TEST(ConfigParse, Version) {
  Parsed p = run({"--version"});
  EXPECT_FALSE(p.result.run);
  EXPECT_EQ(p.result.exit_code, 0);
  EXPECT_EQ(p.result.output, "coapd 0.1.0\n");
}

TEST(ConfigParse, HelpMentionsEveryOptionAndSection) {
  for (const char* flag : {"--help", "-h"}) {
    Parsed p = run({flag});
    EXPECT_FALSE(p.result.run);
    EXPECT_EQ(p.result.exit_code, 0);
    const std::string& help = p.result.output;
    for (const auto& key : kKeys) {
      const bool listed = help.find("\n    --" + key + " ") != std::string::npos ||
                          help.find("\n    --" + key + "\n") != std::string::npos;
      EXPECT_TRUE(listed) << "--help does not list --" << key;
    }
    for (const char* text : {"Usage: coapd",
                             "--config FILE",
                             "--help",
                             "--version",
                             "Network:",
                             "CoAP over UDP",
                             "CoAP over TCP",
                             "Outgoing sessions:",
                             "Resources:",
                             "Control and logging:",
                             "FILES",
                             "/etc/coapd/coapd.conf",
                             "/run/coapd/coapd.sock",
                             "EXIT STATUS",
                             "EXAMPLES",
                             "RFC 7252",
                             "RFC 8323",
                             "lwIP",
                             "TAP",
                             "coapctl",
                             "SIGTERM",
                             "SIGINT",
                             "Default: coap0.",
                             "Default: 192.0.2.2/24.",
                             "Default: 192.0.2.1/24.",
                             "Default: 5683.",
                             "Default: /run/coapd/coapd.sock.",
                             "Default: info.",
                             "Default: 132096.",
                             "Default: 1048576.",
                             "Default: 1.5.",
                             "'none'",
                             "call-home",
                             "reconnect-interval=S",
                             "reconnect-max-interval=S",
                             "reconnect-attempts=N",
                             "trace, debug, info, warn, error, "
                             "critical or off",
                             "At least 1152.",
                             "At least 1024.",
                             "0: never."}) {
      EXPECT_NE(flatten(help).find(text), std::string::npos) << "--help lacks: " << text;
    }
  }
}

TEST(ConfigParse, HelpWinsOverOtherProblems) {
  for (auto args : std::vector<std::vector<std::string>>{{"--bogus", "--help"},
                                                         {"--help", "--address", "nonsense"},
                                                         {"--config", "/nonexistent", "--help"}}) {
    Parsed p = run(args);
    EXPECT_FALSE(p.result.run);
    EXPECT_EQ(p.result.exit_code, 0) << p.result.output;
    EXPECT_EQ(p.result.output.rfind("Usage: coapd", 0), 0u);
  }
}

TEST(ConfigParse, HelpLinesFitTheTerminal) {
  std::istringstream help(run({"--help"}).result.output);
  for (std::string line; std::getline(help, line);) {
    EXPECT_LE(line.size(), 90u) << line;
    EXPECT_EQ(line.find('\x01'), std::string::npos) << line;
  }
}

// ---------------------------------------------------------------------------
// Each flag.

struct FlagCase {
  std::vector<std::string> args;
  std::function<void(Config&)> expect;  // applied to a default Config
};

TEST(ConfigParse, EachFlag) {
  const std::vector<FlagCase> cases = {
      {{"--tap", "tap7"}, [](Config& c) { c.tap = "tap7"; }},
      {{"--tap=tap8"}, [](Config& c) { c.tap = "tap8"; }},
      {{"--address", "10.1.2.3/16"},
       [](Config& c) {
         c.address = {{10, 1, 2, 3}, 16};
       }},
      {{"--gateway", "10.1.0.1"},
       [](Config& c) {
         c.gateway = {{10, 1, 0, 1}};
       }},
      {{"--host-address", "10.1.2.4/16"},
       [](Config& c) {
         c.host_address = {{{10, 1, 2, 4}, 16}};
       }},
      {{"--host-address", "none"}, [](Config& c) { c.host_address.reset(); }},
      {{"--ipv6", "fd00:c0a9::2/64"},
       [](Config& c) {
         c.ipv6 = Ipv6Prefix{{0xfd, 0, 0xc0, 0xa9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, 64};
       }},
      {{"--host-ipv6", "2001:db8::1/48"},
       [](Config& c) {
         c.host_ipv6 = Ipv6Prefix{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 48};
       }},
      {{"--mac", "02:aB:cd:00:11:ff"},
       [](Config& c) {
         c.mac = {{0x02, 0xab, 0xcd, 0x00, 0x11, 0xff}};
       }},
      {{"--udp-port", "0"}, [](Config& c) { c.udp_port = 0; }},
      {{"--udp-port", "65535"}, [](Config& c) { c.udp_port = 65535; }},
      {{"--tcp-port", "5684"}, [](Config& c) { c.tcp_port = 5684; }},
      {{"--call-home-listen", "5685"}, [](Config& c) { c.call_home_listen = 5685; }},
      {{"--control-socket", "/tmp/x.sock"}, [](Config& c) { c.control_socket = "/tmp/x.sock"; }},
      {{"--log-level", "trace"}, [](Config& c) { c.log_level = "trace"; }},
      {{"--log-level", "off"}, [](Config& c) { c.log_level = "off"; }},
      {{"--debug-commands"}, [](Config& c) { c.debug_commands = true; }},
      {{"--debug-commands=false"}, [](Config& c) { c.debug_commands = false; }},
      {{"--ack-timeout", "0.5"}, [](Config& c) { c.ack_timeout = 0.5; }},
      {{"--ack-random-factor", "1"}, [](Config& c) { c.ack_random_factor = 1.0; }},
      {{"--max-retransmit", "0"}, [](Config& c) { c.max_retransmit = 0; }},
      {{"--max-udp-sessions", "10"}, [](Config& c) { c.max_udp_sessions = 10; }},
      {{"--udp-session-timeout", "60"}, [](Config& c) { c.udp_session_timeout = 60; }},
      {{"--max-tcp-sessions", "3"}, [](Config& c) { c.max_tcp_sessions = 3; }},
      {{"--tcp-idle-timeout", "0"}, [](Config& c) { c.tcp_idle_timeout = 0; }},
      {{"--csm-timeout", "1.25"}, [](Config& c) { c.csm_timeout = 1.25; }},
      {{"--max-message-size", "1152"}, [](Config& c) { c.max_message_size = 1152; }},
      {{"--max-queued-bytes", "1024"}, [](Config& c) { c.max_queued_bytes = 1024; }},
      {{"--connect-timeout", "3"}, [](Config& c) { c.connect_timeout = 3; }},
      {{"--max-time-wait", "0"}, [](Config& c) { c.max_time_wait = 0; }},
      {{"--cpu-placement", "spread"}, [](Config& c) { c.cpu_placement = "spread"; }},
      {{"--cpu-placement", "shared"}, [](Config& c) { c.cpu_placement = "shared"; }},
      {{"--busy-poll", "0"}, [](Config& c) { c.busy_poll_us = 0; }},
      {{"--busy-poll", "10000"}, [](Config& c) { c.busy_poll_us = 10000; }},
      {{"--max-time-wait", "10"}, [](Config& c) { c.max_time_wait = 10; }},
      {{"--session", "coap+tcp://192.0.2.1"},
       [](Config& c) { c.sessions = {SessionConfig{.uri = "coap+tcp://192.0.2.1"}}; }},
      {{"--session", "coap+tcp://192.0.2.1:5683,call-home", "--session=coap+tcp://[::1]:1"},
       [](Config& c) {
         c.sessions = {SessionConfig{.uri = "coap+tcp://192.0.2.1:5683", .call_home = true},
                       SessionConfig{.uri = "coap+tcp://[::1]:1"}};
       }},
  };
  for (const auto& fc : cases) {
    SCOPED_TRACE(fc.args.front());
    Parsed p = run(fc.args);
    ASSERT_TRUE(p.result.run) << p.result.output;
    Config want;
    fc.expect(want);
    EXPECT_EQ(describe(p.config), describe(want));
  }
}

TEST(ConfigParse, FailureLeavesTheOutputUntouched) {
  std::vector<const char*> argv = {"coapd", "--tap", "x", "--udp-port", "99999"};
  Config c;
  c.tap = "mine";
  ParseResult r = parse(static_cast<int>(argv.size()), argv.data(), c);
  EXPECT_FALSE(r.run);
  EXPECT_EQ(c.tap, "mine");
}

// ---------------------------------------------------------------------------
// Errors: exit 2, one line naming the flag or key.

TEST(ConfigParse, BadFlagsGiveOneLineNamingTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--tapp", "x"}, "--tapp"},
      {{"--tapp=x"}, "--tapp"},
      {{"-x"}, "-x"},
      {{"stray"}, "stray"},
      {{"--tap"}, "--tap"},
      {{"--tap", "a", "--tap", "b"}, "--tap"},
      {{"--tap", ""}, "--tap"},
      {{"--tap", "sixteen-chars-xx"}, "--tap"},
      {{"--tap", "a/b"}, "--tap"},
      {{"--address", "300.1.2.3/24"}, "--address"},
      {{"--address", "192.0.2.2"}, "--address"},
      {{"--address", "192.0.2.2/33"}, "--address"},
      {{"--address", "192.0.2/24"}, "--address"},
      {{"--address", "192.0.2.02/24"}, "--address"},
      {{"--address", "fd00::1/64"}, "--address"},
      {{"--gateway", "192.0.2.1/24"}, "--gateway"},
      {{"--gateway", "gw"}, "--gateway"},
      {{"--host-address", "nothing"}, "--host-address"},
      {{"--ipv6", "fd00::1"}, "--ipv6"},
      {{"--ipv6", "fd00::1/129"}, "--ipv6"},
      {{"--ipv6", "192.0.2.1/24"}, "--ipv6"},
      {{"--host-ipv6", "fd00:::1/64"}, "--host-ipv6"},
      {{"--mac", "02:00:00:00:00"}, "--mac"},
      {{"--mac", "02-00-00-00-00-01"}, "--mac"},
      {{"--mac", "03:00:00:00:00:01"}, "--mac"},
      {{"--mac", "00:00:00:00:00:00"}, "--mac"},
      {{"--udp-port", "65536"}, "--udp-port"},
      {{"--udp-port", "-1"}, "--udp-port"},
      {{"--udp-port", "http"}, "--udp-port"},
      {{"--tcp-port", "1.5"}, "--tcp-port"},
      {{"--call-home-listen", "70000"}, "--call-home-listen"},
      {{"--control-socket", ""}, "--control-socket"},
      {{"--control-socket", std::string(108, 's')}, "--control-socket"},
      {{"--log-level", "verbose"}, "--log-level"},
      {{"--log-level", "INFO"}, "--log-level"},
      {{"--metrics-listen", "localhost:9464"}, "--metrics-listen"},
      {{"--metrics-listen", "::1:9464"}, "brackets"},
      {{"--metrics-listen", "127.0.0.1"}, "--metrics-listen"},
      {{"--metrics-listen", "127.0.0.1:0"}, "--metrics-listen"},
      {{"--metrics-listen", "[::1]:65536"}, "--metrics-listen"},
      {{"--debug-commands=maybe"}, "--debug-commands"},
      {{"--ack-timeout", "-1"}, "--ack-timeout"},
      {{"--ack-timeout", "0"}, "--ack-timeout"},
      {{"--ack-timeout", "nan"}, "--ack-timeout"},
      {{"--ack-timeout", "inf"}, "--ack-timeout"},
      {{"--ack-timeout", "2s"}, "--ack-timeout"},
      {{"--ack-random-factor", "0.99"}, "--ack-random-factor"},
      {{"--max-retransmit", "-1"}, "--max-retransmit"},
      {{"--max-retransmit", "21"}, "--max-retransmit"},
      {{"--max-udp-sessions", "0"}, "--max-udp-sessions"},
      {{"--max-udp-sessions", "4294967296"}, "--max-udp-sessions"},
      {{"--udp-session-timeout", "-5"}, "--udp-session-timeout"},
      {{"--max-tcp-sessions", "-3"}, "--max-tcp-sessions"},
      {{"--tcp-idle-timeout", "-1"}, "--tcp-idle-timeout"},
      {{"--csm-timeout", "-0.1"}, "--csm-timeout"},
      {{"--max-message-size", "1151"}, "--max-message-size"},
      {{"--max-queued-bytes", "1023"}, "--max-queued-bytes"},
      {{"--connect-timeout", "-1"}, "--connect-timeout"},
      {{"--session", "coap://192.0.2.1"}, "--session"},
      {{"--session", "coap+tcp://192.0.2.1,bogus"}, "bogus"},
      {{"--session"}, "--session"},
      {{"--config"}, "--config"},
      {{"--config", "/nonexistent/coapd.conf"}, "/nonexistent/coapd.conf"},
  };
  for (const auto& [args, name] : cases) {
    SCOPED_TRACE(testing::PrintToString(args));
    expect_one_line_error(run(args), name);
  }
}

TEST(ConfigParse, ErrorMessagesReadWell) {
  EXPECT_EQ(run({"--address", "300.1.2.3/24"}).result.output,
            "coapd: --address: '300.1.2.3/24' is not an IPv4 address with prefix length "
            "(example: 192.0.2.2/24)\n");
  EXPECT_EQ(run({"--tapp"}).result.output, "coapd: --tapp: unknown option (see coapd --help)\n");
  EXPECT_EQ(run({"--tap"}).result.output, "coapd: --tap: missing value (expected NAME)\n");
  EXPECT_EQ(run({"--log-level", "loud"}).result.output,
            "coapd: --log-level: 'loud' is not a log level (trace, debug, info, warn, error, "
            "critical or off)\n");
  EXPECT_EQ(run({"--cpu-placement", "pinned"}).result.output,
            "coapd: --cpu-placement: 'pinned' is not auto, spread or shared\n");
  EXPECT_EQ(run({"--busy-poll", "10001"}).result.output,
            "coapd: --busy-poll: '10001' is out of range (expected 0 to 10000)\n");
  EXPECT_EQ(run({"--ack-timeout", "-1"}).result.output,
            "coapd: --ack-timeout: '-1' is negative (expected seconds greater than 0 and at most "
            "300)\n");
  EXPECT_EQ(run({"--config", "/nonexistent/coapd.conf"}).result.output,
            "coapd: config file /nonexistent/coapd.conf: cannot be read: No such file or "
            "directory\n");
}

TEST(ConfigParse, ControlCharactersInValuesStayOnOneLine) {
  Parsed p = run({"--tap", "a\nb"});
  expect_one_line_error(p, "--tap");
  EXPECT_NE(p.result.output.find("'a\\x0ab'"), std::string::npos) << p.result.output;
  expect_one_line_error(run({"--session", "coap+tcp://192.0.2.1,x\ny"}), "--session");
  expect_one_line_error(run({"--bogus\n"}), "--bogus");
}

TEST(ConfigParse, EndOfOptionsMarkerIsHarmless) {
  EXPECT_TRUE(run({"--tap", "x", "--"}).result.run);
  expect_one_line_error(run({"--", "extra"}), "extra");
}

// ---------------------------------------------------------------------------
// Config file.

TEST(ConfigFile, EveryKey) {
  TempFile f(R"(# a comment
tap = "tapf"   # trailing comment
address = "10.0.0.2/8"
gateway = "10.0.0.254"
host-address = "10.0.0.1/8"
ipv6 = "fd00::2/64"
host-ipv6 = "fd00::1/64"
mac = "02:00:00:00:00:42"
udp-port = 1
tcp-port = 2
call-home-listen = 3
control-socket = "/tmp/f.sock"
log-level = "warn"
debug-commands = true
ack-timeout = 1.5
ack-random-factor = 2
max-retransmit = 5
max-udp-sessions = 6
udp-session-timeout = 7
max-tcp-sessions = 8
tcp-idle-timeout = 0
csm-timeout = 9
max-message-size = 2000
max-queued-bytes = 3000
connect-timeout = 11
session = ["coap+tcp://10.0.0.1:5683,call-home", "coap+tcp://[fd00::1]:5684,reconnect-attempts=3"]
)");
  Parsed p = run({"--config", f.path()});
  ASSERT_TRUE(p.result.run) << p.result.output;
  Config want;
  want.config_file = f.path();
  want.tap = "tapf";
  want.address = {{10, 0, 0, 2}, 8};
  want.gateway = {{10, 0, 0, 254}};
  want.host_address = {{{10, 0, 0, 1}, 8}};
  want.ipv6 = Ipv6Prefix{{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, 64};
  want.host_ipv6 = Ipv6Prefix{{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 64};
  want.mac = {{2, 0, 0, 0, 0, 0x42}};
  want.udp_port = 1;
  want.tcp_port = 2;
  want.call_home_listen = 3;
  want.control_socket = "/tmp/f.sock";
  want.log_level = "warn";
  want.debug_commands = true;
  want.ack_timeout = 1.5;
  want.ack_random_factor = 2;
  want.max_retransmit = 5;
  want.max_udp_sessions = 6;
  want.udp_session_timeout = 7;
  want.max_tcp_sessions = 8;
  want.tcp_idle_timeout = 0;
  want.csm_timeout = 9;
  want.max_message_size = 2000;
  want.max_queued_bytes = 3000;
  want.connect_timeout = 11;
  want.sessions = {SessionConfig{.uri = "coap+tcp://10.0.0.1:5683", .call_home = true},
                   SessionConfig{.uri = "coap+tcp://[fd00::1]:5684", .reconnect_attempts = 3}};
  EXPECT_EQ(describe(p.config), describe(want));
}

TEST(ConfigFile, UnderscoresAndQuotingVariants) {
  Parsed p = run_file(
      "host_address = \"none\"\nlog_level = 'debug'\nudp_port = \"6000\"\ndebug_commands\n");
  ASSERT_TRUE(p.result.run) << p.result.output;
  EXPECT_FALSE(p.config.host_address);
  EXPECT_EQ(p.config.log_level, "debug");
  EXPECT_EQ(p.config.udp_port, 6000);
  EXPECT_TRUE(p.config.debug_commands);
}

TEST(ConfigFile, HostAddressNone) {
  Parsed p = run_file("host-address = \"none\"\n");
  ASSERT_TRUE(p.result.run) << p.result.output;
  EXPECT_FALSE(p.config.host_address.has_value());
  // And a flag brings it back.
  p = run_file("host-address = \"none\"\n", {"--host-address", "192.0.2.9/24"});
  ASSERT_TRUE(p.result.run) << p.result.output;
  ASSERT_TRUE(p.config.host_address);
  EXPECT_EQ(p.config.host_address->str(), "192.0.2.9/24");
}

TEST(ConfigFile, FlagsOverrideTheFile) {
  Parsed p = run_file(
      "tap = \"fromfile\"\nudp-port = 1000\nlog-level = \"error\"\n"
      "session = \"coap+tcp://192.0.2.7\"\n",
      {"--tap", "fromflag", "--session", "coap+tcp://192.0.2.8,call-home"});
  ASSERT_TRUE(p.result.run) << p.result.output;
  EXPECT_EQ(p.config.tap, "fromflag");
  EXPECT_EQ(p.config.udp_port, 1000);      // only in the file
  EXPECT_EQ(p.config.log_level, "error");  // only in the file
  // Sessions on the command line replace the file's.
  ASSERT_EQ(p.config.sessions.size(), 1u);
  EXPECT_EQ(p.config.sessions[0].uri, "coap+tcp://192.0.2.8");
  EXPECT_TRUE(p.config.sessions[0].call_home);
}

TEST(ConfigFile, FlagsOverrideTheFileWhicheverComesFirst) {
  TempFile f("tap = \"fromfile\"\n");
  Parsed p = run({"--tap", "fromflag", "--config", f.path()});
  ASSERT_TRUE(p.result.run) << p.result.output;
  EXPECT_EQ(p.config.tap, "fromflag");
  EXPECT_EQ(p.config.config_file, f.path());
}

TEST(ConfigFile, SessionForms) {
  const std::vector<std::string> three = {"coap+tcp://192.0.2.1:5683", "coap+tcp://192.0.2.2",
                                          "coap+tcp://[2001:db8::1]:5684/x"};
  const std::vector<std::string> forms = {
      // A list on one line.
      "session = [\"coap+tcp://192.0.2.1:5683,call-home\", \"coap+tcp://192.0.2.2\", "
      "\"coap+tcp://[2001:db8::1]:5684/x\"]\n",
      // A list over several lines.
      "session = [\"coap+tcp://192.0.2.1:5683,call-home\",\n"
      "           \"coap+tcp://192.0.2.2\",\n"
      "           \"coap+tcp://[2001:db8::1]:5684/x\"]\n",
      // Repeated lines, single and double quotes.
      "session = \"coap+tcp://192.0.2.1:5683,call-home\"\n"
      "session = 'coap+tcp://192.0.2.2'\n"
      "session = \"coap+tcp://[2001:db8::1]:5684/x\"\n",
      // Repeated lines with other keys between them.
      "session = \"coap+tcp://192.0.2.1:5683,call-home\"\n"
      "tap = \"x\"\n"
      "session = [\"coap+tcp://192.0.2.2\" , \"coap+tcp://[2001:db8::1]:5684/x\"]\n",
  };
  for (const auto& form : forms) {
    SCOPED_TRACE(form);
    Parsed p = run_file(form);
    ASSERT_TRUE(p.result.run) << p.result.output;
    ASSERT_EQ(p.config.sessions.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(p.config.sessions[i].uri, three[i]);
    EXPECT_TRUE(p.config.sessions[0].call_home);
    EXPECT_FALSE(p.config.sessions[1].call_home);
  }
  Parsed empty = run_file("session = []\n");
  ASSERT_TRUE(empty.result.run) << empty.result.output;
  EXPECT_TRUE(empty.config.sessions.empty());
}

TEST(ConfigFile, ErrorsGiveOneLineNamingTheKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"tapp = \"x\"\n", "unknown key 'tapp'"},
      {"[net]\ntap = \"x\"\n", "[net]"},
      {"net.tap = \"x\"\n", "net.tap"},
      {"help = true\n", "'help'"},
      {"config = \"/etc/other.conf\"\n", "config"},
      {"tap = \"a\"\ntap = \"b\"\n", "tap"},
      {"tap = \"a\"\nudp-port = 1\ntap = \"b\"\n", "tap"},
      {"tap = [\"a\", \"b\"]\n", "tap"},
      {"tap = \n", "tap"},
      {"address = \"300.1.2.3/24\"\n", "address"},
      {"host-address = \"no\"\n", "host-address"},
      {"udp-port = 65536\n", "udp-port"},
      {"ack-timeout = -1\n", "ack-timeout"},
      {"log-level = \"loud\"\n", "log-level"},
      {"debug-commands = maybe\n", "debug-commands"},
      {"session = \"coap+tcp://192.0.2.1,bogus\"\n", "bogus"},
      {"session = coap+tcp://192.0.2.1,call-home\n", "quote each session"},
      {"max_message_size = 100\n", "max_message_size"},
  };
  for (const auto& [contents, name] : cases) {
    SCOPED_TRACE(contents);
    Parsed p = run_file(contents);
    expect_one_line_error(p, name);
    EXPECT_NE(p.result.output.find("config file "), std::string::npos);
  }
  EXPECT_EQ(run_file("tapp = \"x\"\n").result.output.find("coapd: config file "), 0u);
}

TEST(ConfigFile, ExactMessages) {
  TempFile f("tapp = \"x\"\n");
  EXPECT_EQ(run({"--config", f.path()}).result.output,
            "coapd: config file " + f.path() + ": unknown key 'tapp'\n");
  TempFile g("address = \"300.1.2.3/24\"\n");
  EXPECT_EQ(run({"--config", g.path()}).result.output,
            "coapd: config file " + g.path() +
                ": address: '300.1.2.3/24' is not an IPv4 address with prefix length (example: "
                "192.0.2.2/24)\n");
}

TEST(ConfigFile, DirectoryIsAnError) {
  expect_one_line_error(run({"--config", testing::TempDir()}), "is a directory");
}

// The installed /etc/coapd/coapd.conf: as shipped (everything commented out)
// and with every default line uncommented, it gives exactly the defaults.
std::string shipped_conf() {
  std::ifstream in(COAPD_CONF_PATH);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ShippedConfigFile, GivesTheDefaults) {
  Parsed p = run({"--config", COAPD_CONF_PATH});
  ASSERT_TRUE(p.result.run) << p.result.output;
  EXPECT_EQ(describe(p.config), describe(defaults_with_file(COAPD_CONF_PATH)));
}

TEST(ShippedConfigFile, UncommentedDefaultsAreTheDefaults) {
  // "# key = value" lines are defaults; "# Example: key = value" lines are not.
  // (No std::regex: GCC 12 warns inside it under -fsanitize=address.)
  auto default_key = [](const std::string& line) -> std::string {
    if (line.rfind("# ", 0) != 0) return "";
    const std::size_t eq = line.find(" = ");
    if (eq == std::string::npos) return "";
    const std::string key = line.substr(2, eq - 2);
    const bool is_key = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || c == '-';
    });
    return is_key ? key : "";
  };
  std::istringstream in(shipped_conf());
  std::string uncommented;
  std::vector<std::string> keys;
  for (std::string line; std::getline(in, line);) {
    if (const std::string key = default_key(line); !key.empty()) {
      keys.push_back(key);
      uncommented += line.substr(2) + "\n";
    }
  }
  Parsed p = run_file(uncommented);
  ASSERT_TRUE(p.result.run) << p.result.output << uncommented;
  Config want;
  want.config_file = p.config.config_file;
  EXPECT_EQ(describe(p.config), describe(want));
  // Each key with a default is there exactly once.
  for (const char* k : {"tap", "address", "host-address", "udp-port", "tcp-port", "log-level",
                        "control-socket", "debug-commands", "max-message-size", "session"}) {
    EXPECT_EQ(std::count(keys.begin(), keys.end(), k), 1) << k;
  }
}

TEST(ShippedConfigFile, ListsEveryKey) {
  const std::string conf = shipped_conf();
  for (const auto& key : kKeys) {
    const bool listed = conf.find("\n# " + key + " = ") != std::string::npos ||
                        conf.find("\n# Example: " + key + " = ") != std::string::npos;
    EXPECT_TRUE(listed) << key << " is missing from coapd.conf";
  }
}

TEST(ShippedConfigFile, ExamplesParse) {
  // Uncommenting the examples (joined with their continuation lines) works.
  std::istringstream in(shipped_conf());
  std::string examples;
  bool continuing = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# Example: ", 0) == 0) {
      examples += line.substr(11) + "\n";
      continuing = line.find('[') != std::string::npos && line.back() != ']';
    } else if (continuing && line.rfind("#  ", 0) == 0) {
      examples += line.substr(1) + "\n";
      continuing = line.back() != ']';
    }
  }
  Parsed p = run_file(examples);
  ASSERT_TRUE(p.result.run) << p.result.output << examples;
  EXPECT_TRUE(p.config.gateway);
  EXPECT_TRUE(p.config.ipv6);
  EXPECT_TRUE(p.config.host_ipv6);
  EXPECT_TRUE(p.config.mac);
  EXPECT_EQ(p.config.sessions.size(), 2u);
  EXPECT_EQ(p.config.resources.size(), 2u);
}

// ---------------------------------------------------------------------------
// Value parsers.

// A parser's result as these tests read it: the value, or nullopt with the
// error in *error (when given).
template <typename T>
std::optional<T> unwrap(coap::Result<T> r, std::string* error) {
  if (r) return std::move(*r);
  if (error) *error = r.error();
  return std::nullopt;
}
std::optional<Ipv4Prefix> parse_ipv4_prefix(const std::string& s, std::string* error) {
  return unwrap(config::parse_ipv4_prefix(s), error);
}
std::optional<std::array<uint8_t, 4>> parse_ipv4(const std::string& s, std::string* error) {
  return unwrap(config::parse_ipv4(s), error);
}
std::optional<Ipv6Prefix> parse_ipv6_prefix(const std::string& s, std::string* error) {
  return unwrap(config::parse_ipv6_prefix(s), error);
}
std::optional<std::array<uint8_t, 6>> parse_mac(const std::string& s, std::string* error) {
  return unwrap(config::parse_mac(s), error);
}
std::optional<SessionConfig> parse_session(const std::string& s, std::string* error) {
  return unwrap(config::parse_session(s), error);
}

TEST(ParseValues, Ipv4Prefix) {
  std::string error;
  auto p = parse_ipv4_prefix("192.0.2.2/24", &error);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->addr, (std::array<uint8_t, 4>{192, 0, 2, 2}));
  EXPECT_EQ(p->prefix_len, 24);
  EXPECT_EQ(p->str(), "192.0.2.2/24");
  EXPECT_TRUE(parse_ipv4_prefix("0.0.0.0/0", &error));
  EXPECT_TRUE(parse_ipv4_prefix("255.255.255.255/32", &error));
  for (const char* bad : {"", "192.0.2.2", "192.0.2.2/", "192.0.2.2/33", "192.0.2.2/024",
                          "192.0.2/24", "192.0.2.2.1/24", "256.0.0.1/8", "1.2.3.4/8/8", "a.b.c.d/8",
                          " 1.2.3.4/8", "1.2.3.4/ 8", "1.2.3.-4/8"}) {
    error.clear();
    EXPECT_FALSE(parse_ipv4_prefix(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
  EXPECT_FALSE(parse_ipv4_prefix("x", nullptr));  // error is optional
}

TEST(KeepaliveOptions, GlobalAndPerSession) {
  Parsed p =
      run({"--keepalive", "20", "--keepalive-misses", "3", "--session",
           "coap+tcp://192.0.2.1,call-home,keepalive=7.5", "--session", "coaps://192.0.2.1"});
  ASSERT_TRUE(p.result.run) << p.result.output;
  EXPECT_EQ(p.config.keepalive, 20.0);
  EXPECT_EQ(p.config.keepalive_misses, 3u);
  ASSERT_EQ(p.config.sessions.size(), 2u);
  EXPECT_EQ(p.config.sessions[0].keepalive, 7.5);
  EXPECT_EQ(p.config.sessions[1].keepalive, std::nullopt);
  Parsed defaults = run({});
  EXPECT_EQ(defaults.config.keepalive, 0.0);
  EXPECT_EQ(defaults.config.keepalive_misses, 2u);
  expect_one_line_error(run({"--keepalive-misses", "0"}), "--keepalive-misses");
  expect_one_line_error(run({"--session", "coap+tcp://192.0.2.1,keepalive=soon"}), "keepalive");
}

TEST(SecurityOptions, ATooLongClientPskKeyIsRefusedWithoutShowingIt) {
  const std::string key(33, 'q');
  Parsed p = run({"--client-psk-identity", "me", "--client-psk-key", key});
  expect_one_line_error(p, "--client-psk-key");
  EXPECT_NE(p.result.output.find("at most 32"), std::string::npos) << p.result.output;
  EXPECT_EQ(p.result.output.find(key), std::string::npos) << "the key is shown";
}

TEST(SecurityOptions, APskFileKeyTooLongNamesThePskFileAndTheLine) {
  TempFile psk("# devices\nok 0x0102\nlong " + std::string(33, 'k') + "\n");
  Parsed p = run({"--psk-file", psk.path()});
  expect_one_line_error(p, "--psk-file");
  EXPECT_NE(p.result.output.find("line 3"), std::string::npos) << p.result.output;
  EXPECT_EQ(p.result.output.find("--cert"), std::string::npos) << p.result.output;
}

TEST(ParseValues, Ipv4) {
  std::string error;
  auto a = parse_ipv4("10.0.0.1", &error);
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, (std::array<uint8_t, 4>{10, 0, 0, 1}));
  EXPECT_FALSE(parse_ipv4("10.0.0.1/8", &error));
  EXPECT_FALSE(parse_ipv4("10.0.0", &error));
  EXPECT_FALSE(parse_ipv4("010.0.0.1", &error));
  EXPECT_FALSE(error.empty());
}

TEST(ParseValues, Ipv6Prefix) {
  std::string error;
  auto p = parse_ipv6_prefix("fd00:C0A9:0:0::2/64", &error);
  ASSERT_TRUE(p) << error;
  EXPECT_EQ(p->prefix_len, 64);
  EXPECT_EQ(p->str(), "fd00:c0a9::2/64");  // canonical form
  p = parse_ipv6_prefix("::/0", &error);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->str(), "::/0");
  p = parse_ipv6_prefix("2001:db8::1/128", &error);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->prefix_len, 128);
  p = parse_ipv6_prefix("::ffff:192.0.2.1/96", &error);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->addr[15], 1);
  for (const char* bad : {"", "fd00::1", "fd00::1/", "fd00::1/129", "fd00:::1/64", "fd00::g/64",
                          "[fd00::1]/64", "fd00::1%eth0/64", "192.0.2.1/24", "fd00::1/064"}) {
    error.clear();
    EXPECT_FALSE(parse_ipv6_prefix(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(ParseValues, Mac) {
  std::string error;
  auto m = parse_mac("02:00:5e:10:FF:0a", &error);
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, (std::array<uint8_t, 6>{0x02, 0x00, 0x5e, 0x10, 0xff, 0x0a}));
  for (const char* bad : {"", "02:00:5e:10:ff", "02:00:5e:10:ff:0a:01", "02-00-5e-10-ff-0a",
                          "2:0:5e:10:ff:a", "02:00:5e:10:ff:0g", "01:00:5e:00:00:01",
                          "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "02:00:5e:10:ff:+a"}) {
    error.clear();
    EXPECT_FALSE(parse_mac(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(ParseValues, SessionSpecs) {
  std::string error;
  auto s = parse_session("coap+tcp://192.0.2.1:5683", &error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(*s, SessionConfig{.uri = "coap+tcp://192.0.2.1:5683"});
  EXPECT_EQ(s->reconnect_interval, 1.0);
  EXPECT_EQ(s->reconnect_max_interval, 0.0);
  EXPECT_EQ(s->reconnect_attempts, 0u);
  EXPECT_FALSE(s->call_home);

  s = parse_session(
      "coap+tcp://[2001:db8::1]:5684/a/b?q=1,call-home,reconnect-interval=0.5,"
      "reconnect-max-interval=60,reconnect-attempts=7",
      &error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->uri, "coap+tcp://[2001:db8::1]:5684/a/b?q=1");
  EXPECT_TRUE(s->call_home);
  EXPECT_EQ(s->reconnect_interval, 0.5);
  EXPECT_EQ(s->reconnect_max_interval, 60.0);
  EXPECT_EQ(s->reconnect_attempts, 7u);

  // Spaces around items are tolerated; the port is optional.
  s = parse_session("coap+tcp://192.0.2.1 , call-home , reconnect-attempts = 2", &error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->uri, "coap+tcp://192.0.2.1");
  EXPECT_TRUE(s->call_home);
  EXPECT_EQ(s->reconnect_attempts, 2u);

  for (const char* good :
       {"coap+tcp://[::1]", "coap+tcp://[fe80::1%25coap0]:5683", "coap+tcp://192.0.2.1/",
        "coap+tcp://192.0.2.1:65535", "coaps://192.0.2.1,call-home,psk-identity=a,psk-key=b",
        "coaps+tcp://[2001:db8::1]:5684,insecure"}) {
    EXPECT_TRUE(parse_session(good, &error)) << good << ": " << error;
  }
}

TEST(ParseValues, BadSessionSpecsNameTheProblem) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "coap+tcp://"},
      {"coap://192.0.2.1", "coap+tcp://"},
      {"coap+udp://192.0.2.1", "coaps://"},
      {"coap+tcp://192.0.2.1,insecure", "coaps+tcp"},
      {"coaps+tcp://192.0.2.1,psk-identity=a", "psk-key"},
      {"coaps+tcp://192.0.2.1,psk-key=0xzz,psk-identity=a", "psk-key"},
      {"COAP+TCP://192.0.2.1", "coap+tcp://"},
      {"coap+tcp://", "host"},
      {"coap+tcp://example.com", "host"},
      {"coap+tcp://192.0.2", "host"},
      {"coap+tcp://::1", "host"},
      {"coap+tcp://[::1", "']'"},
      {"coap+tcp://[::g]", "IPv6"},
      {"coap+tcp://[::1]x", "PORT"},
      {"coap+tcp://192.0.2.1:", "port"},
      {"coap+tcp://192.0.2.1:0", "port"},
      {"coap+tcp://192.0.2.1:65536", "port"},
      {"coap+tcp://192.0.2.1:http", "port"},
      {"coap+tcp://192.0.2.1#frag", "fragment"},
      {"coap+tcp://192.0.2.1,bogus", "'bogus'"},
      {"coap+tcp://192.0.2.1,call-home=yes", "call-home"},
      {"coap+tcp://192.0.2.1,callhome", "'callhome'"},
      {"coap+tcp://192.0.2.1,", "empty item"},
      {"coap+tcp://192.0.2.1,,call-home", "empty item"},
      {"coap+tcp://192.0.2.1,call-home,call-home", "call-home"},
      {"coap+tcp://192.0.2.1,reconnect-interval", "reconnect-interval"},
      {"coap+tcp://192.0.2.1,reconnect-interval=0", "reconnect-interval"},
      {"coap+tcp://192.0.2.1,reconnect-interval=-1", "reconnect-interval"},
      {"coap+tcp://192.0.2.1,reconnect-interval=x", "reconnect-interval"},
      {"coap+tcp://192.0.2.1,reconnect-max-interval=-1", "reconnect-max-interval"},
      {"coap+tcp://192.0.2.1,reconnect-attempts=1.5", "reconnect-attempts"},
      {"coap+tcp://192.0.2.1,reconnect-attempts=-1", "reconnect-attempts"},
      {"coap+tcp://192.0.2.1,reconnect-attempts=4294967296", "reconnect-attempts"},
  };
  for (const auto& [spec, phrase] : cases) {
    std::string error;
    EXPECT_FALSE(parse_session(spec, &error)) << spec;
    EXPECT_NE(error.find(phrase), std::string::npos) << spec << " -> " << error;
  }
}

}  // namespace
}  // namespace config
