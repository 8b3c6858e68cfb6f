#include "daemon/coapd/placement.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace coapd {

std::optional<CpuPlacement> parse_cpu_placement(const std::string& s) {
  if (s == "auto") return CpuPlacement::kAuto;
  if (s == "spread") return CpuPlacement::kSpread;
  if (s == "shared") return CpuPlacement::kShared;
  return std::nullopt;
}

bool PlacementPolicy::update(double seconds, uint64_t datagrams, uint64_t items, uint64_t passes) {
  const auto d = static_cast<double>(datagrams - last_datagrams_);
  const auto n = static_cast<double>(items - last_items_);
  const auto p = static_cast<double>(passes - last_passes_);
  last_datagrams_ = datagrams;
  last_items_ = items;
  last_passes_ = passes;
  if (mode_ != CpuPlacement::kAuto) return shared_;
  const double rate = shared_ ? kKeepDatagramRate : kMinDatagramRate;
  const double share = shared_ ? kKeepDatagramShare : kMinDatagramShare;
  const double train = shared_ ? kKeepItemsPerPass : kMinItemsPerPass;
  const bool want = seconds > 0 && d / seconds >= rate && d >= share * n && n >= train * p;
  votes_ = want == shared_ ? 0 : votes_ + 1;
  if (votes_ >= kAgree) {
    shared_ = want;
    votes_ = 0;
  }
  return shared_;
}

ThreadPlacement::ThreadPlacement(CpuPlacement mode, pid_t io_tid) : policy_(mode), io_tid_(io_tid) {
  if (sched_getaffinity(0, sizeof allowed_, &allowed_) != 0) return;
  usable_ = CPU_COUNT(&allowed_) > 1 && mode != CpuPlacement::kSpread;
}

void ThreadPlacement::on_pass(std::chrono::steady_clock::time_point now, uint64_t datagrams,
                              uint64_t items, uint64_t passes) {
  if (!usable_ || now < next_) return;
  if (engine_tid_ == 0) {  // the first pass: the engine thread is the caller
    engine_tid_ = gettid();
    last_ = now;
    next_ = now + kInterval;
    policy_.update(0, datagrams, items, passes);
    if (policy_.shared()) apply(true);
    return;
  }
  const double seconds = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  next_ = now + kInterval;
  const bool shared = policy_.update(seconds, datagrams, items, passes);
  if (shared != applied_shared_) apply(shared);
}

void ThreadPlacement::apply(bool shared) {
  cpu_set_t set = allowed_;
  if (shared) {
    // The engine moves to where it is now (it was just handed work by the
    // io thread, which the scheduler then tends to keep nearby), and the io
    // thread joins it.
    const int cpu = sched_getcpu();
    if (cpu < 0 || !CPU_ISSET(cpu, &allowed_)) return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
  }
  for (pid_t tid : {engine_tid_, io_tid_}) {
    if (sched_setaffinity(tid, sizeof set, &set) != 0) {
      spdlog::warn(
          "cpu placement: cannot set the affinity of thread {} ({}); leaving threads "
          "where the scheduler puts them",
          tid, std::strerror(errno));
      usable_ = false;
      for (pid_t t : {engine_tid_, io_tid_}) sched_setaffinity(t, sizeof allowed_, &allowed_);
      applied_shared_ = false;
      return;
    }
  }
  applied_shared_ = shared;
  ++changes_;
  spdlog::debug("cpu placement: io thread and engine {}", shared ? "share a core" : "spread");
}

}  // namespace coapd
