// The CoAP endpoint: everything coapd does with CoAP, as a state machine
// that takes bytes, connection events and time, and produces bytes, connection
// commands and events. It does no I/O and reads no clock: the caller passes
// `now` in, and a NetworkIo implementation carries the commands out.
//
// Threading: an Endpoint is used by one thread at a time (coapd's engine
// thread). It never calls back into its caller's locks except through
// NetworkIo and EndpointListener, which must not re-enter the Endpoint.
//
// Sessions: a session is the state coapd keeps per peer: one per UDP peer
// address, one per TCP connection (accepted or outgoing). An outgoing TCP
// session that reconnects keeps its id across connections.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "coap/address.h"
#include "coap/dedup_cache.h"
#include "coap/dispatcher.h"
#include "coap/message.h"
#include "coap/resource.h"
#include "coap/time.h"
#include "coap/timer_queue.h"
#include "coap/uri.h"

namespace coap {

using ConnId = uint64_t;
using RequestId = uint64_t;

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

  // CoAP over TCP.
  std::size_t max_tcp_sessions = 256;
  Duration tcp_idle_timeout = seconds(300);  // zero: never
  Duration csm_timeout = seconds(5);
  std::size_t max_message_size = 128 * 1024 + 1024;  // announced in our CSM
  std::size_t max_queued_bytes = 1 << 20;            // per session, waiting for TCP
  Duration connect_timeout = seconds(10);            // per outgoing attempt
  Duration close_linger = seconds(5);  // time to flush queued bytes before a close becomes an abort

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
  virtual void send_datagram(const Address& to, std::span<const uint8_t> bytes) = 0;
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

// An event of the session lifecycle, reported exactly once per occurrence.
struct Event {
  TimePoint time;
  const char* name;  // static string: "tcp_connected", "session_closed", ...
  SessionId session = 0;
  Address peer;
  std::string reason;  // why a session ended or an attempt failed; may be empty
  uint32_t attempt = 0;  // reconnect attempt number, for reconnect events
};

struct ClientResult {
  enum class Status : uint8_t { kResponse, kTimeout, kCancelled, kError };
  Status status = Status::kError;
  Code code;
  std::vector<std::pair<uint16_t, std::vector<uint8_t>>> options;
  std::vector<uint8_t> payload;
  std::string error;  // for kError/kTimeout/kCancelled: a sentence
  SessionId session = 0;
};
const char* client_status_name(ClientResult::Status s);

class EndpointListener {
 public:
  virtual ~EndpointListener() = default;
  virtual void on_event(const Event& event) = 0;
  // Exactly once per start_request().
  virtual void on_request_done(RequestId id, ClientResult result) = 0;
};

enum class Role : uint8_t { kServer, kClient };
enum class SessionState : uint8_t {
  kConnecting,      // outgoing TCP: SYN sent
  kCsmWait,         // TCP up, peer's CSM not yet received
  kEstablished,
  kClosing,         // closing after the queued bytes are written
  kReconnectWait,   // outgoing TCP: waiting for the next attempt
};
const char* role_name(Role r);
const char* session_state_name(SessionState s);

enum class ListenerKind : uint8_t { kServer, kCallHome };

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
};

struct ClientRequest {
  Code method = codes::kGet;
  Uri uri;
  std::vector<uint8_t> payload;
  std::optional<uint32_t> content_format;
  std::optional<uint32_t> accept;
  Duration timeout = seconds(30);
  SessionId session = 0;  // send on this session instead of choosing by URI
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
};

struct EndpointCounters {
  uint64_t datagrams_in = 0;
  uint64_t datagrams_out = 0;
  uint64_t requests = 0;        // requests received and answered or dropped
  uint64_t responses = 0;       // responses sent
  uint64_t bad_packets = 0;     // malformed datagrams or frames
  uint64_t duplicates = 0;      // retransmitted requests answered from the cache
  uint64_t rst_sent = 0;
  uint64_t client_requests = 0;   // requests coapd sent as a client
  uint64_t client_responses = 0;  // responses coapd received as a client
  uint64_t retransmissions = 0;
  uint64_t notifications = 0;
  uint64_t tcp_accepted = 0;
  uint64_t tcp_rejected = 0;
  uint64_t pings = 0;
};

class Endpoint {
 public:
  // random_seed drives Message IDs, tokens, retransmission jitter and the
  // secrets of the tables keyed by peer address: it must be unpredictable
  // to peers.
  Endpoint(const EndpointConfig& config, ResourceDirectory& resources, NetworkIo& io,
           EndpointListener& listener, uint64_t random_seed);
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  // --- input ---------------------------------------------------------------
  void on_datagram(const Address& from, std::span<const uint8_t> bytes, TimePoint now);

  void on_tcp_accepted(ConnId conn, ListenerKind kind, const Address& peer, const Address& local,
                       TimePoint now);
  void on_tcp_connected(ConnId conn, const Address& local, TimePoint now);
  void on_tcp_data(ConnId conn, std::span<const uint8_t> bytes, TimePoint now);
  void on_tcp_peer_closed(ConnId conn, TimePoint now);
  // The connection is gone (its pcb freed); nothing may be sent on it.
  void on_tcp_error(ConnId conn, TcpError error, TimePoint now);
  // TCP accepted some of our bytes: there may be room for more.
  void on_tcp_writable(ConnId conn, TimePoint now);

  // Runs every timer due at `now`.
  void on_timer(TimePoint now);
  // Earliest time on_timer has work; kNever when idle.
  TimePoint next_deadline() const;

  // --- TCP output, pulled by the caller after tcp_want_write -------------------
  std::span<const uint8_t> tcp_pending(ConnId conn) const;
  void tcp_written(ConnId conn, std::size_t n, TimePoint now);

  // --- client ----------------------------------------------------------------
  // Sends a request; the result arrives once through on_request_done.
  // REQUIRES: `id` is not the id of a request still outstanding (it names
  // the request in on_request_done).
  void start_request(RequestId id, ClientRequest request, TimePoint now);
  // Opens (or returns the existing) outgoing TCP session to spec.peer.
  // Returns 0 and sets *error on failure.
  SessionId open_session(const SessionSpec& spec, TimePoint now, std::string* error,
                         bool* existed = nullptr);
  // Closes a session on request: Release, then FIN; no reconnect. False if
  // there is no such session.
  bool close_session(SessionId id, TimePoint now);
  // Closes every session and cancels every request (daemon shutdown).
  void shutdown(TimePoint now);

  // --- introspection -------------------------------------------------------------
  std::vector<SessionInfo> sessions(TimePoint now) const;
  const EndpointCounters& counters() const { return counters_; }
  std::size_t session_count() const;
  std::size_t dedup_entries() const { return dedup_.size(); }
  std::size_t observation_count() const;
  std::size_t exchange_count() const { return exchanges_.size(); }
  const EndpointConfig& config() const { return config_; }

 private:
  struct Session;
  struct Exchange;
  struct ConTransmission;
  struct Observation;

  enum TimerKind : uint8_t {
    kTimerCsm,
    kTimerIdle,
    kTimerConnect,
    kTimerReconnect,
    kTimerLinger,
    kTimerRetransmit,
    kTimerRequest,
    kTimerObserve,
    kTimerSweep,
  };

  // Sessions and timers (endpoint.cc).
  Session* find_session(SessionId id) const;
  Session* session_for_conn(ConnId conn) const;
  Session& new_session(Proto proto, Role role, const Address& peer, TimePoint now);
  // Takes the session out of every table (events, requests and observations
  // end with it); the object itself lives until reap().
  void remove_session(Session& s, TimePoint now);
  // End of every public entry point: sends notifications for resources that
  // changed, then frees removed sessions.
  void reap();
  void emit(const char* name, const Session& s, TimePoint now, std::string reason = {},
            uint32_t attempt = 0);
  void bad_packet(const Address& from, SessionId session, std::string reason, TimePoint now);
  void arm(TimePoint when, TimerKind kind, uint64_t key, uint64_t generation);
  void arm_sweep(TimePoint when);
  void sweep(TimePoint now);

  // UDP (endpoint.cc).
  Session& udp_session(const Address& peer, Role role, TimePoint now);
  void handle_udp_request(Session& s, const Message& m, std::span<const uint8_t> raw,
                          TimePoint now);
  void handle_udp_response(Session& s, const Message& m, std::size_t size, TimePoint now);
  void handle_udp_ack_rst(Session& s, const Message& m, std::size_t size, TimePoint now);
  void send_rst(const Address& to, uint16_t mid);
  // Sends a CON and retransmits it until acknowledged; returns its id.
  uint64_t send_udp_con(Session& s, std::span<const uint8_t> wire, uint16_t mid, uint8_t kind,
                        uint64_t ref, TimePoint now);
  void remove_con(uint64_t id);
  static uint64_t con_key(SessionId session, uint16_t mid);
  void on_retransmit_timer(uint64_t id, uint64_t generation, TimePoint now);
  uint16_t next_mid(Session& s);
  // Dispatches a request and handles Observe; the answer is left in out_.
  void serve(Session& s, const Message& m, TimePoint now);

  // TCP (endpoint_tcp.cc).
  void tcp_send(Session& s, Code code, const Token& token, const OptionList& options,
                std::span<const uint8_t> payload, bool priority = false);
  void tcp_send_csm(Session& s);
  void tcp_feed(Session& s, std::span<const uint8_t> bytes, TimePoint now);
  bool tcp_handle_frame(Session& s, const Message& m, std::size_t frame_size, TimePoint now);
  void tcp_handle_signal(Session& s, const Message& m, TimePoint now);
  void tcp_session_established(Session& s, TimePoint now);
  void tcp_abort_session(Session& s, std::string_view diagnostic, std::string reason,
                         TimePoint now);
  // Orderly close: our Release (when `release`), the queued bytes, then FIN.
  void tcp_begin_close(Session& s, bool release, std::string reason, bool failed, TimePoint now);
  void tcp_finish_close(Session& s, TimePoint now);
  // The connection is gone: events, then reconnect or removal.
  void tcp_connection_ended(Session& s, bool tcp_failed, bool session_failed, std::string reason,
                            TimePoint now);
  void attempt_failed(Session& s, const std::string& reason, TimePoint now);
  void schedule_reconnect(Session& s, TimePoint now);
  void start_attempt(Session& s, TimePoint now);
  void on_tcp_timer(const Timer& t, TimePoint now);
  DispatchLimits tcp_limits(const Session& s) const;
  std::size_t tcp_session_count() const;

  // Client (endpoint_client.cc).
  Token new_token();
  Session* tcp_session_for_request(const ClientRequest& r, TimePoint now, std::string* error);
  void send_exchange(Exchange& x, TimePoint now);
  bool handle_client_response(Session& s, const Message& m, TimePoint now);
  void complete_exchange(RequestId id, ClientResult result);
  void fail_session_exchanges(Session& s, const std::string& why, bool include_waiting);

  // Observe (endpoint_observe.cc).
  // The Observe sequence number of the registration, or nullopt when the
  // limits leave no room (the request is then answered as a plain GET).
  std::optional<uint32_t> observe_register(Session& s, Resource& r, const Token& token,
                                           TimePoint now);
  void observe_deregister(Session& s, const Token& token);
  void remove_observation(uint64_t id);
  void drop_observations(Session& s);
  void on_observe_tick(uint64_t index, TimePoint now);
  void notify(Observation& o, TimePoint now);
  // Sends a CON notification to every UDP observer whose check is due;
  // returns when the next one is due (part of the sweep).
  TimePoint recheck_observers(TimePoint now);

  EndpointConfig config_;
  ResourceDirectory& resources_;
  NetworkIo& io_;
  EndpointListener& listener_;
  // First: the hash secrets of dedup_ and udp_sessions_ are drawn from it.
  std::mt19937_64 rng_;
  Dispatcher dispatcher_;
  DedupCache dedup_;
  TimerQueue timers_;
  EndpointCounters counters_;
  TimePoint now_{};  // time of the call being processed
  TimePoint sweep_at_ = kNever;

  SessionId next_session_id_ = 1;
  std::unordered_map<SessionId, std::unique_ptr<Session>> sessions_;
  std::vector<std::unique_ptr<Session>> graveyard_;
  std::unordered_map<ConnId, SessionId> conn_sessions_;
  std::unordered_map<Address, SessionId, AddressHash> udp_sessions_;

  std::unordered_map<RequestId, std::unique_ptr<Exchange>> exchanges_;
  std::unordered_map<uint64_t, RequestId> exchange_by_token_;
  uint64_t token_counter_;
  std::unordered_map<uint64_t, std::unique_ptr<ConTransmission>> con_transmissions_;
  std::unordered_map<uint64_t, uint64_t> con_by_mid_;  // con_key -> transmission id
  uint64_t next_con_id_ = 1;

  std::unordered_map<uint64_t, std::unique_ptr<Observation>> observations_;
  uint64_t next_observation_id_ = 1;
  uint32_t observe_seq_ = 0;
  struct Ticking {
    Resource* resource;
    bool armed;
  };
  std::vector<Ticking> ticking_;  // observable resources with a notify interval
  std::vector<Resource*> changed_resources_;

  Message msg_;                // parse target, reused
  DispatchOutput out_;         // dispatch result, reused
  std::vector<uint8_t> wire_;  // encode buffer, reused
};

}  // namespace coap
