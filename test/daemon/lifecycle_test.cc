// Lifecycle and ShutdownMachine: the start list stops in reverse, and
// coapd's phases move only the way daemon/coapd/shutdown.h draws them.
#include "daemon/coapd/lifecycle.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon/coapd/shutdown.h"

namespace coapd {
namespace {

struct Recorder {
  std::vector<std::string> log;
  Lifecycle::Step step(const std::string& name, bool ok = true) {
    return {name,
            [this, name, ok]() -> coap::Status {
              log.push_back("start " + name);
              if (!ok) return coap::error("broken");
              return {};
            },
            [this, name] { log.push_back("stop " + name); }};
  }
};

TEST(Lifecycle, StartsInOrderAndStopsInReverse) {
  Recorder r;
  Lifecycle l({r.step("a"), r.step("b"), r.step("c")});
  ASSERT_TRUE(l.start().ok());
  EXPECT_EQ(l.started(), 3u);
  l.stop();
  EXPECT_EQ(r.log, (std::vector<std::string>{"start a", "start b", "start c", "stop c", "stop b",
                                             "stop a"}));
  l.stop();  // idempotent
  EXPECT_EQ(r.log.size(), 6u);
}

TEST(Lifecycle, AFailedStepIsNamedAndUndoneWithTheOnesBeforeIt) {
  Recorder r;
  Lifecycle l({r.step("tap"), r.step("lwip", /*ok=*/false), r.step("engine")});
  const coap::Status st = l.start();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error(), "lwip: broken");
  l.stop();
  EXPECT_EQ(r.log, (std::vector<std::string>{"start tap", "start lwip", "stop lwip", "stop tap"}));
}

TEST(ShutdownMachine, ServesThenLingersThenStops) {
  ShutdownMachine m;
  EXPECT_EQ(m.phase(), Phase::kStarting);
  EXPECT_EQ(m.on(Cue::kStarted), Action::kServe);
  EXPECT_EQ(m.phase(), Phase::kServing);
  EXPECT_EQ(m.on(Cue::kSettled), Action::kNone);  // not lingering: ignored
  EXPECT_EQ(m.on(Cue::kStopRequested), Action::kBeginLinger);
  EXPECT_EQ(m.phase(), Phase::kLingering);
  EXPECT_EQ(m.on(Cue::kStopRequested), Action::kNone);  // a second request changes nothing
  EXPECT_EQ(m.on(Cue::kSettled), Action::kStopParts);
  EXPECT_EQ(m.phase(), Phase::kStopping);
  EXPECT_EQ(m.on(Cue::kLingerExpired), Action::kNone);
  EXPECT_EQ(m.on(Cue::kStopped), Action::kExit);
  EXPECT_EQ(m.phase(), Phase::kStopped);
  EXPECT_FALSE(m.start_failed());
}

TEST(ShutdownMachine, LingerThatRunsOutStopsToo) {
  ShutdownMachine m;
  m.on(Cue::kStarted);
  m.on(Cue::kStopRequested);
  EXPECT_EQ(m.on(Cue::kLingerExpired), Action::kStopParts);
  EXPECT_EQ(m.phase(), Phase::kStopping);
}

TEST(ShutdownMachine, AFailedStartStopsAtOnceAndSaysSo) {
  ShutdownMachine m;
  EXPECT_EQ(m.on(Cue::kStartFailed), Action::kStopParts);
  EXPECT_EQ(m.phase(), Phase::kStopping);
  EXPECT_TRUE(m.start_failed());
  EXPECT_EQ(m.on(Cue::kStopped), Action::kExit);
  EXPECT_EQ(m.on(Cue::kStarted), Action::kNone);  // stopped is final
  EXPECT_EQ(m.phase(), Phase::kStopped);
  EXPECT_STREQ(phase_name(m.phase()), "stopped");
}

}  // namespace
}  // namespace coapd
