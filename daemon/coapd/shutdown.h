// coapd's life from start-up to exit as one state machine. The daemon feeds
// it what happened (cues) and carries out what each transition calls for.
//
//   starting --started--> serving --stop requested--> lingering
//      |                                                 |
//      +--start failed--> stopping <--settled | linger expired
//                            |
//                         stopped
//
// Lingering: listeners are closed, every session released, and the TAP and
// engine keep running until what coapd sent is acknowledged (settled) or
// the linger time runs out. Stopping: the parts stop in reverse start order.
#pragma once

#include <cstdint>

namespace coapd {

enum class Phase : uint8_t { kStarting, kServing, kLingering, kStopping, kStopped };
enum class Cue : uint8_t {
  kStarted,        // every part started
  kStartFailed,    // a part failed to start
  kStopRequested,  // SIGTERM/SIGINT
  kSettled,        // lingering: all sessions gone, all sent acknowledged
  kLingerExpired,  // lingering: out of time
  kStopped,        // the parts are stopped
};
enum class Action : uint8_t {
  kNone,         // nothing to do (a cue that does not apply now)
  kServe,        // announce readiness
  kBeginLinger,  // close listeners, release sessions, start the linger checks
  kStopParts,    // stop every part in reverse order
  kExit,         // leave the loop
};

const char* phase_name(Phase p);

class ShutdownMachine {
 public:
  Phase phase() const { return phase_; }
  // Applies the cue; returns what the new phase calls for.
  Action on(Cue cue);
  // The daemon failed to start (the exit code is then 1).
  bool start_failed() const { return start_failed_; }

 private:
  Phase phase_ = Phase::kStarting;
  bool start_failed_ = false;
};

}  // namespace coapd
