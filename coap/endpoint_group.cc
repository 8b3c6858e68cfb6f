// Endpoint: requests sent to a multicast group (RFC 7252 section 8, RFC
// 7390). They make no session (a group request may come from anybody, and
// a flood of them must not grow coapd's tables): the answer is rendered at
// once, held for a random time within Leisure (RFC 7252 8.2) and sent as a
// NON from coapd's own address. At most kMaxGroupResponses wait at once.
#include <random>

#include "coap/endpoint.h"

namespace coap {

bool Endpoint::answers_group(const Message& m) const {
  // RFC 7252 8.1: group requests are NON; 8.2: no error response, and
  // (RFC 6690 4.1) no answer to a discovery whose filter matched nothing.
  if (m.type != Type::kNon || m.code != codes::kGet) return false;
  if (!out_.resource || !out_.resource->answers_multicast()) return false;
  if (out_.code != codes::kContent) return false;
  return !out_.payload.empty() || out_.resource->path() != "/.well-known/core";
}

void Endpoint::on_group_datagram(const Address& from, std::span<const uint8_t> bytes,
                                 TimePoint now) {
  Entry entry(*this, now);
  ++counters_.datagrams_in;
  if (parse_udp(bytes, msg_) != ParseError::kNone || msg_.code.cls() != 0 || msg_.code.is_empty())
    return;  // never RST or 4.xx to a group request
  if (group_responses_.size() >= kMaxGroupResponses || from.is_multicast()) return;
  ++counters_.requests;
  DispatchLimits limits;
  limits.max_payload = config_.udp_block_size;
  // Session 0: no Block1 or Block2 state is kept for a GET.
  dispatcher_.dispatch(msg_, from, Proto::kUdp, 0, limits, now_, &out_);
  if (!answers_group(msg_) || Dispatcher::suppressed(msg_, out_.code)) return;
  GroupResponse r{from, {}};
  const uint16_t mid = static_cast<uint16_t>(rng_());
  write_udp(r.wire, Type::kNon, out_.code, mid, msg_.token, out_.options, out_.payload);
  const uint64_t id = next_group_++;
  group_responses_.emplace(id, std::move(r));
  const auto leisure = std::chrono::duration_cast<Duration>(config_.leisure).count();
  std::uniform_int_distribution<Duration::rep> wait(0, leisure > 0 ? leisure : 0);
  arm(now_ + Duration(wait(rng_)), kTimerGroup, id, 0);
}

void Endpoint::send_group_response(uint64_t id) {
  auto it = group_responses_.find(id);
  if (it == group_responses_.end()) return;
  ++counters_.responses;
  send_udp_to(it->second.to, it->second.wire);
  group_responses_.erase(it);
}

}  // namespace coap

namespace coap {

bool Endpoint::start_discovery(const Address& group, Duration wait, TimePoint now,
                               DiscoveryDone done) {
  Entry entry(*this, now);
  if (discoveries_.size() >= kMaxDiscoveries) return false;
  const uint64_t id = next_discovery_++;
  Discovery d;
  d.token = Token::from_u64(rng_(), 8);
  d.done = std::move(done);
  OptionList opts;
  opts.add_path(opt::kUriPath, "/.well-known/core");
  wire_.clear();
  write_udp(wire_, Type::kNon, codes::kGet, static_cast<uint16_t>(rng_()), d.token, opts, {});
  ++counters_.client_requests;
  send_udp_to(group, wire_);
  discoveries_.emplace(id, std::move(d));
  arm(now_ + wait, kTimerDiscovery, id, 0);
  return true;
}

bool Endpoint::discovery_response(const Address& from, const Message& m) {
  for (auto& [id, d] : discoveries_) {
    if (!(d.token == m.token)) continue;
    ++counters_.client_responses;
    // RFC 7252 8.2: answers come as NON; a CON one is still acknowledged.
    if (m.type == Type::kCon) {
      wire_.clear();
      write_udp_empty(wire_, Type::kAck, m.mid);
      send_udp_to(from, wire_);
    }
    if (!m.code.is_success()) return true;
    std::string links(as_string(m.payload));
    for (DiscoveredNode& n : d.nodes)
      if (n.from == from) {
        n.links = std::move(links);
        return true;
      }
    if (d.nodes.size() < kMaxDiscovered) d.nodes.push_back({from, std::move(links)});
    return true;
  }
  return false;
}

void Endpoint::finish_discovery(uint64_t id) {
  auto it = discoveries_.find(id);
  if (it == discoveries_.end()) return;
  Discovery d = std::move(it->second);
  discoveries_.erase(it);
  if (d.done) d.done(std::move(d.nodes));
}

}  // namespace coap
