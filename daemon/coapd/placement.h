// Where the io thread and the engine thread run.
//
// Every TAP batch is handed from the io thread to the engine, and the
// engine's answers go back out through the TAP. Measured on a 2-core VM
// (README, "Measurements"): when the two threads run on different cores,
// each hand-off costs a cross-core wake-up; for CoAP over UDP, where every
// request is a frame of its own, that overhead outweighs the parallelism
// (UDP 1x32: 270k req/s spread, 337k sharing one core). For TCP it is the
// other way round: a segment carries many requests, and the two threads
// working in parallel wins (1x32 pipelined: 940k spread, 520k shared;
// churn 9.8k vs 5.8k conn/s).
//
// Sharing pays only when the engine gets its datagrams in trains: with one
// request in flight (each pass handles one datagram) the threads on two
// cores, both busy polling, hand it over without a wake-up, while on one
// core each hand-off waits for the other thread's turn (UDP 1x1 with busy
// polling: p50 10-13 us spread, 32-37 us shared; 1x2: 65k against 46k
// req/s; 1x32: 192k against 212k).
//
// So by default (`--cpu-placement auto`) the threads share the io thread's
// core while the engine's input is, for two intervals in a row, busy, almost
// all UDP datagrams and at least three items a pass, and go back to the
// scheduler's choice as soon as that stops. `shared` and `spread` fix the
// choice.
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace coapd {

enum class CpuPlacement { kAuto, kSpread, kShared };

std::optional<CpuPlacement> parse_cpu_placement(const std::string& s);

// The decision alone (unit-tested): fed cumulative counters once per
// interval, answers whether the threads should share a core.
class PlacementPolicy {
 public:
  // Thresholds for `auto`: sharing starts at this many datagrams per second
  // making at least this share of the engine's input items, and ends below
  // the lower pair, so that traffic near a threshold does not flip it.
  static constexpr double kMinDatagramRate = 20000;
  static constexpr double kMinDatagramShare = 0.9;
  static constexpr double kKeepDatagramRate = 10000;
  static constexpr double kKeepDatagramShare = 0.8;
  // Items per engine pass (the length of the trains) to start sharing and to
  // keep it.
  static constexpr double kMinItemsPerPass = 3;
  static constexpr double kKeepItemsPerPass = 2;
  // Consecutive intervals that must agree before the placement changes.
  static constexpr int kAgree = 2;

  explicit PlacementPolicy(CpuPlacement mode)
      : mode_(mode), shared_(mode == CpuPlacement::kShared) {}

  // seconds since the last call; datagrams, items and the engine's passes:
  // totals so far. Returns the placement to use from now on (true: shared).
  bool update(double seconds, uint64_t datagrams, uint64_t items, uint64_t passes);
  bool shared() const { return shared_; }

 private:
  CpuPlacement mode_;
  bool shared_;
  uint64_t last_datagrams_ = 0;
  uint64_t last_items_ = 0;
  uint64_t last_passes_ = 0;
  int votes_ = 0;  // consecutive intervals asking for the other placement
};

// Applies a PlacementPolicy to two threads. Engine thread only.
class ThreadPlacement {
 public:
  static constexpr std::chrono::milliseconds kInterval{250};

  // io_tid: the io thread; the calling thread's mask is the one restored
  // when spreading. Does nothing on a single allowed CPU.
  ThreadPlacement(CpuPlacement mode, pid_t io_tid);

  // Engine thread, once per pass.
  void on_pass(std::chrono::steady_clock::time_point now, uint64_t datagrams, uint64_t items,
               uint64_t passes);
  bool shared() const { return applied_shared_; }
  uint64_t changes() const { return changes_; }

 private:
  void apply(bool shared);

  PlacementPolicy policy_;
  pid_t io_tid_;
  pid_t engine_tid_ = 0;
  cpu_set_t allowed_{};
  bool usable_ = false;
  bool applied_shared_ = false;
  uint64_t changes_ = 0;
  std::chrono::steady_clock::time_point next_{};
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace coapd
