// The public vocabulary of coap::Endpoint (coap/endpoint.h): its
// configuration, the interfaces it talks through (NetworkIo out,
// EndpointListener up), what a client request is and returns, and what the
// endpoint reports about its sessions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "coap/address.h"
#include "coap/code.h"
#include "coap/event.h"
#include "coap/resource.h"
#include "coap/security.h"
#include "coap/time.h"
#include "coap/uri.h"

namespace coap {

using ConnId = uint64_t;
using RequestId = uint64_t;

// coapd's two UDP ports: CoAP (5683) and CoAP over DTLS (5684).
enum class UdpSocket : uint8_t { kPlain, kSecure };

struct EndpointConfig {
  // RFC 7252 section 4.8 transmission parameters.
  Duration ack_timeout = seconds(2);
  double ack_random_factor = 1.5;
  unsigned max_retransmit = 4;

  // Duplicate detection (UDP).
  std::size_t dedup_entries = 16384;
  std::size_t dedup_max_response = 1280;
  // UDP peers are forgotten after this much silence, or the least recently
  // active one when there are max_udp_sessions.
  std::size_t max_udp_sessions = 4096;
  Duration udp_session_timeout = seconds(300);
  // Payload size of Block2 blocks over UDP.
  std::size_t udp_block_size = 1024;
  // Largest request body accepted in Block1 blocks.
  std::size_t max_body_size = 1 << 20;
  // User resources (config, resource directory, coapctl) at once; adding one
  // more fails with an error.
  std::size_t max_user_resources = 1000;
  // RFC 7252 8.2: a response to a multicast request waits a random time
  // within Leisure.
  Duration leisure = seconds(5);

  // CoAP over TCP.
  std::size_t max_tcp_sessions = 256;
  Duration tcp_idle_timeout = seconds(300);  // zero: never
  Duration csm_timeout = seconds(5);
  std::size_t max_message_size = 128 * 1024 + 1024;  // announced in our CSM
  std::size_t max_queued_bytes = 1 << 20;            // per session, waiting for TCP
  Duration connect_timeout = seconds(10);            // per outgoing attempt
  Duration close_linger = seconds(5);  // time to flush queued bytes before a close becomes an abort

  // Keepalive: a session (TCP, TLS, or an outgoing DTLS one) from which
  // nothing came for this long gets a CoAP ping (TCP: Ping; DTLS: an empty
  // CON); after keepalive_misses unanswered ones the peer is dead. Zero: off.
  // An outgoing session's SessionSpec may set its own.
  Duration keepalive = Duration::zero();
  uint32_t keepalive_misses = 2;

  // DTLS and TLS.
  Duration handshake_timeout = seconds(10);
  std::size_t max_handshakes = 64;  // concurrent; more are refused (handshake_failed "limit")
  // Over plain UDP, a response to a peer whose address is not verified is
  // at most this many times the size of its request (RFC 7252 11.3); a
  // larger one waits for an Echo round trip (RFC 9175 2.4). 0: no limit.
  std::size_t amplification_factor = 3;

  // RFC 7252 EXCHANGE_LIFETIME for these parameters.
  Duration exchange_lifetime() const;
  // RFC 7252 MAX_TRANSMIT_WAIT.
  Duration max_transmit_wait() const;
};

// How the endpoint's commands reach the network. Called on the endpoint's
// thread only, never re-entrantly.
class NetworkIo {
 public:
  virtual ~NetworkIo() = default;
  virtual void send_datagram(UdpSocket socket, const Address& to,
                             std::span<const uint8_t> bytes) = 0;
  // Starts a connection; its outcome arrives as on_tcp_connected or
  // on_tcp_error with this id.
  virtual ConnId tcp_connect(const Address& to) = 0;
  // The connection has bytes in tcp_pending(); the caller hands them to TCP
  // and reports with tcp_written().
  virtual void tcp_want_write(ConnId conn) = 0;
  // The endpoint has consumed n received bytes: open the window by n.
  virtual void tcp_consumed(ConnId conn, std::size_t n) = 0;
  // Orderly close (FIN) after everything written so far. No event for this
  // connection reaches the endpoint afterwards.
  virtual void tcp_close(ConnId conn) = 0;
  // Immediate close (RST, or nothing for a connection still in SYN_SENT).
  virtual void tcp_abort(ConnId conn) = 0;
};

enum class TcpError : uint8_t { kReset, kTimeout, kUnreachable, kAborted, kOther };
const char* tcp_error_name(TcpError e);

struct ClientResult {
  // kDeregistered: an observation ended on request (Endpoint::cancel_observe).
  enum class Status : uint8_t { kResponse, kTimeout, kCancelled, kError, kDeregistered };
  Status status = Status::kError;
  Code code;
  std::vector<std::pair<uint16_t, std::vector<uint8_t>>> options;
  std::vector<uint8_t> payload;
  std::string error;  // for kError/kTimeout/kCancelled: a sentence
  SessionId session = 0;

  // A request that ended without a response: status is kError, kTimeout or
  // kCancelled, why a sentence.
  static ClientResult failed(Status status, SessionId session, std::string why);
};
// A request that failed (kError).
inline ClientResult client_error(SessionId session, std::string why) {
  return ClientResult::failed(ClientResult::Status::kError, session, std::move(why));
}
const char* client_status_name(ClientResult::Status s);

// One answer to a multicast discovery (coapctl discover).
struct DiscoveredNode {
  Address from;
  std::string links;  // its /.well-known/core (RFC 6690 link format)
};

class EndpointListener {
 public:
  virtual ~EndpointListener() = default;
  virtual void on_event(const Event& event) = 0;
  // Exactly once per start_request() and start_observe().
  virtual void on_request_done(RequestId id, ClientResult result) = 0;
  // A notification of observation `id` (start_observe), newer than every one
  // before it, with its Observe sequence number; the registration's own
  // response is the first. Before that observation's on_request_done.
  virtual void on_notification(RequestId id, uint32_t seq, const ClientResult& notification) {
    (void)id, (void)seq, (void)notification;
  }
};

enum class Role : uint8_t { kServer, kClient };
enum class SessionState : uint8_t {
  kConnecting,  // outgoing TCP: SYN sent
  kCsmWait,     // TCP up, peer's CSM not yet received
  kEstablished,
  kClosing,        // closing after the queued bytes are written
  kReconnectWait,  // outgoing TCP: waiting for the next attempt
  kHandshaking,    // DTLS/TLS handshake under way
};
const char* role_name(Role r);
const char* session_state_name(SessionState s);

// What a TCP listener accepts: CoAP over TCP, call-home devices, or CoAP
// over TLS.
enum class ListenerKind : uint8_t { kServer, kCallHome, kSecure };

// An outgoing TCP session (coapctl connect, or the config file).
struct SessionSpec {
  Address peer;
  // Actual-Server side of call-home (RFC 8323 role reversal): coapd opens
  // the connection and serves requests on it.
  bool call_home = false;
  bool reconnect = true;
  Duration reconnect_interval = seconds(1);
  // Exponential backoff up to this cap when larger than the interval.
  Duration reconnect_max_interval = Duration::zero();
  uint32_t reconnect_attempts = 0;  // 0: forever
  // CoAP over TCP (coap+tcp://, coaps+tcp://), or over DTLS (coaps://: a
  // DTLS session coapd keeps up, re-handshaking as TCP sessions reconnect).
  Proto proto = Proto::kTcp;
  // Over TLS or DTLS, with these client choices.
  bool secure = false;
  ClientSecurity security;
  // This session's keepalive interval instead of EndpointConfig::keepalive
  // (zero: off for this session).
  std::optional<Duration> keepalive;
};

struct ClientRequest {
  Code method = codes::kGet;
  Uri uri;
  std::vector<uint8_t> payload;
  std::optional<uint32_t> content_format;
  std::optional<uint32_t> accept;
  Duration timeout = seconds(30);
  SessionId session = 0;    // send on this session instead of choosing by URI
  ClientSecurity security;  // for coaps:// and coaps+tcp:// URIs
  // UDP: false sends a NON request (RFC 7252 4.3): not retransmitted; the
  // response may come NON. TCP has no message types and ignores it.
  bool confirmable = true;
  // More options, sent as given after those above (No-Response, say).
  std::vector<std::pair<uint16_t, std::vector<uint8_t>>> options;
  // The caller's token (0 to 8 bytes), unique among open requests; without
  // one the request gets 8 unpredictable bytes.
  std::optional<Token> token;
  // Block size exponent (16 << szx bytes, 0..6) for Block1 uploads and asked
  // of the server for Block2 (RFC 7959 2.4); default from the endpoint.
  // 7 is BERT (RFC 8323 6): over TCP to a peer whose CSM offers block-wise
  // transfers and a Max-Message-Size above 1152, each message carries as
  // many 1024-byte blocks as fit, at most bert_bytes (0: no cap); to any
  // other peer it is taken as 6 (1024 bytes).
  std::optional<uint8_t> block_szx;
  std::size_t bert_bytes = 0;
};

// An observation coapd holds as a client (Endpoint::client_observations).
struct ClientObservationInfo {
  RequestId id = 0;
  std::string uri;
  SessionId session = 0;
  Token token;
  uint64_t notifications = 0;
  uint32_t last_seq = 0;
  bool registered = false;  // a notification arrived since the last (re)registration
  bool deregistering = false;
};

struct SessionInfo {
  SessionId id;
  Proto proto;
  Role role;
  SessionState state;
  Address peer;
  Address local;
  Duration age;
  uint64_t bytes_in, bytes_out, msgs_in, msgs_out;
  bool outgoing;
  bool call_home;
  uint32_t reconnect_attempt;
  std::size_t queued_bytes;
  std::size_t observers;
  bool secure;            // DTLS or TLS
  PeerSecurity security;  // once the handshake is done
};

struct EndpointCounters {
  uint64_t datagrams_in = 0;
  uint64_t datagrams_out = 0;
  uint64_t requests = 0;     // requests received and answered or dropped
  uint64_t responses = 0;    // responses sent
  uint64_t bad_packets = 0;  // malformed datagrams or frames
  uint64_t duplicates = 0;   // retransmitted requests answered from the cache
  uint64_t rst_sent = 0;
  uint64_t client_requests = 0;   // requests coapd sent as a client
  uint64_t client_responses = 0;  // responses coapd received as a client
  uint64_t retransmissions = 0;
  uint64_t notifications = 0;
  uint64_t tcp_accepted = 0;
  uint64_t tcp_rejected = 0;
  uint64_t pings = 0;                 // pings received (TCP Ping signals)
  uint64_t keepalive_pings = 0;       // keepalive pings sent
  uint64_t keepalive_misses = 0;      // of those, unanswered in their interval
  uint64_t handshakes = 0;            // DTLS/TLS handshakes completed
  uint64_t handshake_failures = 0;    // failed or refused
  uint64_t dtls_cookies_sent = 0;     // HelloVerifyRequests
  uint64_t echo_challenges = 0;       // 4.01 with Echo (RFC 9175)
  uint64_t responses_suppressed = 0;  // not sent: the request's No-Response (RFC 7967)
};

}  // namespace coap
