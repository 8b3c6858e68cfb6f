#include "daemon/event_log.h"

#include <chrono>
#include <cstdio>

#include "coap/builtin_resources.h"

namespace coapd {
namespace {

std::string event_time(coap::TimePoint t) {
  // Events carry monotonic time; show it as wall-clock time, to the ms.
  const auto wall = std::chrono::system_clock::now() -
                    std::chrono::duration_cast<std::chrono::system_clock::duration>(
                        coap::Clock::now() - t);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch()).count() % 1000;
  std::string s = coap::format_utc(wall);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03lld", static_cast<long long>(ms));
  s.insert(s.size() - 1, frac);
  return s;
}

}  // namespace

nlohmann::json EventLog::to_json(const coap::Event& e) {
  nlohmann::json j = {
      {"time", event_time(e.time)},
      {"event", e.name()},
      {"session_id", e.session},
      {"peer", e.peer.family == coap::Address::Family::kNone ? "" : e.peer.to_string()}};
  if (!e.reason.empty()) j["reason"] = e.reason;
  if (e.attempt) j["attempt"] = e.attempt;
  return j;
}

void EventLog::record(const coap::Event& e) {
  history_.push_back(e);
  if (history_.size() > capacity_) history_.pop_front();
  if (followers_.load(std::memory_order_relaxed) > 0) undelivered_.push_back(e);
}

void EventLog::flush() {
  if (undelivered_.empty()) return;
  std::vector<nlohmann::json> batch;
  batch.reserve(undelivered_.size());
  for (const coap::Event& e : undelivered_) batch.push_back(to_json(e));
  undelivered_.clear();
  post_([deliver = deliver_, batch = std::move(batch)]() mutable { deliver(std::move(batch)); });
}

nlohmann::json EventLog::history(bool follow) {
  // Events already in the history go to the current followers first, so a
  // new follower does not see them twice.
  flush();
  nlohmann::json list = nlohmann::json::array();
  for (const coap::Event& e : history_) list.push_back(to_json(e));
  if (follow) followers_.fetch_add(1, std::memory_order_relaxed);
  return list;
}

}  // namespace coapd
