#include "coap/observe_registry.h"

#include <algorithm>

namespace coap {

Observation* ObserveRegistry::find(const Session& s, const Token& token) {
  for (uint64_t oid : s.observations) {
    auto it = observations_.find(oid);
    if (it != observations_.end() && it->second.token == token) return &it->second;
  }
  return nullptr;
}

Observation* ObserveRegistry::observe(Session& s, Resource& r, const Token& token, TimePoint now) {
  Observation* o = find(s, token);
  if (!o) {
    if (s.observations.size() >= kMaxPerSession || observations_.size() >= kMaxTotal)
      return nullptr;
    const uint64_t id = next_id_++;
    o = &observations_[id];
    o->id = id;
    o->session = s.id;
    o->udp = s.proto == Proto::kUdp;
    o->token = token;
    s.observations.push_back(id);
  }
  o->resource = &r;
  ++o->sent;
  if (o->udp) o->con_due = now + kConInterval;
  return o;
}

Observation* ObserveRegistry::find(uint64_t id) {
  auto it = observations_.find(id);
  return it == observations_.end() ? nullptr : &it->second;
}

uint64_t ObserveRegistry::remove(uint64_t id, Session* s) {
  auto it = observations_.find(id);
  if (it == observations_.end()) return 0;
  const uint64_t pending = it->second.pending_con;
  if (s) std::erase(s->observations, id);
  observations_.erase(it);
  return pending;
}

std::vector<uint64_t> ObserveRegistry::of_resource(const Resource* r) const {
  std::vector<uint64_t> ids;
  for (const auto& [id, o] : observations_)
    if (o.resource == r) ids.push_back(id);
  return ids;
}

bool ObserveRegistry::next_is_con(const Observation& o, TimePoint now) {
  return !o.pending_con && (o.sent % kConEvery == 0 || o.con_due <= now);
}

uint32_t ObserveRegistry::next_sequence() {
  seq_ = (seq_ + 1) & 0xffffff;
  return seq_;
}

std::vector<uint64_t> ObserveRegistry::due_for_check(TimePoint now, TimePoint* next) const {
  std::vector<uint64_t> due;
  for (const auto& [id, o] : observations_) {
    if (!o.udp || o.pending_con) continue;
    if (o.con_due <= now) {
      due.push_back(id);
    } else {
      *next = std::min(*next, o.con_due);
    }
  }
  return due;
}

std::optional<std::size_t> ObserveRegistry::start_ticking(const Resource* r) {
  for (std::size_t i = 0; i < ticking_.size(); ++i) {
    if (ticking_[i].resource == r && !ticking_[i].armed) {
      ticking_[i].armed = true;
      return i;
    }
  }
  return std::nullopt;
}

Resource* ObserveRegistry::ticking(std::size_t index) const {
  return index < ticking_.size() ? ticking_[index].resource : nullptr;
}

}  // namespace coap
