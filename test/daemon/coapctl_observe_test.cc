// coapctl observe and observations, the real binary against FakeCoapd: the
// notification lines it prints (and their --json keys), the deregistration
// it asks for after --count before it exits 0, and a resource that is not
// observable printed with get's exit status.
#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test/daemon/fake_coapd.h"
#include "test/daemon/subprocess.h"

namespace coapctl_test {
namespace {

using nlohmann::json;

RunResult coapctl(const FakeCoapd& server, std::vector<std::string> args) {
  args.insert(args.begin(), {"--socket", server.socket_path()});
  return run(COAPCTL_PATH, args, {}, "");
}

json notification(const json& request, int seq, const std::string& payload_b64) {
  return {{"v", 1},
          {"id", request["id"]},
          {"notification",
           {{"observation", 5},
            {"seq", seq},
            {"code", "2.05"},
            {"content_format", seq == 1 ? json(0) : json(nullptr)},
            {"payload_b64", payload_b64},
            {"time", "2026-12-02T05:00:00.000Z"},
            {"session", 2}}}};
}

json result(const std::string& status, const std::string& code = "") {
  json r = {{"status", status}, {"session", 2}, {"observation", 5}, {"notifications", 3}};
  if (!code.empty()) {
    r["code"] = code;
    r["code_name"] = "Not Found";
    r["options"] = json::array();
    r["payload_b64"] = "";
  }
  return r;
}

TEST(CoapctlObserve, CountPrintsNotificationsThenDeregisters) {
  std::mutex mu;
  json observe;
  FakeCoapd server([&](const json& req, FakeConnection& c) {
    std::lock_guard<std::mutex> lock(mu);
    if (req["cmd"] == "observe") {
      observe = req;
      c.send(notification(req, 1, "aGk="));      // "hi"
      c.send(notification(req, 2, "AP8="));      // binary: 00 ff
      c.send(notification(req, 3, "bW9yZQ=="));  // beyond --count: not printed
    } else if (req["cmd"] == "observe_cancel") {
      c.reply_ok(req, {{"cancelled", {5}}});
      c.reply_ok(observe, result("deregistered"));
    }
  });
  RunResult r = coapctl(
      server, {"--json", "observe", "coap://192.0.2.1/time", "--count", "2", "--token", "0a0b"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0]["method"], "GET");
  EXPECT_EQ(requests[0]["token_hex"], "0a0b");
  EXPECT_EQ(requests[1]["cmd"], "observe_cancel");
  std::vector<json> lines;
  std::size_t start = 0;
  for (std::size_t nl; (nl = r.out.find('\n', start)) != std::string::npos; start = nl + 1)
    lines.push_back(json::parse(r.out.substr(start, nl - start)));
  ASSERT_EQ(lines.size(), 2u) << r.out;
  const json first = {{"seq", 1},
                      {"code", "2.05"},
                      {"content_format", 0},
                      {"payload", "hi"},
                      {"time", "2026-12-02T05:00:00.000Z"}};
  EXPECT_EQ(lines[0], first);
  EXPECT_EQ(lines[1]["payload"], "00ff");
  EXPECT_TRUE(lines[1]["content_format"].is_null());
}

TEST(CoapctlObserve, HumanLinesSayTheSequenceCodeFormatAndPayload) {
  std::mutex mu;
  json observe;
  FakeCoapd server([&](const json& req, FakeConnection& c) {
    std::lock_guard<std::mutex> lock(mu);
    if (req["cmd"] == "observe") {
      observe = req;
      c.send(notification(req, 1, "aGk="));
    } else {
      c.reply_ok(observe, result("deregistered"));
    }
  });
  RunResult r = coapctl(server, {"observe", "coap://192.0.2.1/time", "--count", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "seq=1 code=2.05 content_format=0 payload=hi\n");
}

TEST(CoapctlObserve, NotObservableExitsWithTheResponseClass) {
  FakeCoapd server(
      [](const json& req, FakeConnection& c) { c.reply_ok(req, result("response", "4.04")); });
  RunResult r = coapctl(server, {"observe", "coap://192.0.2.1/nothing"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.out.rfind("4.04 Not Found", 0), 0u) << r.out;
}

TEST(CoapctlObserve, CancelAndObservations) {
  FakeCoapd server([](const json& req, FakeConnection& c) {
    if (req["cmd"] == "observe_cancel") return c.reply_ok(req, {{"cancelled", {7}}});
    c.reply_ok(req, {{"observations",
                      {{{"id", 7},
                        {"uri", "coap://192.0.2.1:5683/time"},
                        {"session_id", 3},
                        {"token", "0a0b"},
                        {"notifications", 4},
                        {"last_seq", 9},
                        {"registered", true},
                        {"deregistering", false}}}}});
  });
  RunResult r = coapctl(server, {"observe", "--cancel", "7"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server.requests().back()["observation"], 7);
  r = coapctl(server, {"observations"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("coap://192.0.2.1:5683/time"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0a0b"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace coapctl_test
