// coapctl: the command-line client of coapd's control socket. This file is
// the command line (CLI11) and its help text; commands.cc does the work.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "daemon/coapctl/commands.h"
#include "daemon/coapctl/help.h"
#include "daemon/coapctl/manual.h"
#include "daemon/coapctl/request_flags.h"
#include "daemon/coapctl/resource_cli.h"

namespace {

using namespace coapctl;

struct CommandLine {
  GlobalOptions global;
  RequestOptions request;
  ObserveOptions observe;
  uint64_t observe_cancel = 0;
  uint64_t observe_count = 0;   // 0: not given
  double observe_duration = 0;  // 0: not given
  ConnectOptions connect;
  bool follow = false;
  uint64_t session = 0;
  double stall_seconds = 0;
  double probe_interval_ms = 50;
  int probe_count = 100;
  unsigned content_format = 0;
  unsigned accept = 0;
  uint64_t request_session = 0;
  std::string payload;
  std::string payload_file;
  std::string log_level;
  CaptureOptions capture;
  std::string discover_group = "224.0.1.187";
  double discover_wait = 5;
  bool prometheus = false;
  double reconnect_interval = 0;
  double reconnect_max_interval = 0;
  uint64_t reconnect_attempts = 0;
  double keepalive = 0;
};

// A parse error as one line: "coapctl: <what> (see coapctl --help)".
int usage_error(const std::string& what) {
  std::string line = what;
  for (char& c : line)
    if (c == '\n') c = ' ';
  std::fprintf(stderr, "coapctl: %s (see coapctl --help)\n", line.c_str());
  return kExitUsage;
}

// CLI11's "A subcommand is required" does not say which one or why.
std::string describe_parse_error(const CLI::App& app, const CLI::ParseError& e) {
  std::string what = e.what();
  if (what.find("subcommand is required") == std::string::npos) return what;
  std::vector<std::string> extra = app.remaining();
  if (!extra.empty()) return "unknown command \"" + extra.front() + "\"";
  for (const CLI::App* sub : app.get_subcommands()) {
    if (!sub->get_subcommands().empty()) continue;
    std::string names;
    for (const CLI::App* choice : sub->get_subcommands({})) names += " " + choice->get_name();
    return sub->get_name() + " needs a subcommand:" + names;
  }
  return "no command given";
}

// Seconds: a finite number above zero.
const CLI::Validator kPositiveSeconds(
    [](std::string& text) -> std::string {
      char* end = nullptr;
      double value = std::strtod(text.c_str(), &end);
      if (end == text.c_str() || *end != '\0' || !(value > 0) || !std::isfinite(value))
        return "expected a positive number of seconds, got \"" + text + "\"";
      return "";
    },
    "");

// Seconds: a finite number, zero or more.
const CLI::Validator kNonNegativeSeconds(
    [](std::string& text) -> std::string {
      char* end = nullptr;
      double value = std::strtod(text.c_str(), &end);
      if (end == text.c_str() || *end != '\0' || !(value >= 0) || !std::isfinite(value))
        return "expected a number of seconds (0 or more), got \"" + text + "\"";
      return "";
    },
    "");

// --psk-identity, --psk-key, --cert, --key, --ca and --insecure of a request
// or connect command; apply() copies what was given into `out`.
struct SecurityFlags {
  std::string psk_identity, psk_key, cert, key, ca;
  bool insecure = false;
  CLI::Option *o_identity = nullptr, *o_key = nullptr, *o_cert = nullptr, *o_keyfile = nullptr,
              *o_ca = nullptr;

  void add(CLI::App* cmd) {
    o_identity =
        cmd->add_option("--psk-identity", psk_identity, "PSK identity (coaps)")->type_name("ID");
    o_key =
        cmd->add_option("--psk-key", psk_key, "PSK key: text, or hex after 0x")->type_name("KEY");
    o_cert = cmd->add_option("--cert", cert, "Client certificate (PEM)")->type_name("FILE");
    o_keyfile = cmd->add_option("--key", key, "Its private key (PEM)")->type_name("FILE");
    o_ca =
        cmd->add_option("--ca", ca, "Trust anchors to verify the server (PEM)")->type_name("FILE");
    cmd->add_flag("--insecure", insecure, "Do not verify the server's certificate (says so)");
  }
  void apply(SecurityOptions& out) const {
    if (o_identity->count()) out.psk_identity = psk_identity;
    if (o_key->count()) out.psk_key = psk_key;
    if (o_cert->count()) out.cert_file = cert;
    if (o_keyfile->count()) out.key_file = key;
    if (o_ca->count()) out.ca_file = ca;
    out.insecure = insecure;
  }
};

// --non, -O, --no-response, --token and --block-size of a request command;
// apply() checks them and copies them into `out` (a bad one is a usage
// error naming the flag).
struct RequestShapeFlags {
  bool non = false;
  std::vector<std::string> options;
  std::string no_response, token;
  std::string block_size;
  CLI::Option *o_no_response = nullptr, *o_token = nullptr, *o_block_size = nullptr;

  void add(CLI::App* cmd) {
    cmd->add_flag("--non", non, "Send a NON request (not retransmitted; the response may be NON)");
    cmd->add_option("-O,--option", options,
                    "Add option NUM with VALUE (0x-hex, a number for uint options, else text); "
                    "repeatable")
        ->type_name("NUM[,VALUE]");
    o_no_response =
        cmd->add_option("--no-response", no_response,
                        "No-Response option: response classes not wanted (2,4,5), or none")
            ->type_name("CLASSES");
    o_token = cmd->add_option("--token", token, "The request's token (0 to 8 bytes of hex)")
                  ->type_name("HEX");
    o_block_size = cmd->add_option("--block-size", block_size,
                                   "Block size for uploads, and asked for downloads (16..1024); "
                                   "over TCP a multiple of 1024 or 'bert' for BERT")
                       ->type_name("N|bert");
  }
  void apply(RequestOptions& out) const {
    out.non = non;
    for (const std::string& text : options) {
      auto o = parse_option_flag(text);
      if (!o) throw CLI::ValidationError("-O", "'" + text + "': " + o.error());
      out.options.push_back(std::move(*o));
    }
    if (o_no_response->count()) {
      auto value = parse_no_response(no_response);
      if (!value) throw CLI::ValidationError("--no-response", value.error());
      control::RequestOption o{258, {}};  // RFC 7967
      uint8_t byte = static_cast<uint8_t>(*value);
      if (byte) o.value.push_back(byte);
      out.options.push_back(std::move(o));
    }
    if (o_token->count()) {
      auto t = parse_token(token);
      if (!t) throw CLI::ValidationError("--token", "'" + token + "' " + t.error());
      out.token = std::move(*t);
    }
    if (o_block_size->count()) {
      auto n = parse_block_size(block_size);
      if (!n) throw CLI::ValidationError("--block-size", "'" + block_size + "': " + n.error());
      out.block_size = *n;
    }
  }
};

// The request runs as run(cl) once the flags are in cl.request.
CLI::App* add_request_command(CLI::App& app, CommandLine& cl, const char* name, const char* method,
                              const char* summary, std::function<int()>* action,
                              int (*run)(CommandLine&) = nullptr) {
  CLI::App* cmd = app.add_subcommand(name, summary);
  cmd->footer(kRequestFooter);
  auto* uri = cmd->add_option("URI", cl.request.uri,
                              "coap://, coaps://, coap+tcp:// or coaps+tcp:// URI of the resource");
  if (!run) uri->required();
  auto* payload = cmd->add_option("--payload", cl.payload, "Request payload (text)");
  auto* payload_file =
      cmd->add_option("--payload-file", cl.payload_file, "Read the payload from FILE (- for stdin)")
          ->type_name("FILE");
  payload->excludes(payload_file);
  auto* content_format =
      cmd->add_option("--content-format", cl.content_format, "Content-Format of the payload")
          ->type_name("N")
          ->check(CLI::Range(0, 65535).description("0-65535"));
  auto* accept = cmd->add_option("--accept", cl.accept, "Accept option: wanted Content-Format")
                     ->type_name("N")
                     ->check(CLI::Range(0, 65535).description("0-65535"));
  cmd->add_option("--timeout", cl.request.timeout_s, "Seconds to wait for the response")
      ->type_name("S")
      ->check(kPositiveSeconds)
      ->capture_default_str();
  auto* session =
      cmd->add_option("--session", cl.request_session, "Send on the already open session ID")
          ->type_name("ID");
  auto flags = std::make_shared<SecurityFlags>();
  flags->add(cmd);
  auto shape = std::make_shared<RequestShapeFlags>();
  shape->add(cmd);
  cmd->callback([=, &cl] {
    flags->apply(cl.request.security);
    shape->apply(cl.request);
    cl.request.method = method;
    if (payload->count()) cl.request.payload = cl.payload;
    if (payload_file->count()) cl.request.payload_file = cl.payload_file;
    if (content_format->count()) cl.request.content_format = cl.content_format;
    if (accept->count()) cl.request.accept = cl.accept;
    if (session->count()) cl.request.session = cl.request_session;
    if (run) {
      *action = [&cl, run] { return run(cl); };
    } else {
      *action = [&cl] { return run_request(cl.global, cl.request); };
    }
  });
  return cmd;
}

void add_global_options(CLI::App& app, CommandLine& cl) {
  app.add_option("--socket", cl.global.socket_path, "Path of coapd's control socket")
      ->type_name("PATH")
      ->envname(kSocketEnvVar)
      ->capture_default_str();
  app.add_flag("--json", cl.global.json, "Print results as JSON, one object per line");
  app.add_option("--timeout", cl.global.timeout_s, "Seconds to wait for coapd's answer")
      ->type_name("S")
      ->check(kPositiveSeconds)
      ->capture_default_str();
}

void add_query_commands(CLI::App& app, CommandLine& cl, std::function<int()>* action) {
  app.add_subcommand("status", "Show the daemon's status")->callback([action, &cl] {
    *action = [&cl] { return run_status(cl.global); };
  });
  CLI::App* stats = app.add_subcommand("stats", "Show lwIP pcb counts and traffic counters");
  stats->add_flag("--prometheus", cl.prometheus, "In the Prometheus text exposition format");
  stats->callback(
      [action, &cl] { *action = [&cl] { return run_stats(cl.global, cl.prometheus); }; });
  app.add_subcommand("sessions", "List CoAP sessions")->callback([action, &cl] {
    *action = [&cl] { return run_sessions(cl.global); };
  });
  CLI::App* events = app.add_subcommand("events", "Show recent session events");
  events->footer("Each line: TIME EVENT session=N peer=IP:PORT [reason=TEXT] [attempt=N]");
  events->add_flag("-f,--follow", cl.follow, "Keep printing events as they happen");
  events->callback([action, &cl] { *action = [&cl] { return run_events(cl.global, cl.follow); }; });
}

void add_request_commands(CLI::App& app, CommandLine& cl, std::function<int()>* action) {
  add_request_command(app, cl, "get", "GET", "Send a CoAP GET request and print the response",
                      action);
  add_request_command(app, cl, "put", "PUT", "Send a CoAP PUT request and print the response",
                      action);
  add_request_command(app, cl, "post", "POST", "Send a CoAP POST request and print the response",
                      action);
  add_request_command(app, cl, "delete", "DELETE",
                      "Send a CoAP DELETE request and print the response", action);
  add_request_command(app, cl, "fetch", "FETCH",
                      "Send a CoAP FETCH request (RFC 8132) and print the response", action);
  add_request_command(app, cl, "patch", "PATCH",
                      "Send a CoAP PATCH request (RFC 8132) and print the response", action);
  add_request_command(app, cl, "ipatch", "IPATCH",
                      "Send a CoAP iPATCH request (RFC 8132) and print the response", action);
}

int run_observe_command(CommandLine& cl) {
  if (cl.observe_cancel) return run_observe_cancel(cl.global, cl.observe_cancel);
  if (cl.request.uri.empty()) return usage_error("observe needs a URI (or --cancel ID)");
  cl.observe.request = cl.request;
  if (cl.observe_count) cl.observe.count = cl.observe_count;
  if (cl.observe_duration > 0) cl.observe.duration_s = cl.observe_duration;
  return run_observe(cl.global, cl.observe);
}

void add_observe_commands(CLI::App& app, CommandLine& cl, std::function<int()>* action) {
  CLI::App* observe = add_request_command(
      app, cl, "observe", "GET",
      "Observe a resource (RFC 7641): print every notification until Ctrl-C, then deregister",
      action, run_observe_command);
  observe->footer(kObserveFooter);
  auto* count = observe
                    ->add_option("--count", cl.observe_count,
                                 "Stop after N notifications (the registration's answer is the "
                                 "first), deregistering")
                    ->type_name("N")
                    ->check(CLI::Range(uint64_t{1}, uint64_t{UINT32_MAX}).description(""));
  auto* duration =
      observe->add_option("--duration", cl.observe_duration, "Stop after S seconds, deregistering")
          ->type_name("S")
          ->check(kPositiveSeconds);
  auto* cancel = observe
                     ->add_option("--cancel", cl.observe_cancel,
                                  "Deregister observation ID (see coapctl observations) instead")
                     ->type_name("ID")
                     ->check(CLI::Range(uint64_t{1}, uint64_t{UINT64_MAX}).description(""));
  cancel->excludes(count)->excludes(duration);
  app.add_subcommand("observations", "List the observations coapd holds as a client")
      ->callback([action, &cl] { *action = [&cl] { return run_observations(cl.global); }; });
  CLI::App* discover = app.add_subcommand(
      "discover", "Find CoAP nodes on coapd's link by multicast GET /.well-known/core");
  discover->add_option("--group", cl.discover_group, "Multicast group (default 224.0.1.187)");
  discover->add_option("--wait", cl.discover_wait, "Seconds to collect answers (default 5)")
      ->check(CLI::Range(0.0, 3600.0));
  discover->callback([action, &cl] {
    *action = [&cl] { return run_discover(cl.global, cl.discover_group, cl.discover_wait); };
  });
}

void add_connect_command(CLI::App& app, CommandLine& cl, std::function<int()>* action) {
  CLI::App* connect = app.add_subcommand(
      "connect", "Open an outgoing session (CoAP over TCP, TLS or DTLS) that coapd keeps up");
  connect->footer(
      "Prints \"session N\", or \"session N (already open)\" when coapd already had a\n"
      "session to that peer. The session reconnects when it fails (over TLS and DTLS\n"
      "with a new handshake) until `coapctl close N`.\n\n"
      "Examples:\n"
      "  coapctl connect coap+tcp://192.0.2.1 --reconnect-attempts 10\n"
      "  coapctl connect coaps+tcp://192.0.2.1 --call-home --ca ca.pem\n"
      "  coapctl connect coaps://192.0.2.1 --call-home --psk-identity dev1 --psk-key secret");
  connect
      ->add_option("URI", cl.connect.uri,
                   "coap+tcp://, coaps+tcp:// (TLS) or coaps:// (DTLS) URI of the peer")
      ->required();
  connect->add_flag("--call-home", cl.connect.call_home,
                    "Serve the peer's requests on the session (RFC 8323 role reversal; over "
                    "DTLS, coapd is the DTLS client and answers the peer's requests)");
  auto* interval = connect
                       ->add_option("--reconnect-interval", cl.reconnect_interval,
                                    "Delay before reconnecting (default 1)")
                       ->type_name("S")
                       ->check(kPositiveSeconds);
  auto* max_interval = connect
                           ->add_option("--reconnect-max-interval", cl.reconnect_max_interval,
                                        "Back off exponentially up to S (default 0: fixed delay)")
                           ->type_name("S")
                           ->check(kNonNegativeSeconds);
  auto* attempts = connect
                       ->add_option("--reconnect-attempts", cl.reconnect_attempts,
                                    "Give up after N failed attempts (default 0: never)")
                       ->type_name("N")
                       ->check(CLI::Range(uint64_t{0}, uint64_t{UINT32_MAX}).description(""));
  auto* keepalive =
      connect
          ->add_option(
              "--keepalive", cl.keepalive,
              "Ping the peer after S quiet seconds; dead after --keepalive-misses (0: off)")
          ->type_name("S")
          ->check(kNonNegativeSeconds);
  auto flags = std::make_shared<SecurityFlags>();
  flags->add(connect);
  connect->callback([=, &cl] {
    if (keepalive->count()) cl.connect.keepalive_s = cl.keepalive;
    flags->apply(cl.connect.security);
    if (interval->count()) cl.connect.reconnect_interval_s = cl.reconnect_interval;
    if (max_interval->count()) cl.connect.reconnect_max_interval_s = cl.reconnect_max_interval;
    if (attempts->count()) cl.connect.reconnect_attempts = cl.reconnect_attempts;
    *action = [&cl] { return run_connect(cl.global, cl.connect); };
  });
  CLI::App* close = app.add_subcommand("close", "Close a session");
  close->add_option("SESSION-ID", cl.session, "Session to close (see coapctl sessions)")
      ->required();
  close->callback([action, &cl] { *action = [&cl] { return run_close(cl.global, cl.session); }; });
}

void add_debug_commands(CLI::App& app, CommandLine& cl, std::function<int()>* action) {
  CLI::App* level = app.add_subcommand("log-level", "Change coapd's log level at once");
  level->add_option("LEVEL", cl.log_level, "trace, debug, info, warn, error, critical or off")
      ->required();
  level->callback(
      [action, &cl] { *action = [&cl] { return run_log_level(cl.global, cl.log_level); }; });
  app.add_subcommand("reload", "Re-read coapd's config file and apply what can change")
      ->callback([action, &cl] { *action = [&cl] { return run_reload(cl.global); }; });
  CLI::App* capture = app.add_subcommand(
      "capture", "Write the frames coapd's stack receives and sends to a pcap file");
  capture->add_option("FILE", cl.capture.file, "The pcap file (coapd writes it)")->required();
  capture->add_option("--count", cl.capture.count, "Stop after N frames")
      ->check(CLI::PositiveNumber);
  capture->add_option("--duration", cl.capture.duration_s, "Stop after S seconds")
      ->check(kPositiveSeconds);
  capture->add_option("--filter", cl.capture.filter, "Frames to keep: udp, tcp or coap")
      ->check(CLI::IsMember({"udp", "tcp", "coap"}));
  capture->callback(
      [action, &cl] { *action = [&cl] { return run_capture(cl.global, cl.capture); }; });
  CLI::App* debug = app.add_subcommand("debug", "Commands for testing coapd itself");
  debug->require_subcommand(1);
  CLI::App* stall = debug->add_subcommand("stall-engine",
                                          "Stall coapd's protocol engine (needs --debug-commands)");
  stall->add_option("SECONDS", cl.stall_seconds, "How long to stall")
      ->required()
      ->check(kNonNegativeSeconds);
  stall->callback(
      [action, &cl] { *action = [&cl] { return run_debug_stall(cl.global, cl.stall_seconds); }; });
  CLI::App* probe = debug->add_subcommand(
      "timer-probe", "Measure the engine's timer accuracy (needs --debug-commands)");
  probe
      ->add_option("--interval-ms", cl.probe_interval_ms,
                   "Timer length in milliseconds (default 50)")
      ->check(CLI::PositiveNumber);
  probe->add_option("--count", cl.probe_count, "Number of timers (default 100)")
      ->check(CLI::Range(1, 100000));
  probe->callback([action, &cl] {
    *action = [&cl] {
      return run_debug_timer_probe(cl.global, cl.probe_interval_ms, cl.probe_count);
    };
  });
}

}  // namespace

int main(int argc, char** argv) {
  CommandLine cl;
  std::function<int()> action;

  CLI::App app(kDescription, "coapctl");
  app.require_subcommand(1);
  // Global options may also follow the command ("coapctl stats --json");
  // set first so that every subcommand inherits it.
  app.fallthrough();
  app.get_formatter()->column_width(30);
  add_global_options(app, cl);
  add_query_commands(app, cl, &action);
  add_request_commands(app, cl, &action);
  add_observe_commands(app, cl, &action);
  add_connect_command(app, cl, &action);
  add_resource_commands(app, cl.global, &action);
  add_debug_commands(app, cl, &action);
  // Set last: subcommands copy their parent's footer when created.
  app.footer(kFooter);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage_error(describe_parse_error(app, e));
  }
  if (!action) return usage_error("no command given");
  try {
    return action();
  } catch (const std::exception& e) {
    // Only a daemon answer of an unexpected shape gets here.
    std::fprintf(stderr, "coapctl: cannot make sense of coapd's answer: %s\n", e.what());
    return kExitFailure;
  }
}
