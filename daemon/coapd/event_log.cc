#include "daemon/coapd/event_log.h"

#include "daemon/coapd/results.h"

namespace coapd {

nlohmann::json EventLog::to_json(const coap::Event& e) { return event_record(e).encode(); }
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
