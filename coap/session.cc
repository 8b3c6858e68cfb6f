#include "coap/session.h"

#include <algorithm>

namespace coap {

Session& SessionTable::create(Proto proto, Role role, const Address& peer, TimePoint now) {
  auto s = std::make_unique<Session>();
  s->id = next_id_++;
  s->proto = proto;
  s->role = role;
  s->peer = peer;
  s->created = now;
  s->last_activity = now;
  Session& ref = *s;
  sessions_.emplace(ref.id, std::move(s));
  return ref;
}

Session* SessionTable::find(SessionId id) const {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second.get();
}

Session* SessionTable::by_conn(ConnId conn) const {
  auto it = conns_.find(conn);
  return it == conns_.end() ? nullptr : find(it->second);
}

Session* SessionTable::by_udp_peer(const Address& peer, UdpSocket socket) const {
  const auto& map = socket == UdpSocket::kSecure ? dtls_ : udp_;
  auto it = map.find(peer);
  return it == map.end() ? nullptr : find(it->second);
}

void SessionTable::bind_conn(Session& s, ConnId conn) {
  s.tcp->conn = conn;
  conns_[conn] = s.id;
}

void SessionTable::unbind_conn(Session& s) {
  if (!s.tcp || !s.tcp->conn) return;
  conns_.erase(s.tcp->conn);
  s.tcp->conn = 0;
}

void SessionTable::bind_udp(Session& s) {
  if (s.socket() == UdpSocket::kSecure) {
    dtls_.emplace(s.peer, s.id);
    return;
  }
  if (!udp_.emplace(s.peer, s.id).second) return;
  s.udp->quiet_order = quiet_order_.insert(quiet_order_.end(), s.id);
}

void SessionTable::touch(Session& s, TimePoint now) {
  s.last_activity = now;
  if (s.proto != Proto::kUdp || s.socket() != UdpSocket::kPlain) return;
  auto it = udp_.find(s.peer);
  if (it == udp_.end() || it->second != s.id) return;
  quiet_order_.splice(quiet_order_.end(), quiet_order_, s.udp->quiet_order);
}

void SessionTable::retire(Session& s) {
  unbind_conn(s);
  if (s.proto == Proto::kUdp && s.socket() == UdpSocket::kSecure) dtls_.erase(s.peer);
  if (s.proto == Proto::kUdp && s.socket() == UdpSocket::kPlain) {
    auto it = udp_.find(s.peer);
    if (it != udp_.end() && it->second == s.id) {
      quiet_order_.erase(s.udp->quiet_order);
      udp_.erase(it);
    }
  }
  auto it = sessions_.find(s.id);
  graveyard_.push_back(std::move(it->second));
  sessions_.erase(it);
}

std::size_t SessionTable::tcp_count() const {
  std::size_t n = 0;
  for (const auto& [id, s] : sessions_) n += s->proto == Proto::kTcp && !s->rejected;
  return n;
}

std::vector<SessionId> SessionTable::ids() const {
  std::vector<SessionId> ids;
  ids.reserve(sessions_.size());
  for (const auto& [id, s] : sessions_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

Session* SessionTable::quietest_udp() const {
  for (SessionId id : quiet_order_)
    if (Session* s = find(id); !s->busy()) return s;
  return nullptr;
}

std::vector<Session*> SessionTable::expired_udp(TimePoint now, Duration timeout, Duration lifetime,
                                                TimePoint* next) const {
  std::vector<Session*> expired;
  auto check = [&](Session* s) {
    if (s->busy() || s->outgoing) return true;  // outgoing: kept up until closed
    const TimePoint expiry = s->last_activity + timeout;
    if (expiry > now) {
      *next = std::min(*next, expiry);
      return false;
    }
    // Quiet for long enough, but held for its live Message IDs: the walk
    // goes on past it.
    if (const TimePoint held = s->udp->mids_live_until(lifetime); held > now) {
      *next = std::min(*next, held);
      return true;
    }
    expired.push_back(s);
    return true;
  };
  // Plain UDP in the order of last activity: the first one not expired ends
  // the walk, so a sweep costs what expires (and what its Message IDs
  // hold), not what is there.
  for (SessionId id : quiet_order_)
    if (!check(find(id))) break;
  for (const auto& [peer, id] : dtls_) check(find(id));
  return expired;
}

}  // namespace coap
