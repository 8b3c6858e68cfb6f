#include "daemon/coapd/reload.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace coapd {
namespace {

config::Config parsed(std::vector<std::string> args) {
  args.insert(args.begin(), "coapd");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  config::Config c;
  const config::ParseResult r = config::parse(static_cast<int>(argv.size()), argv.data(), c);
  EXPECT_TRUE(r.run) << r.output;
  return c;
}

std::vector<std::string> uris(const std::vector<config::SessionConfig>& list) {
  std::vector<std::string> out;
  for (const auto& s : list) out.push_back(s.uri);
  return out;
}

TEST(PlanReload, NothingChangedIsNothingToDo) {
  const config::Config c = parsed({"--log-level", "warn", "--session", "coap+tcp://192.0.2.1"});
  const ReloadPlan p = plan_reload(c, c);
  EXPECT_EQ(p.log_level, "warn");
  EXPECT_TRUE(p.open.empty() && p.close.empty() && p.restart_needed.empty());
}

TEST(PlanReload, SessionsOpenedAndClosedUnchangedOnesUntouched) {
  const config::Config running =
      parsed({"--session", "coap+tcp://192.0.2.1", "--session", "coap+tcp://192.0.2.7:5684"});
  const config::Config fresh = parsed({"--session", "coap+tcp://192.0.2.1", "--session",
                                       "coap+tcp://192.0.2.8,call-home", "--log-level", "debug"});
  const ReloadPlan p = plan_reload(running, fresh);
  EXPECT_EQ(p.log_level, "debug");
  EXPECT_EQ(uris(p.open), std::vector<std::string>{"coap+tcp://192.0.2.8"});
  ASSERT_EQ(p.open.size(), 1u);
  EXPECT_TRUE(p.open[0].call_home);
  EXPECT_EQ(p.close, std::vector<std::string>{"coap+tcp://192.0.2.7:5684"});
  EXPECT_TRUE(p.restart_needed.empty());
}

TEST(PlanReload, ASessionWhoseOptionsChangedIsClosedAndOpenedAgain) {
  const ReloadPlan p = plan_reload(parsed({"--session", "coap+tcp://192.0.2.1"}),
                                   parsed({"--session", "coap+tcp://192.0.2.1,call-home"}));
  EXPECT_EQ(uris(p.open), std::vector<std::string>{"coap+tcp://192.0.2.1"});
  EXPECT_EQ(p.close, std::vector<std::string>{"coap+tcp://192.0.2.1"});
}

TEST(PlanReload, OtherChangedKeysNeedARestartInTableOrder) {
  const ReloadPlan p =
      plan_reload(parsed({}), parsed({"--udp-port", "5700", "--tap", "coap9", "--gateway",
                                      "192.0.2.254", "--host-ipv6", "fd00::1/64"}));
  EXPECT_EQ(p.restart_needed,
            (std::vector<std::string>{"tap", "gateway", "host-ipv6", "udp-port"}));
}

TEST(PlanReload, AMovedDefaultSubnetIsNotAChange) {
  config::Config running = parsed({});
  running.address = {{198, 51, 100, 2}, 24};
  running.host_address = config::Ipv4Prefix{{198, 51, 100, 1}, 24};
  EXPECT_TRUE(plan_reload(running, parsed({})).restart_needed.empty());
  EXPECT_EQ(plan_reload(running, parsed({"--address", "198.51.100.2/24"})).restart_needed,
            std::vector<std::string>{"host-address"});
}

std::vector<std::string> paths(const std::vector<coap::ResourceSpec>& list) {
  std::vector<std::string> out;
  for (const auto& r : list) out.push_back(r.path);
  return out;
}

TEST(PlanReload, ResourceEntriesAddedRemovedSetAndReplaced) {
  const config::Config running =
      parsed({"--resource", "/kept,value=1", "--resource", "/gone,value=2", "--resource",
              "/new-value,ct=0,value=3", "--resource", "/new-attrs,obs,value=4"});
  const config::Config fresh =
      parsed({"--resource", "/kept,value=1", "--resource", "/new-value,ct=50,value={}",
              "--resource", "/new-attrs,value=4", "--resource", "/added,methods=get|put,value=5"});
  const ReloadPlan p = plan_reload(running, fresh);
  EXPECT_EQ(paths(p.resources_add), std::vector<std::string>{"/added"});
  EXPECT_EQ(p.resources_remove, std::vector<std::string>{"/gone"});
  EXPECT_EQ(paths(p.resources_set), std::vector<std::string>{"/new-value"});
  ASSERT_EQ(p.resources_set.size(), 1u);
  EXPECT_EQ(p.resources_set[0].ct, 50u);
  EXPECT_EQ(std::string(p.resources_set[0].value.begin(), p.resources_set[0].value.end()), "{}");
  EXPECT_EQ(paths(p.resources_replace), std::vector<std::string>{"/new-attrs"});
  // Resource entries never need a restart.
  EXPECT_TRUE(p.restart_needed.empty());
}

TEST(PlanReload, UnchangedResourceEntriesAreUntouched) {
  const config::Config c = parsed({"--resource", "/a,obs,value=1", "--resource", "/b,value=2"});
  const ReloadPlan p = plan_reload(c, c);
  EXPECT_TRUE(p.resources_add.empty() && p.resources_remove.empty() && p.resources_set.empty() &&
              p.resources_replace.empty());
}

}  // namespace
}  // namespace coapd
