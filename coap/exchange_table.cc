#include "coap/exchange_table.h"

#include <algorithm>
#include <cassert>

namespace coap {
namespace {

// splitmix64: a bijection, so distinct counters give distinct tokens.
uint64_t mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

ClientResult response_result(SessionId session, const Message& m, std::vector<uint8_t> body,
                             bool assembled) {
  ClientResult r;
  r.status = ClientResult::Status::kResponse;
  r.code = m.code;
  r.session = session;
  for (const OptionView& o : m.options)
    if (!assembled || o.number != opt::kBlock2)
      r.options.emplace_back(o.number, std::vector<uint8_t>(o.data, o.data + o.length));
  r.payload = std::move(body);
  return r;
}

ExchangeTable::TokenKey ExchangeTable::token_key(const Token& t) {
  uint64_t v = 0;
  for (int i = 0; i < t.len; ++i) v = (v << 8) | t.bytes[i];
  return {v, t.len};
}

Token ExchangeTable::new_token() {
  // Skips a token a caller chose for an exchange still open.
  for (;;) {
    const Token t = Token::from_u64(mix(token_counter_++), 8);
    if (!token_in_use(t)) return t;
  }
}

Exchange& ExchangeTable::add(RequestId id, ClientRequest request, SessionId session,
                             TimePoint now) {
  assert(!exchanges_.count(id) && "request ids must be unique among outstanding requests");
  auto x = std::make_unique<Exchange>();
  x->id = id;
  x->req = std::move(request);
  x->session = session;
  assert(!(x->req.token && token_in_use(*x->req.token)) && "a token in use");
  x->token = x->req.token ? *x->req.token : new_token();
  x->deadline = now + x->req.timeout;
  by_token_[token_key(x->token)] = id;
  return *exchanges_.emplace(id, std::move(x)).first->second;
}

Exchange* ExchangeTable::find(RequestId id) const {
  auto it = exchanges_.find(id);
  return it == exchanges_.end() ? nullptr : it->second.get();
}

Exchange* ExchangeTable::by_token(const Token& token) const {
  auto t = by_token_.find(token_key(token));
  return t == by_token_.end() ? nullptr : find(t->second);
}

std::unique_ptr<Exchange> ExchangeTable::take(RequestId id) {
  auto it = exchanges_.find(id);
  if (it == exchanges_.end()) return nullptr;
  std::unique_ptr<Exchange> x = std::move(it->second);
  exchanges_.erase(it);
  by_token_.erase(token_key(x->token));
  return x;
}

std::vector<RequestId> ExchangeTable::ids() const {
  std::vector<RequestId> ids;
  ids.reserve(exchanges_.size());
  for (const auto& [id, x] : exchanges_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace coap
