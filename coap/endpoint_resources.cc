// Endpoint: resources the user defines, which come and go at run time, and
// separate responses (RFC 7252 5.2.2) for those with a delay.
#include <algorithm>

#include "coap/endpoint.h"
#include "coap/user_resource.h"

namespace coap {
namespace {

constexpr std::string_view kGone = "resource deleted";

}  // namespace

void Endpoint::watch_resource(Resource& r) {
  if (!r.observable()) return;
  r.set_change_listener([this](Resource& changed) { changed_resources_.push_back(&changed); });
}

Status Endpoint::add_resource(std::unique_ptr<Resource> r, TimePoint now) {
  Entry entry(*this, now);
  if (Resource* old = resources_.find(r->path());
      old && !std::count(doomed_resources_.begin(), doomed_resources_.end(), old))
    return error("resource ", r->path(), " exists already",
                 old->source() == ResourceSource::kBuiltin ? " (built in)" : "");
  if (resources_.user_count() >= config_.max_user_resources)
    return error("there are ", std::to_string(config_.max_user_resources),
                 " user resources already (--max-resources)");
  watch_resource(*r);
  resources_.add(std::move(r));
  return {};
}

Status Endpoint::set_resource_value(std::string_view path, std::span<const uint8_t> value,
                                    std::optional<uint32_t> ct, TimePoint now, bool from_disk) {
  Entry entry(*this, now);
  Resource* r = resources_.find(path);
  if (!r) return error("no resource ", path);
  auto* user = dynamic_cast<UserResource*>(r);
  if (!user) return error("resource ", path, " is built in and cannot be changed");
  if (value.size() > user->max_size())
    return error("the value (", std::to_string(value.size()), " bytes) is larger than ",
                 std::to_string(user->max_size()), " bytes");
  if (auto refused = user->set_value(value, ct, !from_disk)) return error(refused->diagnostic);
  return {};
}

Status Endpoint::remove_resource(std::string_view path, TimePoint now) {
  Entry entry(*this, now);
  Resource* r = resources_.find(path);
  if (!r) return error("no resource ", path);
  if (r->source() == ResourceSource::kBuiltin)
    return error("resource ", path, " is built in and cannot be deleted");
  if (std::find(doomed_resources_.begin(), doomed_resources_.end(), r) == doomed_resources_.end())
    doomed_resources_.push_back(r);
  return {};
}

void Endpoint::adopt_created() {
  std::unique_ptr<Resource> r = std::move(out_.created);
  if (!r) return;
  // The fallback checked the path and the limit before it made the file;
  // a resource that appeared meanwhile at that path (a disk event) wins.
  if (resources_.find(r->path())) return;
  watch_resource(*r);
  resources_.add(std::move(r));
}

void Endpoint::retire_resource(Resource* r) {
  std::erase(changed_resources_, r);
  for (uint64_t id : observations_.of_resource(r)) {
    Observation* o = observations_.find(id);
    Session* s = o ? sessions_.find(o->session) : nullptr;
    const bool reachable =
        s && !s->dead && (s->proto == Proto::kUdp || s->state == SessionState::kEstablished);
    if (!reachable) {
      remove_observation(id);
      continue;
    }
    out_.options.clear();
    out_.code = codes::kNotFound;
    out_.payload = as_bytes(kGone);
    send_notification(*s, *o);  // an error: it ends the observation
  }
  dispatcher_.forget_resource(r);
  r->set_change_listener(nullptr);
  resources_.remove(r);
}

// --- separate responses ---------------------------------------------------------

bool Endpoint::defer_response(Session& s, const Message& m, std::size_t request_size) {
  if (!out_.resource || out_.code == codes::kContinue) return false;
  const Duration delay = out_.resource->response_delay();
  if (delay <= Duration::zero() || delayed_.size() >= kMaxDelayedResponses) return false;
  const bool udp = s.proto == Proto::kUdp;
  if (udp && !s.secure && !s.udp->verified && config_.amplification_factor != 0) {
    // A response too large for an address not yet proven goes the usual
    // way (an Echo challenge, RFC 9175), not later to a maybe forged peer.
    const std::size_t size =
        4 + m.token.len + options_and_payload_size(out_.options, out_.payload.size());
    if (size > config_.amplification_factor * request_size) return false;
  }
  DelayedResponse d;
  d.session = s.id;
  d.type = m.type == Type::kCon ? Type::kCon : Type::kNon;
  d.token = m.token;
  d.code = out_.code;
  for (const OptionView& o : out_.options.items())
    d.options.emplace_back(o.number, std::vector<uint8_t>(o.data, o.data + o.length));
  d.payload.assign(out_.payload.begin(), out_.payload.end());
  const uint64_t id = next_delayed_++;
  delayed_.emplace(id, std::move(d));
  arm(now_ + delay, kTimerSeparate, id, 0);
  if (udp && m.type == Type::kCon) {
    // The empty ACK now; a duplicate of the request gets it again.
    wire_.clear();
    write_udp_empty(wire_, Type::kAck, m.mid);
    dedup_.insert(s.peer, m.mid, wire_, now_, static_cast<uint8_t>(s.socket()));
    send_udp(s, wire_);
  }
  return true;
}

void Endpoint::send_delayed(uint64_t id) {
  auto it = delayed_.find(id);
  if (it == delayed_.end()) return;
  const DelayedResponse d = std::move(it->second);
  delayed_.erase(it);
  Session* s = sessions_.find(d.session);
  if (!s || s->dead) return;
  OptionList opts;
  for (const auto& [number, value] : d.options) opts.add(number, std::span<const uint8_t>(value));
  ++counters_.responses;
  if (s->proto == Proto::kTcp) {
    if (s->connected() && s->state == SessionState::kEstablished)
      tcp_send(*s, d.code, d.token, opts, d.payload);
    return;
  }
  const std::optional<uint16_t> mid = next_mid(*s);
  if (!mid) return;  // every Message ID in use (RFC 7252 4.4): the response cannot go
  wire_.clear();
  write_udp(wire_, d.type, d.code, *mid, d.token, opts, d.payload);
  if (d.type == Type::kCon) {
    send_udp_con(*s, wire_, *mid, ConTracker::Kind::kResponse, id);
  } else {
    send_udp(*s, wire_);
  }
}

}  // namespace coap
