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
//
// Inside, the endpoint is the coordinator of nouns that each own their data:
// SessionTable (coap/session.h), ConTracker (CON retransmission),
// ObserveRegistry, ExchangeTable (client requests), DedupCache, Dispatcher and
// TimerQueue. Its implementation is split by concern: endpoint.cc (entry,
// timers, accounting), endpoint_udp.cc, endpoint_tcp.cc, endpoint_outgoing.cc,
// endpoint_client.cc, endpoint_observe.cc.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "coap/con_tracker.h"
#include "coap/dedup_cache.h"
#include "coap/dispatcher.h"
#include "coap/endpoint_types.h"
#include "coap/exchange_table.h"
#include "coap/message.h"
#include "coap/observe_registry.h"
#include "coap/resource.h"
#include "coap/result.h"
#include "coap/security.h"
#include "coap/session.h"
#include "coap/timer_queue.h"

namespace coap {

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

  // Turns on coaps:// and coaps+tcp://: client sessions always, server
  // sessions when the context can serve. Before any input; not owned.
  Status set_security(SecurityContext* context);

  // --- input ---------------------------------------------------------------
  void on_datagram(const Address& from, std::span<const uint8_t> bytes, TimePoint now) {
    on_datagram(UdpSocket::kPlain, from, bytes, now);
  }
  void on_datagram(UdpSocket socket, const Address& from, std::span<const uint8_t> bytes,
                   TimePoint now);

  // A datagram sent to a multicast group coapd joined (RFC 7252 8): only a
  // NON GET of /.well-known/core (when its filter matches) or of a resource
  // marked multicast is answered, with a NON, after a random delay within
  // Leisure; nothing else, and never an error, gets an answer.
  void on_group_datagram(const Address& from, std::span<const uint8_t> bytes, TimePoint now);
  // Answers to multicast requests waiting for their time (at most
  // kMaxGroupResponses: more requests meanwhile go unanswered).
  std::size_t group_responses() const { return group_responses_.size(); }
  static constexpr std::size_t kMaxGroupResponses = 64;

  // Sends a NON GET /.well-known/core to a multicast group from coapd's own
  // address and collects every answer (one per responder, the latest kept)
  // for `wait`; then done runs, exactly once (also at shutdown), on the
  // caller's thread of the endpoint. At most kMaxDiscoveries at once and
  // kMaxDiscovered answers each; false (done not called) when too many run.
  using DiscoveryDone = std::function<void(std::vector<DiscoveredNode>)>;
  bool start_discovery(const Address& group, Duration wait, TimePoint now, DiscoveryDone done);
  static constexpr std::size_t kMaxDiscoveries = 8;
  static constexpr std::size_t kMaxDiscovered = 1024;

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
  TimePoint next_deadline() const { return timers_.next(); }

  // --- TCP output, pulled by the caller after tcp_want_write -------------------
  std::span<const uint8_t> tcp_pending(ConnId conn) const;
  void tcp_written(ConnId conn, std::size_t n, TimePoint now);

  // --- client ----------------------------------------------------------------
  // Sends a request; the result arrives once through on_request_done.
  // REQUIRES: `id` is not the id of a request still outstanding (it names
  // the request in on_request_done).
  void start_request(RequestId id, ClientRequest request, TimePoint now);
  // Observes request.uri (RFC 7641): a GET (or FETCH) with Observe 0. Each
  // notification newer than those before it (RFC 7641 3.4; Block2 ones put
  // together first) comes through on_notification; when Max-Age runs out
  // without one coapd re-registers, and on an outgoing session that
  // reconnects it re-registers after every reconnect (observe_reregistered).
  // Exactly one on_request_done ends it: a response without Observe (the
  // resource is not observable) or an error response, a registration that
  // is not answered (timeout), the session's end, or kDeregistered after
  // cancel_observe.
  // REQUIRES: as for start_request.
  void start_observe(RequestId id, ClientRequest request, TimePoint now);
  // Deregisters observation `id` (a GET with Observe 1 and its token); it
  // ends once answered, or unanswered after its timeout. False if there is no
  // such observation, or it is being deregistered already.
  bool cancel_observe(RequestId id, TimePoint now);
  std::vector<ClientObservationInfo> client_observations() const;
  struct OpenedSession {
    SessionId id;
    bool existed;  // an outgoing session to that peer and role was already open
  };
  // Opens (or finds the existing) outgoing TCP session to spec.peer.
  Result<OpenedSession> open_session(const SessionSpec& spec, TimePoint now);
  // Closes a session on request: Release, then FIN; no reconnect. False if
  // there is no such session.
  bool close_session(SessionId id, TimePoint now);
  // Closes every session and cancels every request (daemon shutdown).
  void shutdown(TimePoint now);

  // --- resources the user defines (endpoint_resources.cc) -------------------
  // Adds r to the directory; fails when its path is taken or there are
  // max_user_resources user resources already.
  Status add_resource(std::unique_ptr<Resource> r, TimePoint now);
  // Gives a user resource a new value (ct nullopt: keep its content-format);
  // its observers are notified, over UDP and TCP. from_disk: the value was
  // read from its --resource-dir file, which is not written again.
  Status set_resource_value(std::string_view path, std::span<const uint8_t> value,
                            std::optional<uint32_t> ct, TimePoint now, bool from_disk = false);
  // Removes a user resource: its observers get 4.04 and are removed (RFC
  // 7641 3.2). Built-in resources cannot be removed.
  Status remove_resource(std::string_view path, TimePoint now);
  const ResourceDirectory& resources() const { return resources_; }
  std::size_t observers_of(const Resource* r) const { return observations_.of_resource(r).size(); }
  // Separate responses (RFC 7252 5.2.2) waiting for their time.
  std::size_t delayed_responses() const { return delayed_.size(); }

  // --- introspection -------------------------------------------------------------
  std::vector<SessionInfo> sessions(TimePoint now) const;
  const EndpointCounters& counters() const { return counters_; }
  std::size_t session_count() const { return sessions_.size(); }
  std::size_t dedup_entries() const { return dedup_.size(); }
  std::size_t observation_count() const { return observations_.size(); }
  std::size_t exchange_count() const { return exchanges_.size(); }
  const EndpointConfig& config() const { return config_; }

 private:
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
    kTimerSecure,     // a DTLS channel's retransmission timer
    kTimerHandshake,  // a handshake that must be done by then
    kTimerKeepalive,
    kTimerSeparate,   // a separate response is due
    kTimerMaxAge,     // a client observation's Max-Age ran out
    kTimerGroup,      // an answer to a multicast request is due
    kTimerDiscovery,  // a multicast discovery's wait is over
  };
  // A response held back for its resource's delay: the message as it will
  // go, but for the Message ID (UDP) given when it is sent.
  struct DelayedResponse {
    SessionId session = 0;
    Type type = Type::kNon;  // UDP: CON for a CON request, NON for a NON one
    Token token;
    Code code;
    std::vector<std::pair<uint16_t, std::vector<uint8_t>>> options;
    std::vector<uint8_t> payload;
  };
  // Separate responses waiting at once; more are answered at once.
  static constexpr std::size_t kMaxDelayedResponses = 256;
  class ChannelSink;
  // How a session lets go of its connection.
  enum class Detach : uint8_t {
    kClose,  // FIN after what was written
    kAbort,  // RST (nothing for a connection still connecting)
    kGone,   // the environment reported it gone: nothing to tell it
  };

  // Every public entry point holds one: it sets the time of the call and,
  // when the outermost one ends, sends the notifications of resources that
  // changed and frees the sessions removed meanwhile.
  class Entry {
   public:
    Entry(Endpoint& ep, TimePoint now);
    ~Entry();
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;

   private:
    Endpoint& ep_;
  };

  // Common (endpoint.cc).
  Session& new_session(Proto proto, Role role, const Address& peer);
  // Takes the session out of every table (its requests and observations end
  // with it); the object itself lives until the entry point returns.
  void remove_session(Session& s);
  void reap();
  void emit(EventKind kind, const Session& s, std::string reason = {}, uint32_t attempt = 0);
  void bad_packet(const Address& from, SessionId session, std::string reason);
  void arm(TimePoint when, TimerKind kind, uint64_t key, uint64_t generation);
  void arm_sweep(TimePoint when);
  void sweep();
  void run_timer(const Timer& t);
  void request_timed_out(const Exchange& x);
  // The one path for datagrams to a session's peer: sent and counted.
  void send_udp(Session& s, std::span<const uint8_t> wire);
  // A datagram to an address with no session behind it (RST to a stranger).
  void send_udp_to(const Address& to, std::span<const uint8_t> wire);
  // Dispatches a request and handles Observe; the answer is left in out_.
  void serve(Session& s, const Message& m);
  DispatchLimits limits_for(const Session& s) const;

  // UDP (endpoint_udp.cc).
  Session& udp_session(const Address& peer, Role role, UdpSocket socket = UdpSocket::kPlain);
  // One CoAP datagram from `from`; `known` is its session, if any (always,
  // for DTLS: the datagram is the plaintext of a record).
  void handle_udp(const Address& from, Session* known, std::span<const uint8_t> bytes);
  void handle_udp_request(Session& s, const Message& m, std::span<const uint8_t> raw);
  // The answer in out_ to m; a NON one with Message ID non_mid.
  void reply_udp(Session& s, const Message& m, std::span<const uint8_t> raw, uint16_t non_mid);
  // The response is not wanted (No-Response): an empty ACK for a CON.
  void acknowledge_only(Session& s, const Message& m);
  void handle_udp_response(Session& s, const Message& m, std::size_t size);
  void handle_udp_ack_rst(Session& s, const Message& m, std::size_t size);
  // RST for `mid`, through the session when there is one.
  void send_rst(Session* s, const Address& to, uint16_t mid);
  // Sends a CON and retransmits it until acknowledged; returns its id.
  uint64_t send_udp_con(Session& s, std::span<const uint8_t> wire, uint16_t mid,
                        ConTracker::Kind kind, uint64_t ref);
  void on_retransmit_timer(uint64_t id, uint64_t generation);
  // The next Message ID towards s's peer; nullopt while none is free (every
  // one was used within EXCHANGE_LIFETIME, RFC 7252 4.4) until mid_free_at.
  std::optional<uint16_t> next_mid(Session& s);
  TimePoint mid_free_at(const Session& s) const;

  // TCP connections (endpoint_tcp.cc).
  // A CoAP frame to the peer (through TLS on a secure session; dropped while
  // its handshake runs).
  void tcp_send(Session& s, Code code, const Token& token, const OptionList& options,
                std::span<const uint8_t> payload, bool priority = false);
  // Bytes for the wire: queued, bounded by max_queued_bytes.
  void tcp_queue(Session& s, std::span<const uint8_t> bytes, bool priority);
  // Received CoAP-over-TCP bytes (plaintext) into the frame decoder.
  void tcp_decode(Session& s, std::span<const uint8_t> bytes);
  void tcp_send_csm(Session& s);
  void tcp_connection_up(Session& s);
  void tcp_feed(Session& s, std::span<const uint8_t> bytes);
  bool tcp_handle_frame(Session& s, const Message& m);
  void tcp_handle_signal(Session& s, const Message& m);
  void tcp_handle_csm(Session& s, const Message& m);
  void tcp_session_established(Session& s);
  void tcp_abort_session(Session& s, std::string_view diagnostic, std::string reason);
  // Orderly close: our Release (when `release`), the queued bytes, then FIN.
  void tcp_begin_close(Session& s, bool release, std::string reason, bool failed);
  void tcp_finish_close(Session& s);
  // The one way a session lets go of its connection.
  void detach(Session& s, Detach how);
  // The connection is gone: events, then reconnect or removal.
  void tcp_connection_ended(Session& s, bool tcp_failed, bool session_failed, std::string reason);
  void on_tcp_timer(const Timer& t);
  Session* tcp_timer_session(const Timer& t, SessionState state) const;

  // DTLS and TLS (endpoint_secure.cc).
  void handle_dtls(const Address& from, std::span<const uint8_t> bytes);
  void accept_dtls(const Address& from, std::span<const uint8_t> bytes);
  // Gives s a channel and the sink that brings its events back here.
  void attach_channel(Session& s, std::unique_ptr<SecureChannel> channel);
  Status start_secure_client(Session& s, const ClientSecurity& options);
  Status start_secure_server(Session& s);
  void secure_send(SessionId id, std::span<const uint8_t> bytes);
  void secure_plaintext(SessionId id, std::span<const uint8_t> bytes);
  void secure_established(SessionId id, const PeerSecurity& peer);
  void secure_failed(SessionId id, HandshakeFailure kind, const std::string& why);
  void secure_peer_closed(SessionId id);
  void arm_channel_timer(Session& s);
  void on_secure_timer(const Timer& t);
  void handshake_failed(Session* s, const Address& peer, HandshakeFailure kind,
                        const std::string& why);
  void handshake_over(Session& s);
  bool handshake_refused(const Address& peer);
  // Echo (RFC 9175) on plain UDP: whether wire may go to s as is; if not,
  // wire is replaced by a 4.01 carrying an Echo challenge.
  void limit_amplification(Session& s, const Message& m, std::size_t request_size);
  void trim_unsafe_response(const Message& m);
  bool echo_matches(const Session& s, const Message& m) const;

  // Outgoing sessions (endpoint_outgoing.cc).
  Result<OpenedSession> open_outgoing(const SessionSpec& spec);
  Result<OpenedSession> open_dtls_outgoing(const SessionSpec& spec);
  void outgoing_up(Session& s);
  void tcp_handle_release(Session& s, const Message& m);
  // Keepalive (endpoint_keepalive.cc).
  Duration keepalive_interval(const Session& s) const;
  void start_keepalive(Session& s);
  void on_keepalive_timer(const Timer& t);
  void send_keepalive_ping(Session& s);
  void keepalive_dead(Session& s);
  void renotify_observers(Session& s);
  void dtls_session_ended(Session& s, bool failed, const std::string& reason);
  void dtls_peer_lost(Session& s, const std::string& why);
  void attempt_failed(Session& s, const std::string& reason);
  void schedule_reconnect(Session& s);
  void start_attempt(Session& s);
  void close_on_request(Session& s);

  // Client (endpoint_client.cc).
  Result<Session*> session_for_request(const ClientRequest& r);
  Result<Session*> dtls_session_for_request(const ClientRequest& r);
  Result<Session*> tcp_session_for_request(const ClientRequest& r);
  // start_request and start_observe: the exchange made and sent (or left
  // waiting for its session), or ended at once with an error.
  void begin_exchange(RequestId id, ClientRequest request, bool observe);
  void send_exchange(Exchange& x);
  // Whether x's message as built so far (opts), with a payload of n bytes,
  // may go as one: over TCP the whole frame counts against the peer's
  // Max-Message-Size (RFC 8323 5.3.1), over UDP the payload against our
  // block size.
  std::size_t bert_chunk(const Exchange& x, const Session& s, const OptionList& opts) const;
  bool message_fits(const Exchange& x, const Session& s, const OptionList& opts,
                    std::size_t n) const;
  void build_block1(Exchange& x, const Session& s, OptionList& opts,
                    std::span<const uint8_t>* payload);
  bool handle_client_response(Session& s, const Message& m);
  bool handle_block2(Exchange& x, Session& s, const Message& m);
  // Block2: takes m's block into x.body; the whole body is there when it
  // returns true with *error empty. False: the next block was asked for.
  bool collect_block2(Exchange& x, const Message& m, std::string* error);
  void complete_exchange(RequestId id, ClientResult result);
  void fail_session_exchanges(Session& s, const std::string& why, bool include_waiting);
  void send_waiting_exchanges(Session& s);

  // Client observations (endpoint_client_observe.cc).
  bool handle_observe_response(Exchange& x, Session& s, const Message& m);
  void deliver_notification(Exchange& x, Session& s, const Message& m, uint32_t seq,
                            std::vector<uint8_t> body, bool assembled);
  void arm_max_age(Exchange& x, const Message& m);
  void on_max_age_timer(uint64_t id, uint64_t generation);
  // Sends x's registration again (Max-Age ran out, or the session is back).
  void reregister(Exchange& x);
  // The session's connection ended but the session lives on: x waits for the
  // next connection to re-register.
  void park_observation(Session& s, Exchange& x);

  // Observe (endpoint_observe.cc).
  // Registers m's token on s (with m's body, for a FETCH); the Observe
  // sequence number of the registration, or nullopt when the limits leave no
  // room (the request is then answered as a plain GET or FETCH).
  std::optional<uint32_t> observe_register(Session& s, Resource& r, const Message& m);
  void observe_deregister(Session& s, const Token& token);
  void remove_observation(uint64_t id);
  void drop_observations(Session& s);
  void notify_resource(const Resource* r);
  void on_observe_tick(uint64_t index);
  void notify(Observation& o);
  void notify_udp(Session& s, Observation& o, uint16_t mid);
  void on_rst_for_notification(Session& s, uint16_t mid);
  // Renders nothing: sends what is in out_ as o's next notification; an
  // error ends the observation.
  // For UDP with Message ID mid, or the next free one (none free: nothing
  // is sent).
  void send_notification(Session& s, Observation& o, std::optional<uint16_t> mid = std::nullopt);
  // Sends a CON notification to every UDP observer whose check is due;
  // returns when the next one is due (part of the sweep).
  TimePoint recheck_observers();

  // Resources the user defines (endpoint_resources.cc).
  // Takes a removed resource out: observers 4.04, transfers dropped.
  void retire_resource(Resource* r);
  // Holds out_ back for the resource's delay; for a CON over UDP sends the
  // empty ACK now. False: answer at once.
  bool defer_response(Session& s, const Message& m, std::size_t request_size);
  void send_delayed(uint64_t id);
  void watch_resource(Resource& r);
  // Multicast (endpoint_group.cc): whether out_ may answer a group request.
  bool answers_group(const Message& m) const;
  void send_group_response(uint64_t id);
  // An answer to one of our discoveries (consumed: true).
  bool discovery_response(const Address& from, const Message& m);
  void finish_discovery(uint64_t id);
  // Adds the resource a request created (out_.created), if any.
  void adopt_created();

  EndpointConfig config_;
  ResourceDirectory& resources_;
  NetworkIo& io_;
  EndpointListener& listener_;
  // First: the hash secrets of the tables below are drawn from it.
  std::mt19937_64 rng_;
  Dispatcher dispatcher_;
  DedupCache dedup_;
  TimerQueue timers_;
  SessionTable sessions_;
  ConTracker cons_;
  ObserveRegistry observations_;
  ExchangeTable exchanges_;
  EndpointCounters counters_;
  SecurityContext* security_ = nullptr;
  std::unique_ptr<DtlsListener> dtls_listener_;  // when security_ can serve
  std::size_t handshaking_ = 0;                  // handshakes under way
  uint64_t secure_serial_ = 0;                   // epochs and timer generations
  TimePoint now_{};      // time of the entry point being processed (set by Entry)
  int entry_depth_ = 0;  // nested Entry guards
  TimePoint sweep_at_ = kNever;
  std::vector<Resource*> changed_resources_;
  std::vector<Resource*> doomed_resources_;  // removed once the entry point ends
  std::unordered_map<uint64_t, DelayedResponse> delayed_;
  uint64_t next_delayed_ = 1;
  struct GroupResponse {
    Address to;
    std::vector<uint8_t> wire;
  };
  std::unordered_map<uint64_t, GroupResponse> group_responses_;
  uint64_t next_group_ = 1;
  struct Discovery {
    Token token;
    std::vector<DiscoveredNode> nodes;
    DiscoveryDone done;
  };
  std::unordered_map<uint64_t, Discovery> discoveries_;
  uint64_t next_discovery_ = 1;

  Message msg_;                // parse target, reused
  DispatchOutput out_;         // dispatch result, reused
  std::vector<uint8_t> wire_;  // encode buffer, reused
};

}  // namespace coap
