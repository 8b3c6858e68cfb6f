#include "daemon/coapd/lifecycle.h"

namespace coapd {

coap::Status Lifecycle::start() {
  while (started_ < steps_.size()) {
    Step& step = steps_[started_];
    coap::Status st = step.start ? step.start() : coap::Status{};
    ++started_;
    if (!st) return coap::error(step.name, ": ", st.error());
  }
  return {};
}

void Lifecycle::stop() {
  while (started_ > 0) {
    Step& step = steps_[--started_];
    if (step.stop) step.stop();
  }
}

}  // namespace coapd
