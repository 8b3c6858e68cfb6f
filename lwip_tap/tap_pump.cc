#include "lwip_tap/tap_pump.h"

#include <sched.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lwip_tap/frame_filter.h"
#include "lwip_tap/time_wait.h"

namespace lwip_tap {

bool input_frame(netif* iface, std::span<const uint8_t> frame) {
  assume_core_locked();
  if (refuse_reason(frame)) return false;  // counted, not logged: a flood costs no formatting
  pbuf* p = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(frame.size()), PBUF_RAM);
  if (!p) {  // out of memory: the frame is lost, like on a wire, and counted
    static_cast<Stack*>(iface->state)->note_rx_no_memory();
    return true;
  }
  std::memcpy(p->payload, frame.data(), frame.size());
  reopen_time_wait(frame);
  if (iface->input(p, iface) != ERR_OK) pbuf_free(p);
  return true;
}

TapPump::TapPump(uv_loop_t* loop, int tap_fd, Stack& stack, TransportSink& sink)
    : loop_(loop), fd_(tap_fd), stack_(stack), sink_(sink), frames_(kBatch) {}

TapPump::~TapPump() { stop(); }

coap::Status TapPump::start() {
  poll_ = new uv_poll_t;
  poll_->data = this;
  int rc = uv_poll_init(loop_, poll_, fd_);
  if (rc == 0) rc = uv_poll_start(poll_, UV_READABLE, on_readable);
  if (rc != 0) {
    delete poll_;
    poll_ = nullptr;
    return coap::error("cannot watch the TAP: ", uv_strerror(rc));
  }
  idle_ = new uv_idle_t;
  idle_->data = this;
  uv_idle_init(loop_, idle_);  // cannot fail
  return {};
}

void TapPump::stop() {
  if (!poll_) return;
  uv_poll_stop(poll_);
  poll_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(poll_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
  poll_ = nullptr;
  uv_idle_stop(idle_);
  uv_close(reinterpret_cast<uv_handle_t*>(idle_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_idle_t*>(h); });
  idle_ = nullptr;
}

// After a batch, the next frame usually follows within tens of microseconds
// (the peer's next request, the ACK of what just went out, the next SYN).
// Finding it without sleeping spares the wake-up of the io thread, which
// costs more than that, most of all on a virtual machine's halted vCPU. So
// for busy_poll_ after each batch the loop runs with an idle handle active:
// it polls its fds without blocking at every turn, the TAP's and all others,
// and the idle callback yields the CPU to any thread with work for this core.
void TapPump::on_readable(uv_poll_t* handle, int status, int) {
  auto* self = static_cast<TapPump*>(handle->data);
  if (!self) return;
  if (status < 0) {
    spdlog::error("tap: poll error: {}", uv_strerror(status));
    return;
  }
  const bool polling = uv_is_active(reinterpret_cast<uv_handle_t*>(self->idle_));
  if (self->pump() == 0 || self->busy_poll_.count() <= 0) return;
  if (polling) self->rx_polled_.fetch_add(1, std::memory_order_relaxed);
  self->poll_until_ = std::chrono::steady_clock::now() + self->busy_poll_;
  if (!polling) uv_idle_start(self->idle_, on_idle);
}

void TapPump::on_idle(uv_idle_t* handle) {
  auto* self = static_cast<TapPump*>(handle->data);
  if (std::chrono::steady_clock::now() >= self->poll_until_) {
    uv_idle_stop(handle);
  } else {
    sched_yield();
  }
}

int TapPump::pump() {
  int n = 0;
  while (n < kBatch) {
    const ssize_t len = ::read(fd_, frames_[n].data(), kFrameMax);
    if (len < 0) {
      if (errno != EAGAIN && errno != EINTR)
        spdlog::warn("tap: read failed: {}", std::strerror(errno));
      break;
    }
    if (len == 0) break;
    lengths_[n++] = static_cast<int>(len);
  }
  if (n == 0) return 0;
  std::size_t trimmed = 0;
  uint64_t refused = 0;
  {
    // One core-lock acquisition per batch; ACKs and ARP replies go out after it.
    BatchedCoreLock lock(stack_, tx_);
    sink_.begin_input_batch(coap::Clock::now());
    for (int i = 0; i < n; ++i) {
      const std::span<const uint8_t> frame(frames_[i].data(),
                                           static_cast<std::size_t>(lengths_[i]));
      stack_.observe(FrameObserver::Direction::kIn, frame);
      refused += !input_frame(stack_.iface(), frame);
    }
    // TIME_WAIT pcbs only appear while input is processed: bound them here.
    if (tcp_tw_pcbs != time_wait_head_) {
      trimmed = trim_time_wait(max_time_wait_);
      time_wait_head_ = tcp_tw_pcbs;
    }
    sink_.end_input_batch();  // the engine is woken once for the whole batch
  }
  if (trimmed) spdlog::debug("tcp: {} TIME_WAIT pcbs beyond {} dropped", trimmed, max_time_wait_);
  rx_frames_.fetch_add(n, std::memory_order_relaxed);
  if (refused) rx_refused_.fetch_add(refused, std::memory_order_relaxed);
  rx_batches_.fetch_add(1, std::memory_order_relaxed);
  return n;
}

}  // namespace lwip_tap
