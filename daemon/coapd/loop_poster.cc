#include "daemon/coapd/loop_poster.h"

namespace coapd {

LoopPoster::LoopPoster(uv_loop_t* loop) : async_(new uv_async_t) {
  uv_async_init(loop, async_, on_async);
  async_->data = this;
}

LoopPoster::~LoopPoster() { close(); }

void LoopPoster::post(std::function<void()> fn) {
  lwip_tap::MutexLock lock(mu_);
  if (closed_) return;
  queue_.push_back(std::move(fn));
  uv_async_send(async_);
}

void LoopPoster::on_async(uv_async_t* handle) {
  if (auto* self = static_cast<LoopPoster*>(handle->data)) self->run_pending();
}

void LoopPoster::run_pending() {
  std::vector<std::function<void()>> batch;
  {
    lwip_tap::MutexLock lock(mu_);
    batch.swap(queue_);
  }
  for (auto& fn : batch) fn();
}

void LoopPoster::close() {
  {
    lwip_tap::MutexLock lock(mu_);
    if (closed_) return;
    closed_ = true;
  }
  run_pending();
  async_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(async_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
}

}  // namespace coapd
