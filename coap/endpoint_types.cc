#include "coap/endpoint_types.h"

#include <cmath>

namespace coap {

Duration EndpointConfig::exchange_lifetime() const {
  // MAX_TRANSMIT_SPAN + 2 * MAX_LATENCY + PROCESSING_DELAY (RFC 7252 4.8.2).
  const double span =
      to_seconds(ack_timeout) * (std::pow(2.0, max_retransmit) - 1) * ack_random_factor;
  return from_seconds(span + 2 * 100.0 + to_seconds(ack_timeout));
}

Duration EndpointConfig::max_transmit_wait() const {
  return from_seconds(to_seconds(ack_timeout) * (std::pow(2.0, max_retransmit + 1) - 1) *
                      ack_random_factor);
}

const char* tcp_error_name(TcpError e) {
  switch (e) {
    case TcpError::kReset: return "reset";
    case TcpError::kTimeout: return "timeout";
    case TcpError::kUnreachable: return "unreachable";
    case TcpError::kAborted: return "aborted";
    case TcpError::kOther: return "error";
  }
  return "error";
}

ClientResult ClientResult::failed(Status status, SessionId session, std::string why) {
  ClientResult r;
  r.status = status;
  r.session = session;
  r.error = std::move(why);
  return r;
}

const char* client_status_name(ClientResult::Status s) {
  switch (s) {
    case ClientResult::Status::kResponse: return "response";
    case ClientResult::Status::kTimeout: return "timeout";
    case ClientResult::Status::kCancelled: return "cancelled";
    case ClientResult::Status::kError: return "error";
    case ClientResult::Status::kDeregistered: return "deregistered";
  }
  return "error";
}

const char* role_name(Role r) { return r == Role::kClient ? "client" : "server"; }

const char* session_state_name(SessionState s) {
  switch (s) {
    case SessionState::kConnecting: return "connecting";
    case SessionState::kCsmWait: return "csm-wait";
    case SessionState::kEstablished: return "established";
    case SessionState::kClosing: return "closing";
    case SessionState::kReconnectWait: return "reconnect-wait";
    case SessionState::kHandshaking: return "handshaking";
  }
  return "?";
}

}  // namespace coap
