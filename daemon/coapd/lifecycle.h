// coapd's parts in the order they start, stopped in exactly the reverse
// order from one place (chrony's Initialise/Finalise chain): the list is the
// documentation of what depends on what.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "coap/result.h"

namespace coapd {

class Lifecycle {
 public:
  struct Step {
    std::string name;
    std::function<coap::Status()> start;
    std::function<void()> stop;  // may be empty
  };

  explicit Lifecycle(std::vector<Step> steps) : steps_(std::move(steps)) {}

  // Starts the steps in order, up to the first that fails; its error comes
  // back as "<name>: <error>". Steps started stay started until stop(); so
  // does the one that failed, whose stop must undo a partial start.
  coap::Status start();
  // Stops every started step, last started first. Idempotent.
  void stop();

  std::size_t started() const { return started_; }
  const std::vector<Step>& steps() const { return steps_; }

 private:
  std::vector<Step> steps_;
  std::size_t started_ = 0;
};

}  // namespace coapd
