// coapd's manual (manual.h): its text, and the two renderings.
#include "config/manual.h"

#include <optional>

#include "config/options_internal.h"

namespace config {
namespace {

using namespace detail;

ManBlock para(std::string text) { return {ManBlock::Kind::kParagraph, {}, std::move(text)}; }
ManBlock item(std::string term, std::string text) {
  return {ManBlock::Kind::kItem, std::move(term), std::move(text)};
}
ManBlock subheading(std::string term) { return {ManBlock::Kind::kSubheading, std::move(term), {}}; }

ManSection description() {
  return {"DESCRIPTION",
          {para("coapd is a CoAP endpoint that runs its own TCP/IP stack (lwIP) in user space, "
                "attached to a Linux TAP interface: the kernel sees an Ethernet link with "
                "coapd's stack at the other end. coapd serves CoAP over UDP (RFC 7252) and CoAP "
                "over TCP (RFC 8323) at its own addresses, and opens outgoing CoAP-over-TCP "
                "sessions, including call-home sessions in which it connects out and then serves "
                "the peer's requests. While it runs it is controlled with coapctl(1) through a "
                "Unix control socket: status, statistics, sessions, events, CoAP requests, "
                "connect and close. Creating the TAP interface needs CAP_NET_ADMIN and access to "
                "/dev/net/tun.")}};
}

// Every option, grouped as the table groups them, with its default.
ManSection options_section() {
  const Config defaults;
  ManSection s{"OPTIONS",
               {para("Every option except --config, --help and --version can also be set in the "
                     "config file, as a key named like the option without its leading dashes "
                     "(tap\x01=\x01\"coap0\"). Options given on the command line override the "
                     "file.")}};
  std::optional<Group> group;
  for (const OptionSpec& o : options()) {
    if (group != o.group) {
      group = o.group;
      s.blocks.push_back(subheading(std::string(group_title(o.group))));
      if (o.group == Group::kGeneral) {
        s.blocks.push_back(item("-h, --help", "Print this help and exit."));
        s.blocks.push_back(
            item("--version", "Print \"coapd " + std::string(kVersion) + "\" and exit."));
      }
    }
    std::string term = "--" + std::string(o.name);
    if (!o.arg.empty()) term += " " + std::string(o.arg);
    s.blocks.push_back(item(term, std::string(o.help) + " Default: " + o.show(defaults) + "."));
  }
  return s;
}

ManSection files_section() {
  const Config defaults;
  return {"FILES",
          {item("/etc/coapd/coapd.conf",
                "The config file, read when coapd is started with --config "
                "/etc/coapd/coapd.conf. One key\x01=\x01value per line; '#' starts a comment; "
                "strings are quoted (tap\x01=\x01\"coap0\"), numbers are not "
                "(udp-port\x01=\x01"
                "5683), a flag is true or false (debug-commands\x01=\x01true). Keys may also be "
                "written with underscores (host_address). Sessions are a list, "
                "session\x01=\x01[\"coap+tcp://192.0.2.1,call-home\", "
                "\"coap+tcp://[2001:db8::1]:5684\"], or one session\x01=\x01\"...\" line each. "
                "An unknown key is an error. The installed file lists every key with its "
                "default, commented out. See coapd.conf(5)."),
           item(defaults.control_socket,
                "The control socket (--control-socket), where coapctl(1) connects.")}};
}

ManSection exit_status_section() {
  return {"EXIT STATUS",
          {item("0", "Clean shutdown on SIGTERM or SIGINT, or --help or --version."),
           item("1",
                "Runtime failure, such as failing to create the TAP interface or the control "
                "socket."),
           item("2",
                "Bad configuration: an unknown option or key, a bad value, a config file that "
                "cannot be read, or an address the host already uses (coapd reads the addresses "
                "and routes of its network namespace before it creates anything). One line on "
                "standard error names it: the option, or the interface and address in the way.")}};
}

ManSection examples_section() {
  return {"EXAMPLES",
          {item("coapd",
                "Serve CoAP on 192.0.2.2, UDP and TCP port 5683, behind the TAP interface coap0 "
                "whose kernel side is 192.0.2.1/24. If the host already uses 192.0.2.0/24, "
                "coapd takes 198.51.100.0/24, else 203.0.113.0/24 (at .2, the kernel side at "
                ".1), and says so in its ready line and in coapctl status."),
           item("coapd --config /etc/coapd/coapd.conf --log-level debug",
                "Take the settings from the config file, but log more."),
           item("coapd --tap coap1 --address 10.9.0.2/24 --host-address 10.9.0.1/24",
                "A second instance, on its own interface and subnet."),
           item("coapd --ipv6 fd00:9::2/64 --host-ipv6 fd00:9::1/64",
                "Serve on IPv6 at fd00:9::2 too, with the kernel side at fd00:9::1."),
           item("coapd --host-address none",
                "Leave the kernel side of coap0 without addresses, for instance to put it in a "
                "bridge."),
           item("coapd --session 'coap+tcp://192.0.2.1:5683,call-home,reconnect-max-interval=60'",
                "Connect to 192.0.2.1 at start-up and serve its requests on that connection, "
                "reconnecting with backoff up to a minute when it fails."),
           item("coapctl status", "Ask the running coapd for its state.")}};
}

}  // namespace

ManPage coapd_manual() {
  ManPage page{"coapd",
               8,
               "CoAP endpoint on its own lwIP stack, attached to a TAP interface",
               "coapd [OPTION]...",
               {}};
  page.sections = {
      description(),
      options_section(),
      files_section(),
      {"SIGNALS",
       {item("SIGTERM, SIGINT",
             "Shut down in order: listeners close, sessions are given time to close, then "
             "everything stops in reverse order. A second one ends coapd at once."),
        item("SIGHUP",
             "Read the command line's config file again and apply what can change without a "
             "restart: the log level, and session entries (new ones are opened, removed ones "
             "closed, unchanged ones untouched); log which changed keys need a restart. A bad "
             "file changes nothing and is logged. coapctl reload does the same and reports.")}},
      exit_status_section(),
      examples_section(),
      {"SEE ALSO", {para("coapctl(1), coapd.conf(5), RFC 7252, RFC 8323.")}}};
  return page;
}

ManPage coapd_conf_manual() {
  ManPage page{"coapd.conf", 5, "configuration file of coapd(8)", "/etc/coapd/coapd.conf", {}};
  ManSection keys = options_section();
  keys.title = "KEYS";
  keys.blocks.front() = para(
      "Each key is the long option of coapd(8) without its leading dashes, and takes the same "
      "values; an option given on the command line overrides the key. Every option but "
      "--config, --help and --version is a key.");
  page.sections = {
      {"DESCRIPTION",
       {para("coapd(8) reads this file when it is started with --config FILE. The syntax is the "
             "TOML subset CLI11 reads: one key\x01=\x01value per line; '#' starts a comment; "
             "strings are quoted (tap\x01=\x01\"coap0\"), numbers are not "
             "(udp-port\x01=\x01"
             "5683), a flag is true or false (debug-commands\x01=\x01true); keys may be written "
             "with underscores (host_address). A repeatable key (session) takes a list, "
             "session\x01=\x01[\"coap+tcp://192.0.2.1,call-home\"], or one line per value. An "
             "unknown key, a key given twice or a bad value makes coapd exit with status 2 and "
             "one line naming the key.")}},
      keys,
      {"SEE ALSO", {para("coapd(8), coapctl(1).")}}};
  return page;
}

}  // namespace config
