#include "lwip_tap/tap_pump.h"

#include "lwip_tap/frame_filter.h"
#include "lwip_tap/time_wait.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lwip_tap {

TapPump::TapPump(uv_loop_t* loop, int tap_fd, Stack& stack, std::function<void()> before_batch,
                 std::function<void()> after_batch)
    : loop_(loop),
      fd_(tap_fd),
      stack_(stack),
      iface_(stack.iface()),
      before_batch_(std::move(before_batch)),
      after_batch_(std::move(after_batch)),
      frames_(kBatch) {}

TapPump::~TapPump() { stop(); }

bool TapPump::start(std::string* error) {
  poll_ = new uv_poll_t;
  poll_->data = this;
  int rc = uv_poll_init(loop_, poll_, fd_);
  if (rc == 0) rc = uv_poll_start(poll_, UV_READABLE, on_readable);
  if (rc != 0) {
    *error = std::string("cannot watch the TAP: ") + uv_strerror(rc);
    delete poll_;
    poll_ = nullptr;
    return false;
  }
  return true;
}

void TapPump::stop() {
  if (!poll_) return;
  uv_poll_stop(poll_);
  poll_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(poll_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
  poll_ = nullptr;
}

void TapPump::on_readable(uv_poll_t* handle, int status, int) {
  auto* self = static_cast<TapPump*>(handle->data);
  if (!self) return;
  if (status < 0) {
    spdlog::error("tap: poll error: {}", uv_strerror(status));
    return;
  }
  self->pump();
}

void TapPump::pump() {
  int n = 0;
  while (n < kBatch) {
    const ssize_t len = ::read(fd_, frames_[n].data(), kFrameMax);
    if (len < 0) {
      if (errno != EAGAIN && errno != EINTR) spdlog::warn("tap: read failed: {}", std::strerror(errno));
      break;
    }
    if (len == 0) break;
    lengths_[n++] = static_cast<int>(len);
  }
  if (n == 0) return;
  if (before_batch_) before_batch_();
  Stack::open_batch(tx_);  // ACKs and ARP replies go out after the unlock
  std::size_t trimmed = 0;
  uint64_t refused = 0;
  {
    CoreLock lock;  // one acquisition per batch
    for (int i = 0; i < n; ++i) {
      const std::span<const uint8_t> frame(frames_[i].data(),
                                           static_cast<std::size_t>(lengths_[i]));
      if (refuse_reason(frame)) {  // counted, not logged: a flood costs no formatting
        ++refused;
        continue;
      }
      pbuf* p = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(lengths_[i]), PBUF_RAM);
      if (!p) continue;  // out of memory: the frame is lost, like on a wire
      std::memcpy(p->payload, frames_[i].data(), lengths_[i]);
      reopen_time_wait(frame);
      if (iface_->input(p, iface_) != ERR_OK) pbuf_free(p);
    }
    // TIME_WAIT pcbs only appear while input is processed: bound them here.
    if (tcp_tw_pcbs != time_wait_head_) {
      trimmed = trim_time_wait(max_time_wait_);
      time_wait_head_ = tcp_tw_pcbs;
    }
  }
  if (trimmed) spdlog::debug("tcp: {} TIME_WAIT pcbs beyond {} dropped", trimmed, max_time_wait_);
  Stack::close_batch();
  stack_.write_batch(tx_);
  rx_frames_.fetch_add(n, std::memory_order_relaxed);
  if (refused) rx_refused_.fetch_add(refused, std::memory_order_relaxed);
  rx_batches_.fetch_add(1, std::memory_order_relaxed);
  if (after_batch_) after_batch_();
}

}  // namespace lwip_tap
