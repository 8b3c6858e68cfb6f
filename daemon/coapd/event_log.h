// Session events on their way from the engine to coapctl: a bounded history
// kept on the engine thread as compact records, and delivery to the control
// clients that follow the stream. Events cost no JSON and no cross-thread
// wake-up unless somebody follows: churn of thousands of sessions a second
// stays cheap.
#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "coap/endpoint.h"

namespace coapd {

class EventLog {
 public:
  // post() carries a function to the loop thread (in order); deliver runs
  // there with the events followers have not seen yet.
  using Post = std::function<void(std::function<void()>)>;
  using Deliver = std::function<void(std::vector<nlohmann::json>)>;
  EventLog(Post post, Deliver deliver, std::size_t history = 1000)
      : post_(std::move(post)), deliver_(std::move(deliver)), capacity_(history) {}

  // Engine thread: records an event.
  void record(const coap::Event& e);
  // Engine thread, once per loop pass: posts what followers have not seen.
  void flush();
  // Engine thread: the history as JSON. With follow, the caller must post
  // its answer (and start following) before anything else it posts: the
  // stream then starts right after the history, nothing lost or repeated.
  nlohmann::json history(bool follow);
  // Any thread: a follower went away.
  void unfollow() { followers_.fetch_sub(1, std::memory_order_relaxed); }

  static nlohmann::json to_json(const coap::Event& e);

 private:
  Post post_;
  Deliver deliver_;
  std::size_t capacity_;
  std::deque<coap::Event> history_;       // engine thread only
  std::vector<coap::Event> undelivered_;  // engine thread only
  std::atomic<int> followers_{0};
};

}  // namespace coapd
