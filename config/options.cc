// The option table (options_internal.h): every coapd option, once.
#include <algorithm>

#include "config/options_internal.h"

#ifndef COAPD_VERSION
#error "COAPD_VERSION must be defined by the build (config/CMakeLists.txt)"
#endif

namespace config::detail {
namespace {

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

}  // namespace

std::string_view group_title(Group g) {
  switch (g) {
    case Group::kGeneral: return "General";
    case Group::kNetwork: return "Network";
    case Group::kUdp: return "CoAP over UDP (RFC 7252)";
    case Group::kTcp: return "CoAP over TCP (RFC 8323)";
    case Group::kSecurity: return "DTLS and TLS (coaps://, coaps+tcp://)";
    case Group::kSessions: return "Outgoing sessions";
    case Group::kResources: return "Resources";
    case Group::kControl: return "Control and logging";
  }
  return "";
}

namespace {

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
       if (Problem p = check_interface_name(v); !p) return p;
       c.tap = v;
       return {};
     }},
    {"address", "ADDR/PREFIX", Group::kNetwork, Kind::kValue,
     "IPv4 address and prefix length of coapd's own stack, where it serves CoAP.",
     [](const Config& c) { return c.address.str(); },
     [](const std::string& v, Config& c) -> Problem {
       auto p = parse_ipv4_prefix(v);
       if (!p) return std::move(p).take_error();
       c.address = *p;
       c.address_given = true;
       return {};
     }},
    {"gateway", "ADDR", Group::kNetwork, Kind::kValue,
     "IPv4 default gateway of coapd's stack, for peers outside the --address subnet. Without "
     "it only the local subnet is reachable.",
     [](const Config& c) {
       return c.gateway ? Ipv4Prefix{*c.gateway, 32}.str() : std::string("none");
     },
     [](const std::string& v, Config& c) -> Problem {
       auto a = parse_ipv4(v);
       if (!a) return std::move(a).take_error();
       c.gateway = *a;
       c.address_given = true;
       return {};
     }},
    {"host-address", "ADDR/PREFIX|none", Group::kNetwork, Kind::kValue,
     "IPv4 address and prefix length that coapd gives to the kernel side of the TAP interface, "
     "or 'none' to leave the kernel side's addresses alone (configure them yourself).",
     [](const Config& c) { return c.host_address ? c.host_address->str() : std::string("none"); },
     [](const std::string& v, Config& c) -> Problem {
       if (v == "none") {
         c.host_address.reset();
         c.address_given = true;
         return {};
       }
       auto p = parse_ipv4_prefix(v);
       if (!p)
         return problem(
             "is not an IPv4 address with prefix length or 'none' (example: 192.0.2.1/24)");
       c.host_address = *p;
       c.address_given = true;
       return {};
     }},
    {"ipv6", "ADDR/PREFIX", Group::kNetwork, Kind::kValue,
     "IPv6 address and prefix length of coapd's stack, besides its link-local address (which it "
     "always has).",
     [](const Config& c) { return c.ipv6 ? c.ipv6->str() : std::string("none"); },
     [](const std::string& v, Config& c) -> Problem {
       auto p = parse_ipv6_prefix(v);
       if (!p) return std::move(p).take_error();
       c.ipv6 = *p;
       return {};
     }},
    {"host-ipv6", "ADDR/PREFIX", Group::kNetwork, Kind::kValue,
     "IPv6 address and prefix length that coapd gives to the kernel side of the TAP interface.",
     [](const Config& c) { return c.host_ipv6 ? c.host_ipv6->str() : std::string("none"); },
     [](const std::string& v, Config& c) -> Problem {
       auto p = parse_ipv6_prefix(v);
       if (!p) return std::move(p).take_error();
       c.host_ipv6 = *p;
       return {};
     }},
    {"mac", "MAC", Group::kNetwork, Kind::kValue,
     "Ethernet address of coapd's stack: six colon-separated hex bytes, a unicast address.",
     [](const Config&) {
       return std::string("a locally administered address derived from the TAP name");
     },
     [](const std::string& v, Config& c) -> Problem {
       auto m = parse_mac(v);
       if (!m) return std::move(m).take_error();
       c.mac = *m;
       return {};
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
    {"multicast", "on|off", Group::kUdp, Kind::kValue,
     "Join the All-CoAP-Nodes groups on the link (224.0.1.187 by IGMP, ff02::fd and ff05::fd "
     "by MLD, RFC 7252 section 12.8) and answer a NON GET sent to them of /.well-known/core "
     "(only when its filter matches something) or of a resource marked 'multicast': a NON "
     "response from coapd's own address after a random delay within --leisure, never an error, "
     "at most 64 waiting at once (more group requests meanwhile go unanswered).",
     [](const Config& c) { return std::string(c.multicast ? "on" : "off"); },
     [](const std::string& v, Config& c) { return set_bool(v, c.multicast); }},
    {"leisure", "S", Group::kUdp, Kind::kValue,
     "Seconds within which the answer to a multicast request is sent, at a random time (RFC "
     "7252 section 8.2, Leisure); 0 to 300.",
     [](const Config& c) { return format_number(c.leisure); },
     [](const std::string& v, Config& c) { return set_seconds(v, 0.0, true, 300.0, c.leisure); }},
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
    {"keepalive", "S", Group::kTcp, Kind::kValue,
     "Seconds a TCP or TLS session, or a DTLS session coapd keeps up, may be quiet (nothing "
     "received) before coapd sends a CoAP ping (TCP: a Ping signal; DTLS: an empty CON); "
     "anything the peer sends answers it. After --keepalive-misses unanswered pings the peer is "
     "dead: session_failed, reason keepalive, then a reconnect as configured. 0: off. A "
     "session may set its own (keepalive=S in --session, coapctl connect --keepalive).",
     [](const Config& c) { return format_number(c.keepalive); },
     [](const std::string& v, Config& c) {
       return set_seconds(v, 0.0, true, kMaxSeconds, c.keepalive);
     }},
    {"keepalive-misses", "N", Group::kTcp, Kind::kValue,
     "Unanswered keepalive pings in a row after which the peer is declared dead. At least 1.",
     [](const Config& c) { return std::to_string(c.keepalive_misses); },
     [](const std::string& v, Config& c) { return set_whole(v, 1, 1000, c.keepalive_misses); }},
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

    // DTLS and TLS.
    {"dtls-port", "PORT", Group::kSecurity, Kind::kValue,
     "UDP port where coapd serves CoAP over DTLS 1.2 (coaps://) when it has credentials "
     "(--psk-file, or --cert and --key); 0 disables the DTLS server. coapd's own coaps:// "
     "requests are sent from it.",
     [](const Config& c) { return std::to_string(c.dtls_port); },
     [](const std::string& v, Config& c) { return set_port(v, c.dtls_port); }},
    {"tls-port", "PORT", Group::kSecurity, Kind::kValue,
     "TCP port where coapd accepts CoAP over TLS 1.2 (coaps+tcp://) when it has credentials; 0: "
     "no TLS listener.",
     [](const Config& c) { return std::to_string(c.tls_port); },
     [](const std::string& v, Config& c) { return set_port(v, c.tls_port); }},
    {"psk-file", "FILE", Group::kSecurity, Kind::kValue,
     "Pre-shared keys the DTLS and TLS servers accept: one per line, IDENTITY KEY, separated by "
     "white space; KEY is text, or hex after 0x (0x73656372657431); '#' starts a comment.",
     [](const Config& c) { return c.psk_file.value_or("none"); },
     [](const std::string& v, Config& c) -> Problem {
       if (v.empty()) return problem("is not a file name (it is empty)");
       c.psk_file = v;
       return {};
     }},
    {"psk-hint", "TEXT", Group::kSecurity, Kind::kValue,
     "PSK identity hint of the servers. Accepted, but not sent: mbedTLS 2.28, which coapd uses, "
     "always sends an empty hint.",
     [](const Config& c) { return c.psk_hint.empty() ? std::string("none") : c.psk_hint; },
     [](const std::string& v, Config& c) -> Problem {
       c.psk_hint = v;
       return {};
     }},
    {"cert", "FILE", Group::kSecurity, Kind::kValue,
     "coapd's certificate (PEM, RSA or ECDSA; a chain, leaf first) for its DTLS and TLS servers, "
     "and for clients that ask for one. Needs --key.",
     [](const Config& c) { return c.cert_file.value_or("none"); },
     [](const std::string& v, Config& c) -> Problem {
       c.cert_file = v;
       return {};
     }},
    {"key", "FILE", Group::kSecurity, Kind::kValue, "The private key (PEM) of --cert.",
     [](const Config& c) { return c.key_file.value_or("none"); },
     [](const std::string& v, Config& c) -> Problem {
       c.key_file = v;
       return {};
     }},
    {"ca", "FILE", Group::kSecurity, Kind::kValue,
     "Trust anchors (PEM). The servers then require a client certificate that chains to one of "
     "them (mutual authentication; without --ca no client certificate is asked for), and coapd's "
     "own coaps requests verify servers against them.",
     [](const Config& c) { return c.ca_file.value_or("none"); },
     [](const std::string& v, Config& c) -> Problem {
       c.ca_file = v;
       return {};
     }},
    {"client-psk-identity", "ID", Group::kSecurity, Kind::kValue,
     "PSK identity of coapd's own coaps:// and coaps+tcp:// requests and sessions, unless a "
     "request names its own. Needs --client-psk-key.",
     [](const Config& c) { return c.client_psk_identity.value_or("none"); },
     [](const std::string& v, Config& c) -> Problem {
       if (v.empty()) return problem("is not an identity (it is empty)");
       c.client_psk_identity = v;
       return {};
     }},
    {"client-psk-key", "KEY", Group::kSecurity, Kind::kValue,
     "The key of --client-psk-identity: text, or hex after 0x.", show_none,
     [](const std::string& v, Config& c) -> Problem {
       auto key = coap::parse_psk_key(v);
       if (!key) return std::move(key).take_error();
       c.client_psk_key = std::move(*key);
       return {};
     }},
    {"handshake-timeout", "S", Group::kSecurity, Kind::kValue,
     "Seconds a DTLS or TLS handshake may take; a handshake not done by then fails "
     "(handshake_failed, reason timeout). Greater than 0.",
     [](const Config& c) { return format_number(c.handshake_timeout); },
     [](const std::string& v, Config& c) {
       return set_seconds(v, 0.0, false, kMaxSeconds, c.handshake_timeout);
     }},
    {"max-handshakes", "N", Group::kSecurity, Kind::kValue,
     "DTLS and TLS handshakes under way at once; more are refused and counted "
     "(handshake_failed, reason limit). At least 1.",
     [](const Config& c) { return std::to_string(c.max_handshakes); },
     [](const std::string& v, Config& c) { return set_whole(v, 1, kU32Max, c.max_handshakes); }},

    // Outgoing sessions.
    {"session", "SPEC", Group::kSessions, Kind::kRepeatable,
     "Open an outgoing session at start-up and keep it up, reconnecting when it fails; "
     "repeatable. SPEC is coap+tcp://HOST[:PORT][/PATH] (CoAP over TCP, port 5683 by default), "
     "coaps+tcp://HOST[:PORT] (over TLS, port 5684) or coaps://HOST[:PORT] (over DTLS, port "
     "5684; a new handshake replaces a failed one as a reconnect), HOST an IPv4 address or a "
     "bracketed IPv6 address, followed by any of these comma-separated items: 'call-home' "
     "(coapd connects, then serves the peer's requests: RFC 8323 role reversal; over DTLS, "
     "coapd is the DTLS client and serves requests on the session); 'reconnect-interval=S' "
     "(seconds before reconnecting, default 1); 'reconnect-max-interval=S' (when greater than "
     "the interval, the wait doubles after each failed attempt up to S; default 0, no backoff); "
     "'reconnect-attempts=N' (give up after N failed attempts; default 0, never give up); for "
     "coaps+tcp:// and coaps:// also 'psk-identity=ID' and 'psk-key=KEY' (KEY as text or "
     "0x-hex; default --client-psk-identity/--client-psk-key, else --cert/--key) and "
     "'insecure' (do not verify the server's certificate).",
     show_none,
     [](const std::string& v, Config& c) -> Problem {
       auto s = parse_session(v);
       if (!s) return std::move(s).take_error();
       c.sessions.push_back(*s);
       return {};
     }},
    {"connect-timeout", "S", Group::kSessions, Kind::kValue,
     "Seconds an outgoing TCP connection attempt may take before it counts as failed. Greater "
     "than 0.",
     [](const Config& c) { return format_number(c.connect_timeout); },
     [](const std::string& v, Config& c) {
       return set_seconds(v, 0.0, false, kMaxSeconds, c.connect_timeout);
     }},

    // Resources.
    {"resource", "SPEC", Group::kResources, Kind::kRepeatable,
     "Serve a resource of your own besides the built-in ones; repeatable. SPEC is its path "
     "(e.g. /sensors/temp) followed by comma-separated items: 'ct=N' (content-format of the "
     "value, default 0), 'rt=X', 'if=X', 'title=X', 'sz=N' (link attributes in "
     "/.well-known/core), 'obs' (observable: observers are notified of every change), "
     "'methods=LIST' (any of get, put, post, delete, fetch, patch, ipatch joined by '|', "
     "default get), 'max-age=S', 'delay=MS' (a separate response: an empty ACK at once, the "
     "response MS milliseconds later), 'multicast', and last 'value=TEXT' (the initial "
     "payload, the rest of SPEC, commas included) or 'file=PATH' (the initial payload read "
     "from a file). Example: /temp,obs,methods=get|put,value=21.5",
     show_none,
     [](const std::string& v, Config& c) -> Problem {
       auto s = coap::parse_resource_entry(v);
       if (!s) return std::move(s).take_error();
       c.resources.push_back(std::move(*s));
       return {};
     }},
    {"resource-dir", "DIR", Group::kResources, Kind::kValue,
     "Serve every regular file below DIR at its path relative to DIR (DIR/sensors/temp.txt is "
     "/sensors/temp.txt), observable, with the content-format its name says: .txt 0, .json 50, "
     ".cbor 60, .xml 41, .senml.json 110, .senml.cbor 112, .link 40, anything else 42. A PUT "
     "replaces the file atomically (a temporary file in the same directory, fsync, rename) or "
     "creates it, a POST to a directory creates a file named by a number (2.01 with "
     "Location-Path), a DELETE removes it; changes made on disk by others notify observers. "
     "Paths that would leave DIR ('..', symbolic links, which are never followed) get 4.03; "
     "nothing outside DIR is read or written. Files larger than --max-resource-size are not "
     "served. Default: none.",
     [](const Config& c) { return c.resource_dir.empty() ? std::string("none") : c.resource_dir; },
     [](const std::string& v, Config& c) -> Problem {
       if (v.empty()) return problem("is empty");
       c.resource_dir = v;
       return {};
     }},
    {"max-resources", "N", Group::kResources, Kind::kValue,
     "User resources at once (config, coapctl resource add); adding one more fails with an "
     "error. At least 1.",
     [](const Config& c) { return std::to_string(c.max_resources); },
     [](const std::string& v, Config& c) { return set_whole(v, 1, 1000000, c.max_resources); }},
    {"max-resource-size", "BYTES", Group::kResources, Kind::kValue,
     "Largest value of a user resource: a PUT, POST or patch leaving a larger one gets 4.13, "
     "coapctl resource set refuses it. At least 1.",
     [](const Config& c) { return std::to_string(c.max_resource_size); },
     [](const std::string& v, Config& c) {
       return set_whole(v, 1, uint64_t{64} << 20, c.max_resource_size);
     }},

    // Control and logging.
    {"control-socket", "PATH", Group::kControl, Kind::kValue,
     "Unix stream socket where coapd accepts coapctl(1) commands.",
     [](const Config& c) { return c.control_socket; },
     [](const std::string& v, Config& c) -> Problem {
       if (Problem p = check_socket_path(v); !p) return p;
       c.control_socket = v;
       return {};
     }},
    {"log-level", "LEVEL", Group::kControl, Kind::kValue,
     "Least severe messages logged: trace, debug, info, warn, error, critical or off.",
     [](const Config& c) { return c.log_level; },
     [](const std::string& v, Config& c) -> Problem {
       if (std::find(kLogLevels.begin(), kLogLevels.end(), v) == kLogLevels.end())
         return problem("is not a log level (trace, debug, info, warn, error, critical or off)");
       c.log_level = v;
       return {};
     }},
    {"metrics-listen", "ADDR:PORT", Group::kControl, Kind::kValue,
     "Serve every counter, pcb count, session count and latency histogram in the Prometheus "
     "text format (the same as `coapctl stats --prometheus`) at GET /metrics over HTTP on "
     "this host address, for a Prometheus server to scrape: an IPv4 or bracketed IPv6 "
     "address and a port, such as 127.0.0.1:9464 or [::1]:9464. It is a kernel socket of the "
     "host, not an address of coapd's own stack. 'off' serves nothing.",
     [](const Config& c) { return c.metrics_listen.str(); },
     [](const std::string& v, Config& c) -> Problem {
       return parse_listen_address(v, c.metrics_listen);
     }},
    {"cpu-placement", "MODE", Group::kControl, Kind::kValue,
     "Where the io thread and the CoAP engine thread run. 'auto': on one core while the "
     "traffic is mostly CoAP over UDP at a high rate and its datagrams come in trains (each "
     "datagram is handed from one thread to the other, and a hand-off across cores costs more "
     "than running in parallel gains; one datagram at a time is handed over faster across "
     "cores), otherwise wherever the scheduler puts them. 'shared': always on one core. 'spread': "
     "never pinned.",
     [](const Config& c) { return c.cpu_placement; },
     [](const std::string& v, Config& c) -> Problem {
       if (v != "auto" && v != "spread" && v != "shared")
         return problem("is not auto, spread or shared");
       c.cpu_placement = v;
       return {};
     }},
    {"busy-poll", "US", Group::kControl, Kind::kValue,
     "Microseconds that the io thread (after frames came off the TAP) and the CoAP engine "
     "(after a pass with work) keep looking for more work, yielding the CPU, before they "
     "sleep. The next frame of a conversation usually follows within tens of microseconds, "
     "and waking a sleeping thread costs more than that (most of all in a virtual machine). "
     "Costs CPU time only while traffic flows, at most this long after each burst. 0: never; "
     "at most 10000.",
     [](const Config& c) { return std::to_string(c.busy_poll_us); },
     [](const std::string& v, Config& c) { return set_whole(v, 0, 10000, c.busy_poll_us); }},
    {"debug-commands", "", Group::kControl, Kind::kFlag,
     "Accept coapctl's debug commands, which can stall coapd on purpose. For tests only.",
     [](const Config& c) { return std::string(c.debug_commands ? "on" : "off"); },
     [](const std::string& v, Config& c) { return set_bool(v, c.debug_commands); }},
};

}  // namespace

const std::vector<OptionSpec>& options() { return kOptions; }

const OptionSpec* find_option(std::string_view name) {
  for (const auto& o : kOptions) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

std::string shown_value(const OptionSpec& o, const std::string& value) {
  if (o.name == "client-psk-key") return "the key";
  return "'" + value + "'";
}

}  // namespace config::detail

namespace config {

std::vector<std::string> changed_options(const Config& a, const Config& b) {
  std::vector<std::string> out;
  for (const detail::OptionSpec& o : detail::options()) {
    if (!o.apply) continue;  // --config
    const bool changed = o.name == "session"          ? a.sessions != b.sessions
                         : o.name == "client-psk-key" ? a.client_psk_key != b.client_psk_key
                                                      : o.show(a) != o.show(b);
    if (changed) out.emplace_back(o.name);
  }
  return out;
}

}  // namespace config
