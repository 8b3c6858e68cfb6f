// Session lifecycle events: every kind coapd reports, with its name, in one
// place. The names are part of coapd's user-visible contract (logs,
// `coapctl events`); README "Session events" documents their order.
#pragma once

#include <cstdint>
#include <string>

#include "coap/address.h"
#include "coap/time.h"

namespace coap {

using SessionId = uint64_t;

#define COAP_EVENT_KINDS(X)                              \
  X(kServerSessionNew, "server_session_new")             \
  X(kServerSessionDel, "server_session_del")             \
  X(kServerSessionConnected, "server_session_connected") \
  X(kTcpConnected, "tcp_connected")                      \
  X(kTcpClosed, "tcp_closed")                            \
  X(kTcpFailed, "tcp_failed")                            \
  X(kSessionConnected, "session_connected")              \
  X(kSessionClosed, "session_closed")                    \
  X(kSessionFailed, "session_failed")                    \
  X(kSessionRejected, "session_rejected")                \
  X(kRoleChanged, "role_changed")                        \
  X(kReconnecting, "reconnecting")                       \
  X(kReconnectFailed, "reconnect_failed")                \
  X(kReconnectSuccess, "reconnect_success")              \
  X(kReconnectNoMore, "reconnect_no_more")               \
  X(kHandshakeDone, "handshake_done")                    \
  X(kHandshakeFailed, "handshake_failed")                \
  X(kBadPacket, "bad_packet")                            \
  X(kObserveReregistered, "observe_reregistered")

enum class EventKind : uint8_t {
#define COAP_EVENT_ENUM(kind, name) kind,
  COAP_EVENT_KINDS(COAP_EVENT_ENUM)
#undef COAP_EVENT_ENUM
};

// "tcp_connected", ...: the name the user sees.
const char* event_name(EventKind kind);

// An event of the session lifecycle, reported exactly once per occurrence.
struct Event {
  TimePoint time;
  EventKind kind;
  SessionId session = 0;
  Address peer;
  std::string reason;    // why a session ended or an attempt failed; may be empty
  uint32_t attempt = 0;  // reconnect attempt number, for reconnect events
  // handshake_done: what the handshake established ("psk"/"x509", the PSK
  // identity or certificate subject, the cipher suite).
  std::string security, peer_identity, cipher;
  std::string detail;  // a sentence that says more (handshake_failed: mbedTLS's error)

  const char* name() const { return event_name(kind); }
};

}  // namespace coap
