#include "daemon/coapd/shutdown.h"

namespace coapd {

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::kStarting: return "starting";
    case Phase::kServing: return "serving";
    case Phase::kLingering: return "lingering";
    case Phase::kStopping: return "stopping";
    case Phase::kStopped: return "stopped";
  }
  return "?";
}

Action ShutdownMachine::on(Cue cue) {
  switch (phase_) {
    case Phase::kStarting:
      if (cue == Cue::kStarted) {
        phase_ = Phase::kServing;
        return Action::kServe;
      }
      if (cue == Cue::kStartFailed || cue == Cue::kStopRequested) {
        start_failed_ = cue == Cue::kStartFailed;
        phase_ = Phase::kStopping;
        return Action::kStopParts;
      }
      return Action::kNone;
    case Phase::kServing:
      if (cue != Cue::kStopRequested) return Action::kNone;
      phase_ = Phase::kLingering;
      return Action::kBeginLinger;
    case Phase::kLingering:
      if (cue != Cue::kSettled && cue != Cue::kLingerExpired) return Action::kNone;
      phase_ = Phase::kStopping;
      return Action::kStopParts;
    case Phase::kStopping:
      if (cue != Cue::kStopped) return Action::kNone;
      phase_ = Phase::kStopped;
      return Action::kExit;
    case Phase::kStopped: return Action::kNone;
  }
  return Action::kNone;
}

}  // namespace coapd
