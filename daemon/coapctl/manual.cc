// coapctl's manual: its --help text (main.cc prints it through CLI11) and
// coapctl(1), made from the same text.
#include "daemon/coapctl/manual.h"

#include <algorithm>
#include <string_view>

namespace coapctl {

const char* const kDescription = R"TXT(coapctl - control and query a running coapd

coapctl talks to coapd, the CoAP daemon that runs its own lwIP stack on a TAP
device, through the daemon's control socket (newline-delimited JSON, control
protocol version 1). It shows the daemon's status, statistics, sessions and
events, sends CoAP requests from the daemon's stack, and opens and closes
outgoing sessions.

Output is an aligned human-readable table unless --json is given, in which
case the daemon's result object is printed as one line of JSON. coapctl never
waits for ever: the global --timeout bounds connecting and waiting for the
answer, except that a CoAP request waits for its own --timeout plus 5 seconds
and events --follow waits until stopped. Global options may come before or
after the command.
)TXT";

const char* const kFooter = R"TXT(COMMANDS
  status
      Daemon version, PID, uptime, TAP device, MAC and IP addresses, UDP, TCP
      and call-home ports, control socket, number of sessions and whether the
      protocol engine is alive.

  stats [--prometheus]
      lwIP protocol control blocks (tcp_active, tcp_listen, tcp_time_wait,
      tcp_bound, udp) and traffic counters (rx_frames, tx_frames, requests,
      responses, bad_packets, ...). With --prometheus, all of it in the
      Prometheus text exposition format: names prefixed coapd_, counters as
      coapd_NAME_total, pcbs as coapd_lwip_pcbs{list=...}, wake latencies as
      histograms in seconds (_bucket, _sum, _count).

  sessions
      One row per session: ID PROTO ROLE STATE PEER LOCAL AGE IN(B) OUT(B)
      IN(MSG) OUT(MSG).

  events [-f|--follow]
      Recent session events, one per line:
          TIME EVENT session=N peer=IP:PORT [reason=TEXT] [attempt=N]
      With --follow, keep printing events as they happen until coapd closes
      the connection or coapctl gets SIGINT or SIGTERM (exit status 0).
      With --json, --follow prints each event as one JSON object per line.

  get|put|post|delete|fetch|patch|ipatch URI [options]
      Send a CoAP request from coapd and print the response: the code line
      ("2.05 Content"), one "Name: value" line per option, a blank line, and
      the payload byte for byte (plus a final newline on a terminal only).
      With --json, one object: status (response, timeout, cancelled or
      error), session, code ("2.05"), code_name, options, payload_b64 (the
      payload in base64) or error. Each option is {number, name, format,
      value}, and the value's JSON type follows format: a number for uint
      options (Content-Format, Max-Age, ...), a string for string options
      (Uri-Path, Location-Path, ...), a lowercase hex string for opaque
      options (ETag, ...), for empty ones ("" then) and for options coapd
      does not know.
        --payload TEXT           request payload
        --payload-file FILE      request payload read from FILE ("-": stdin)
        --content-format N       Content-Format option of the payload
        --accept N               Accept option
        --non                    send a NON request (UDP; not retransmitted,
                                 the response may come NON)
        -O NUM[,VALUE]           add option NUM (repeatable): VALUE as 0x-hex,
                                 a number for uint options, else text
        --no-response CLASSES    No-Response option (RFC 7967): the response
                                 classes not wanted, e.g. 2,5; or none
        --token HEX              the request's token (0 to 8 bytes)
        --block-size N|bert      block size for Block1 uploads, and asked of
                                 the server for Block2: 16, 32, ... 1024; over
                                 coap+tcp:// and coaps+tcp:// also BERT
                                 (RFC 8323 6): a multiple of 1024 up to
                                 1048576, the most bytes one message carries
                                 in 1024-byte blocks, or bert for as many as
                                 the peer's Max-Message-Size takes. BERT is
                                 used only if the peer's CSM offers
                                 block-wise transfers and a Max-Message-Size
                                 above 1152; otherwise blocks are 1024 bytes
        --timeout S              give up after S seconds (default 30)
        --session ID             send on the already open session ID
        --psk-identity ID --psk-key KEY, --cert FILE --key FILE, --ca FILE,
        --insecure               credentials and checks for coaps:// and
                                 coaps+tcp://
      URI is coap://HOST[:PORT]/PATH[?QUERY], coaps://..., coap+tcp://... or
      coaps+tcp://...

  observe URI [--count N] [--duration S] [request options]
      Observe a resource from coapd (RFC 7641: GET with Observe 0) and print
      every notification as it arrives, one line each:
          seq=N code=2.05 content_format=N|none payload=TEXT|0xHEX
      With --json one object per line with the keys seq, code,
      content_format (null when absent), payload (text, or hex when binary)
      and time. Notifications older than the newest one seen are dropped
      (RFC 7641 3.4); Block2 notifications are put together first; when
      Max-Age runs out (plus 2 s) with no notification coapd re-registers,
      and on a session that reconnects it re-registers after every reconnect
      (event observe_reregistered). Ctrl-C (SIGINT, SIGTERM), --count N (N
      notifications, the registration's own answer the first) or
      --duration S deregister (GET with Observe 1, same token) and exit 0,
      as does the observation's end by observe --cancel. A resource that
      is not observable (an answer without Observe) or an error response
      is printed as by get, with get's exit status; a registration never
      answered exits 5. Takes get's request options (--non, -O, --token,
      --accept, --block-size, --timeout, --session, security).

  observe --cancel ID
      Deregister client observation ID (see observations); a coapctl
      observe printing it exits 0.

  observations
      The observations coapd holds as a client: ID SESSION NOTIFICATIONS
      LAST_SEQ TOKEN URI. With --json: {"observations": [{"id",
      "uri", "session_id", "token", "notifications", "last_seq",
      "registered", "deregistering"}]}.

  connect coap+tcp://|coaps+tcp://|coaps://HOST[:PORT] [options]
      Open an outgoing session (CoAP over TCP, TLS or DTLS) that coapd keeps
      up, reconnecting when it drops, and print "session N" (or "session N
      (already open)" when coapd already had a session to that peer).
        --call-home              serve the peer's requests on the connection
                                 we open (RFC 8323 role reversal)
        --reconnect-interval S   delay before reconnecting (default 1)
        --reconnect-max-interval S
                                 double the delay after each failed attempt,
                                 up to S (default 0: a fixed delay)
        --keepalive S            ping the peer after S quiet seconds; after
                                 coapd's --keepalive-misses unanswered pings
                                 it is dead and the session reconnects
                                 (default: coapd's --keepalive)
        --reconnect-attempts N   give up after N failed attempts
                                 (default 0: never give up)

  close SESSION-ID
      Close a session. Prints nothing on success.

  resource list | add PATH | set PATH | delete PATH
      User resources (and the built-ins, which cannot be changed): list
      them (PATH SOURCE CT METHODS OBS OBSERVERS SIZE ETAG), add one
      ([--ct N] [--rt X] [--if X] [--title X] [--obs] [--methods 'get|put']
      [--value TEXT|--file FILE] [--delay MS] [--max-age S]), give one a new
      value (--value TEXT|--file FILE [--ct N]; observers are notified at
      once) or delete one (observers get 4.04). Refusals exit 1.

  log-level LEVEL
      Change coapd's log level at once (trace, debug, info, warn, error,
      critical, off) and print "log level LEVEL (was PREVIOUS)". Lasts until
      coapd restarts or reloads.

  reload
      Re-read the config file (as SIGHUP does) and apply what can change
      without a restart: the log level, session entries (new ones are
      opened, removed ones closed, unchanged ones untouched) and resource
      entries (new ones added; removed ones deleted, their observers get
      4.04; a new value or content-format is set and observers notified; an
      entry whose other keys changed is replaced; unchanged ones keep what
      "resource set" gave them). Prints what changed and which changed keys
      need a restart. A bad file changes
      nothing: exit status 1, and the error names the key.

  discover [--group ADDR] [--wait S]
      Send a multicast GET /.well-known/core from coapd's own stack to ADDR
      (default 224.0.1.187, All CoAP Nodes; ff02::fd and ff05::fd for IPv6,
      link-scoped groups on coapd's TAP) and list every node that answers
      within S seconds (default 5): one line "ADDRESS LINKS" per node, or
      "no node answered". With --json, {"nodes": [{"address", "links"}]}.

  capture FILE [--count N] [--duration S] [--filter udp|tcp|coap]
      Have coapd write the Ethernet frames its stack receives and sends
      (both directions, as lwIP sees them) to FILE, a pcap file (linktype
      Ethernet) that tshark -r FILE or tcpdump -r FILE decodes; coapd itself
      writes it (a relative FILE is taken from coapctl's working directory)
      and gives it to the caller's user. Runs until N frames were written, S
      seconds passed, or SIGINT/SIGTERM; then prints "N frames (B bytes)
      written to FILE in S s (REASON); D dropped". --filter keeps only UDP,
      only TCP, or only CoAP (UDP and TCP to or from coapd's CoAP ports and
      5683/5684). Traffic never waits for the file: frames that find the
      capture's queue (8192 frames, 4 MiB) full are dropped and counted. One
      capture at a time: a second one exits 1 naming the first one's file.

  debug stall-engine SECONDS
      Make coapd's protocol engine sleep for SECONDS, to test its watchdog.
      coapd accepts it only when started with --debug-commands.

  debug timer-probe [--interval-ms MS] [--count N]
      Measure the engine's timer: N timers of MS milliseconds (default 100
      of 50 ms) on the engine's own wait; prints how late they fired (never
      early). Needs --debug-commands, like every debug command.

  Run "coapctl COMMAND --help" for the options of one command.

EXIT STATUS
  0   success; for a request command, a 2.xx response
  1   coapd cannot be reached, did not answer in time, or refused the command
  2   usage error (bad command line)
  3   the request got a 4.xx (client error) response
  4   the request got a 5.xx (server error) response
  5   the request timed out (no response from the peer)
  6   the request failed or was cancelled (e.g. its session closed)

ENVIRONMENT
  COAPD_CONTROL_SOCKET
      Path of the control socket when --socket is not given.

FILES
  /run/coapd/coapd.sock
      The default control socket.

EXAMPLES
  coapctl status
  coapctl --json stats
  coapctl sessions
  coapctl events --follow
  coapctl get coap://192.0.2.1/.well-known/core
  coapctl put coap://192.0.2.1/led --payload on --content-format 0
  coapctl get coap://192.0.2.1/time --non -O 258,0x1a --token 0a0b
  coapctl fetch coap://192.0.2.1/q --payload '{"a":1}' --content-format 50
  coapctl get coaps://192.0.2.1/time --psk-identity dev --psk-key secret
  coapctl post coap+tcp://[2001:db8::1]/data --payload-file reading.cbor --content-format 60
  coapctl observe coap://192.0.2.1/time --count 5 --json
  coapctl connect coap+tcp://192.0.2.1 --reconnect-interval 1 --reconnect-attempts 10
  coapctl close 3
  coapctl resource add /sensors/temp --obs --methods 'get|put' --value 21.5
  coapctl resource set /sensors/temp --value 22.0
  COAPD_CONTROL_SOCKET=/tmp/coapd.sock coapctl status)TXT";

namespace {

std::string_view next_line(std::string_view& text) {
  const std::size_t nl = text.find('\n');
  const std::string_view line = text.substr(0, nl);
  text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
  return line;
}

// The description: paragraphs separated by blank lines, after the first
// line ("coapctl - ..."), which is the summary.
void add_description(config::ManPage& page) {
  std::string_view text = kDescription;
  const std::string_view first = next_line(text);
  page.summary = std::string(first.substr(first.find(" - ") + 3));
  config::ManSection s{"DESCRIPTION", {}};
  std::string para;
  while (!text.empty()) {
    const std::string_view line = next_line(text);
    if (!line.empty()) para += (para.empty() ? "" : " ") + std::string(line);
    if ((line.empty() || text.empty()) && !para.empty()) {
      s.blocks.push_back({config::ManBlock::Kind::kParagraph, {}, para});
      para.clear();
    }
  }
  page.sections.push_back(s);
}

}  // namespace

config::ManPage coapctl_manual() {
  config::ManPage page{"coapctl", 1, "", "coapctl [OPTIONS] COMMAND [ARGS]...", {}};
  add_description(page);
  // The footer: a heading at column 0, its lines indented by two.
  std::string_view text = kFooter;
  while (!text.empty()) {
    const std::string_view line = next_line(text);
    if (!line.empty() && line[0] != ' ') {
      page.sections.push_back({std::string(line), {{config::ManBlock::Kind::kVerbatim, {}, ""}}});
      continue;
    }
    std::string& body = page.sections.back().blocks.back().text;
    if (!body.empty()) body += '\n';
    body += std::string(line.substr(std::min<std::size_t>(2, line.size())));
  }
  for (auto& s : page.sections)  // no trailing blank lines
    for (auto& b : s.blocks)
      while (!b.text.empty() && b.text.back() == '\n') b.text.pop_back();
  page.sections.push_back(
      {"SEE ALSO", {{config::ManBlock::Kind::kParagraph, {}, "coapd(8), coapd.conf(5)."}}});
  return page;
}

}  // namespace coapctl
