#include "test/lwip_tap/fake_link.h"

#include <iterator>

namespace lwip_tap::test {

bool FakeLink::write_frame(std::span<const uint8_t> frame) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (failing_) {
      ++refused_;
      return false;
    }
    ++accepted_;
    frames_.emplace_back(frame.begin(), frame.end());
  }
  cv_.notify_all();
  return true;
}

std::vector<std::vector<uint8_t>> FakeLink::take(std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, wait, [this] { return !frames_.empty(); });
  std::vector<std::vector<uint8_t>> out(std::make_move_iterator(frames_.begin()),
                                        std::make_move_iterator(frames_.end()));
  frames_.clear();
  return out;
}

void FakeLink::set_failing(bool failing) {
  std::lock_guard<std::mutex> lock(mu_);
  failing_ = failing;
}

uint64_t FakeLink::accepted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return accepted_;
}

uint64_t FakeLink::refused() const {
  std::lock_guard<std::mutex> lock(mu_);
  return refused_;
}

}  // namespace lwip_tap::test
