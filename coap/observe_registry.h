// The server side of Observe (RFC 7641): who observes which resource, the
// notification sequence number, and the rules for when a notification over
// UDP must be Confirmable. The endpoint sends; the registry remembers and
// decides.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "coap/message.h"
#include "coap/resource.h"
#include "coap/session.h"

namespace coap {

struct Observation {
  uint64_t id = 0;
  SessionId session = 0;
  bool udp = false;
  Resource* resource = nullptr;
  Token token;
  uint16_t last_mid = 0;     // UDP: MID of the last notification (a RST names it)
  uint64_t pending_con = 0;  // UDP: the CON notification in flight (ConTracker id)
  unsigned sent = 0;         // notifications, the registration's response included
  TimePoint con_due;         // UDP: the next notification must be CON from then on
  // Registered with FETCH (RFC 8132 2.4): every notification is the answer
  // to this FETCH body (with this Content-Format), not to a GET.
  bool fetch = false;
  std::vector<uint8_t> fetch_body;
  std::optional<uint32_t> fetch_format;
};

class ObserveRegistry {
 public:
  // Over UDP every this many notifications is sent CON, to learn whether the
  // observer is still there (RFC 7641 4.5)...
  static constexpr unsigned kConEvery = 20;
  // ...and at least one this often, even for a resource that does not change:
  // an observer that is gone then answers RST or nothing, and is removed.
  static constexpr Duration kConInterval = std::chrono::hours(24);
  // Observations a peer may hold (per session) and all peers together: past
  // these a GET with Observe is answered without registering (RFC 7641 4.1
  // lets a server decline), so a peer cannot grow the list without bound.
  static constexpr std::size_t kMaxPerSession = 64;
  static constexpr std::size_t kMaxTotal = 4096;

  // Registers (or re-registers: same session and token) an observation of r
  // and counts the registration's response as its first notification.
  // nullptr when the limits leave no room.
  Observation* observe(Session& s, Resource& r, const Token& token, TimePoint now);
  Observation* find(uint64_t id);
  // Forgets the observation (and its id in s->observations when s is given).
  // Returns the CON notification still in flight for it (0: none).
  uint64_t remove(uint64_t id, Session* s);
  // The observation of `token` on s, or nullptr.
  Observation* find(const Session& s, const Token& token);

  // Ids of the observations of r (a copy: notifying may remove some).
  std::vector<uint64_t> of_resource(const Resource* r) const;
  // Whether o's next notification must be Confirmable (UDP only): every
  // kConEvery-th, and once con_due has passed; never while one is in flight.
  static bool next_is_con(const Observation& o, TimePoint now);
  // The next Observe sequence number (24 bits, RFC 7641 4.4).
  uint32_t next_sequence();
  // UDP observations whose CON check is due at now with none in flight;
  // *next is lowered to the earliest check not yet due.
  std::vector<uint64_t> due_for_check(TimePoint now, TimePoint* next) const;
  std::size_t size() const { return observations_.size(); }

  // Resources whose state changes with time (a notify interval), driven by
  // one timer each while anybody observes them.
  void add_ticking(Resource* r) { ticking_.push_back({r, false}); }
  // The index of r's tick timer when it must be armed now (it was idle).
  std::optional<std::size_t> start_ticking(const Resource* r);
  Resource* ticking(std::size_t index) const;
  void stop_ticking(std::size_t index) { ticking_[index].armed = false; }

 private:
  struct Ticking {
    Resource* resource;
    bool armed;
  };
  std::unordered_map<uint64_t, Observation> observations_;
  uint64_t next_id_ = 1;
  uint32_t seq_ = 0;
  std::vector<Ticking> ticking_;
};

}  // namespace coap
