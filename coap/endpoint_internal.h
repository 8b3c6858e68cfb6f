// Private state of coap::Endpoint, shared by its implementation files
// (endpoint.cc: common and UDP; endpoint_tcp.cc; endpoint_client.cc;
// endpoint_observe.cc). Not part of the core's interface.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "coap/endpoint.h"
#include "coap/tcp_framing.h"
#include "coap/tx_queue.h"

namespace coap {

// A client request that ended without a response.
inline ClientResult client_error(SessionId session, std::string why) {
  ClientResult r;
  r.status = ClientResult::Status::kError;
  r.session = session;
  r.error = std::move(why);
  return r;
}

struct Endpoint::Session {
  SessionId id = 0;
  Proto proto = Proto::kUdp;
  Role role = Role::kServer;
  SessionState state = SessionState::kEstablished;
  Address peer;
  Address local;
  TimePoint created;
  TimePoint last_activity;
  uint64_t bytes_in = 0, bytes_out = 0, msgs_in = 0, msgs_out = 0;
  // Removed from the tables; destroyed once the current call returns, so that
  // code further up the stack may still look at it.
  bool dead = false;

  // UDP: next Message ID for messages we originate.
  uint16_t next_mid = 0;

  // TCP.
  ConnId conn = 0;
  bool accepted = false;          // came in through a listener
  bool rejected = false;          // accepted over the session limit: Abort, then gone
  bool call_home_client = false;  // accepted on the call-home listener: becomes a client
  std::unique_ptr<FrameDecoder> decoder;
  TxQueue tx;
  bool csm_received = false;
  std::size_t peer_mms = 1152;  // RFC 8323 5.3.1: the default until the peer's CSM says more
  bool peer_bwt = false;
  bool ever_established = false;  // on the current connection
  std::string close_reason;
  bool close_failed = false;

  // Outgoing TCP.
  bool outgoing = false;
  SessionSpec spec;
  bool close_requested = false;  // coapctl close / shutdown: no reconnect
  uint32_t attempt = 0;          // reconnect attempt under way or last failed; 0: none
  uint64_t reconnect_epoch = 0;

  // Client exchanges using this session: sent, and waiting for it to come up.
  std::vector<RequestId> exchanges;
  std::vector<RequestId> waiting;
  std::vector<uint64_t> observations;
};

// A request coapd sends as a client, from start_request to on_request_done.
struct Endpoint::Exchange {
  RequestId id = 0;
  ClientRequest req;
  SessionId session = 0;
  Token token;
  TimePoint deadline;
  uint64_t con_id = 0;  // UDP: the CON transmission in flight, if any
  // Block1: offset of the next block to send; block size exponent.
  std::size_t block1_offset = 0;
  uint8_t block1_szx = 6;
  // Block2: body collected so far, next block number, options of block 0.
  std::vector<uint8_t> body;
  uint32_t next_block2 = 0;
  uint8_t block2_szx = 6;
  bool sent = false;
};

// A CON message awaiting its ACK, retransmitted per RFC 7252 section 4.2.
struct Endpoint::ConTransmission {
  enum Kind : uint8_t { kRequest, kNotification };
  uint64_t id = 0;
  SessionId session = 0;
  uint16_t mid = 0;
  Kind kind = kRequest;
  uint64_t ref = 0;  // RequestId or observation id
  std::vector<uint8_t> wire;
  unsigned retransmits = 0;
  Duration timeout{};
};

struct Endpoint::Observation {
  uint64_t id = 0;
  SessionId session = 0;
  Resource* resource = nullptr;
  Token token;
  uint16_t last_mid = 0;  // UDP: MID of the last notification (a RST names it)
  uint64_t pending_con = 0;
  unsigned sent = 0;
  TimePoint con_due;  // UDP: the next notification must be CON from then on
};

}  // namespace coap
