// Endpoint: observations coapd holds as a client (RFC 7641): registration,
// notifications in order (3.4), Block2 notifications put together (RFC 7959
// 2.6), re-registration when Max-Age runs out and after a reconnect,
// deregistration (GET with Observe 1 and the same token).
#include <algorithm>

#include "coap/block.h"
#include "coap/endpoint.h"
#include "coap/option.h"

namespace coap {

bool observe_newer(uint32_t v1, TimePoint t1, uint32_t v2, TimePoint t2) {
  constexpr uint32_t kHalf = 1u << 23;
  v1 &= 0xffffff;
  v2 &= 0xffffff;
  return (v1 < v2 && v2 - v1 < kHalf) || (v1 > v2 && v1 - v2 > kHalf) || t2 > t1 + seconds(128);
}

void Endpoint::start_observe(RequestId id, ClientRequest request, TimePoint now) {
  Entry entry(*this, now);
  begin_exchange(id, std::move(request), /*observe=*/true);
}

bool Endpoint::cancel_observe(RequestId id, TimePoint now) {
  Entry entry(*this, now);
  Exchange* x = exchanges_.find(id);
  if (!x || !x->observe || x->observe->deregistering) return false;
  ClientObserve& o = *x->observe;
  o.deregistering = true;
  ++o.timer_epoch;  // no re-registration from now on
  Session* s = sessions_.find(x->session);
  const bool on_the_wire =
      s && std::find(s->exchanges.begin(), s->exchanges.end(), id) != s->exchanges.end();
  if (!on_the_wire || o.plain) {
    // Waiting for its session (nothing registered there now), or the server
    // never observed it: nothing to tell the server.
    complete_exchange(id, ClientResult::failed(ClientResult::Status::kDeregistered, x->session,
                                               "nothing registered with the server"));
    return true;
  }
  x->body.clear();
  x->next_block2 = 0;
  x->deadline = now_ + x->req.timeout;
  arm(x->deadline, kTimerRequest, id, 0);
  send_exchange(*x);
  return true;
}

std::vector<ClientObservationInfo> Endpoint::client_observations() const {
  std::vector<ClientObservationInfo> out;
  for (RequestId id : exchanges_.ids()) {
    const Exchange& x = *exchanges_.find(id);
    if (!x.observe) continue;
    const ClientObserve& o = *x.observe;
    out.push_back({id, x.req.uri.to_string(), x.session, x.token, o.notifications, o.last_seq,
                   o.registered && !o.registering, o.deregistering});
  }
  return out;
}

bool Endpoint::handle_observe_response(Exchange& x, Session& s, const Message& m) {
  ClientObserve& o = *x.observe;
  const std::optional<uint32_t> seq = m.uint_option(opt::kObserve);
  if (o.deregistering) {
    // A notification sent before the server saw our deregistration is
    // dropped; the answer to it (without Observe) ends the observation.
    if (!seq || !m.code.is_success())
      complete_exchange(x.id, ClientResult::failed(ClientResult::Status::kDeregistered, s.id, {}));
    return true;
  }
  if (x.next_block2 > 0 && !seq) {  // a later block of a notification
    std::string error;
    if (!collect_block2(x, m, &error)) return true;
    std::vector<uint8_t> body = std::move(x.body);
    x.body.clear();
    x.next_block2 = 0;
    if (!error.empty()) {
      ++o.dropped;  // the next notification brings the value again
      return true;
    }
    deliver_notification(x, s, m, o.block_seq, std::move(body), /*assembled=*/true);
    return true;
  }
  if (!seq || !m.code.is_success()) {
    // Not observable (or no longer: RFC 7641 3.2), or an error: the
    // response ends the observation like a plain request's.
    o.plain = true;
    x.body.clear();
    x.next_block2 = 0;
    return false;
  }
  if (!o.registering && !observe_newer(o.last_seq, o.last_time, *seq, now_)) {
    ++o.dropped;  // older than the newest seen, or a duplicate
    return true;
  }
  o.registering = false;
  o.last_seq = *seq & 0xffffff;
  o.last_time = now_;
  x.deadline = kNever;  // registered: the request timeout is over
  arm_max_age(x, m);
  const auto b2 = BlockOption::decode(m.uint_option(opt::kBlock2).value_or(0xffffffff));
  if (b2 && b2->num == 0 && b2->more) {
    // A newer value in blocks: the rest is fetched without Observe.
    x.body.clear();
    x.next_block2 = 0;
    o.block_seq = o.last_seq;
    std::string error;
    if (collect_block2(x, m, &error)) {
      x.body.clear();
      ++o.dropped;
    }
    return true;
  }
  deliver_notification(x, s, m, o.last_seq, {m.payload.begin(), m.payload.end()},
                       /*assembled=*/false);
  return true;
}

void Endpoint::deliver_notification(Exchange& x, Session& s, const Message& m, uint32_t seq,
                                    std::vector<uint8_t> body, bool assembled) {
  ClientObserve& o = *x.observe;
  o.registered = true;
  ++o.notifications;
  ClientResult r = response_result(s.id, m, std::move(body), assembled);
  if (assembled) {
    // The last block carries no Observe: the notification's number is that
    // of its first block.
    std::erase_if(r.options, [](const auto& o) { return o.first == opt::kObserve; });
    uint8_t buf[4];
    r.options.emplace_back(opt::kObserve, std::vector<uint8_t>(buf, buf + encode_uint(seq, buf)));
    std::stable_sort(r.options.begin(), r.options.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
  }
  listener_.on_notification(x.id, seq, r);
}

void Endpoint::arm_max_age(Exchange& x, const Message& m) {
  // RFC 7252 5.10.5: Max-Age defaults to 60 s.
  const uint32_t max_age = m.uint_option(opt::kMaxAge).value_or(60);
  ++x.observe->timer_epoch;
  arm(now_ + seconds(max_age) + kReregisterMargin, kTimerMaxAge, x.id, x.observe->timer_epoch);
}

void Endpoint::on_max_age_timer(uint64_t id, uint64_t generation) {
  Exchange* x = exchanges_.find(id);
  if (!x || !x->observe || x->observe->timer_epoch != generation) return;
  const ClientObserve& o = *x->observe;
  if (o.deregistering || o.plain) return;
  const Session* s = sessions_.find(x->session);
  // Waiting for its session: it re-registers when the session is back.
  if (!s || std::find(s->exchanges.begin(), s->exchanges.end(), id) == s->exchanges.end()) return;
  reregister(*x);
}

void Endpoint::reregister(Exchange& x) {
  ClientObserve& o = *x.observe;
  const bool again = o.registered || o.reconnected;
  o.registering = true;
  ++o.timer_epoch;
  x.body.clear();
  x.next_block2 = 0;
  if (again) {  // the first registration keeps the deadline it started with
    x.deadline = now_ + x.req.timeout;
    arm(x.deadline, kTimerRequest, x.id, 0);
  }
  if (o.reconnected) {
    o.reconnected = false;
    if (const Session* s = sessions_.find(x.session)) {
      Event e{now_, EventKind::kObserveReregistered, s->id, s->peer, {}, 0};
      e.reason = "reconnected";
      e.detail = "observation " + std::to_string(x.id) + " of " + x.req.uri.to_string();
      listener_.on_event(e);
    }
  }
  send_exchange(x);
}

void Endpoint::park_observation(Session& s, Exchange& x) {
  std::erase(s.exchanges, x.id);
  s.waiting.push_back(x.id);
  if (x.con_id) cons_.remove(x.con_id);
  x.con_id = 0;
  x.body.clear();
  x.next_block2 = 0;
  ClientObserve& o = *x.observe;
  o.reconnected = true;
  ++o.timer_epoch;
  x.deadline = kNever;  // it waits as long as the session tries to come back
}

}  // namespace coap
