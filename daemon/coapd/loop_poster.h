// The one doorway from other threads into the libuv loop: post() queues a
// function and wakes the loop with uv_async_send(), which coalesces, so each
// wake-up drains the whole queue.
#pragma once

#include <uv.h>

#include <functional>
#include <vector>

#include "lwip_tap/thread_safety.h"

namespace coapd {

class LoopPoster {
 public:
  explicit LoopPoster(uv_loop_t* loop);
  ~LoopPoster();
  LoopPoster(const LoopPoster&) = delete;
  LoopPoster& operator=(const LoopPoster&) = delete;

  // Any thread. After close() the function is dropped.
  void post(std::function<void()> fn);
  // Loop thread: runs what is queued now.
  void run_pending();
  // Loop thread: runs what is queued, then closes the handle.
  void close();

 private:
  static void on_async(uv_async_t* handle);

  uv_async_t* async_;  // freed in its close callback
  lwip_tap::Mutex mu_;
  std::vector<std::function<void()>> queue_ GUARDED_BY(mu_);
  bool closed_ GUARDED_BY(mu_) = false;
};

}  // namespace coapd
