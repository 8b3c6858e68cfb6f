// Requests coapd sends as a client, from start_request to on_request_done,
// found by request id and by token.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "coap/client_observe.h"
#include "coap/endpoint_types.h"
#include "coap/message.h"

namespace coap {

struct Exchange {
  RequestId id = 0;
  ClientRequest req;
  SessionId session = 0;
  Token token;
  TimePoint deadline;
  uint64_t con_id = 0;  // UDP: the CON transmission in flight, if any
  // Block1: offset of the next block to send; block size exponent.
  std::size_t block1_offset = 0;
  uint8_t block1_szx = 6;
  std::size_t block1_bert = 0;      // BERT (szx 7): bytes per message, a multiple of 1024
  std::size_t block1_sent_end = 0;  // where the block last sent ends
  // Block2: body collected so far, next block number, block size exponent.
  std::vector<uint8_t> body;
  uint32_t next_block2 = 0;
  uint8_t block2_szx = 6;
  // RFC 9175: the Echo value a server asked this request to repeat (sent
  // once, so a server that keeps asking cannot loop us).
  std::vector<uint8_t> echo;
  // An observation (Endpoint::start_observe): it lives on after the first
  // response, until deregistered or ended.
  std::optional<ClientObserve> observe;
};

// A response as the caller sees it: its options (less Block2 when the body
// was put together from blocks) and the whole body.
ClientResult response_result(SessionId session, const Message& m, std::vector<uint8_t> body,
                             bool assembled);

class ExchangeTable {
 public:
  // Tokens are 8 bytes, distinct for 2^64 requests, and unpredictable to
  // peers for an unpredictable seed.
  explicit ExchangeTable(uint64_t token_seed) : token_counter_(token_seed) {}

  // REQUIRES: no exchange with this id, and none with request.token when
  // that is set (token_in_use()). Without one the exchange gets 8 new bytes.
  Exchange& add(RequestId id, ClientRequest request, SessionId session, TimePoint now);
  Exchange* find(RequestId id) const;
  Exchange* by_token(const Token& token) const;
  bool token_in_use(const Token& token) const { return by_token(token) != nullptr; }
  // Removes the exchange and hands it over (nullptr when there is none).
  std::unique_ptr<Exchange> take(RequestId id);
  // Ids in ascending order.
  std::vector<RequestId> ids() const;
  std::size_t size() const { return exchanges_.size(); }

 private:
  // Tokens of any length 0..8: the length is part of the key (0x0001 is
  // not 0x01).
  struct TokenKey {
    uint64_t value;
    uint8_t len;
    bool operator==(const TokenKey&) const = default;
  };
  struct TokenHash {
    std::size_t operator()(const TokenKey& k) const { return k.value * 31 + k.len; }
  };
  static TokenKey token_key(const Token& t);
  Token new_token();

  uint64_t token_counter_;
  std::unordered_map<RequestId, std::unique_ptr<Exchange>> exchanges_;
  std::unordered_map<TokenKey, RequestId, TokenHash> by_token_;
};

}  // namespace coap
