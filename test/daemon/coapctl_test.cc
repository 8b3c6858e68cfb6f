// coapctl end to end: the real binary against FakeCoapd, a scripted control
// socket. Checks what coapctl sends, what it prints and how it exits.
#include <gtest/gtest.h>
#include <signal.h>

#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "daemon/control/codec.h"
#include "test/daemon/fake_coapd.h"
#include "test/daemon/subprocess.h"

#ifndef COAPCTL_PATH
#error "COAPCTL_PATH must name the coapctl binary"
#endif

namespace coapctl_test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kCoapctl = COAPCTL_PATH;

RunResult coapctl(const FakeCoapd& server, std::vector<std::string> args,
                  const std::string& stdin_data = "") {
  args.insert(args.begin(), {"--socket", server.socket_path()});
  return run(kCoapctl, args, {}, stdin_data);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

std::string b64(std::string_view text) {
  return control::base64_encode({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

json response_result(const std::string& code, const std::string& code_name,
                     const std::string& payload = "", json options = json::array()) {
  return {{"status", "response"},        {"code", code},
          {"code_name", code_name},      {"options", options},
          {"payload_b64", b64(payload)}, {"session", 1}};
}

// Checks the envelope every request must carry, and returns the request.
json checked(const json& request, const std::string& cmd) {
  EXPECT_EQ(request.value("v", 0), 1) << request;
  EXPECT_TRUE(request.contains("id") && request["id"].is_number_integer()) << request;
  EXPECT_EQ(request.value("cmd", ""), cmd) << request;
  return request;
}

const json kEvent1 = {{"time", "2024-05-01T10:00:00Z"},
                      {"event", "opened"},
                      {"session_id", 1},
                      {"peer", "192.0.2.1:5683"}};
const json kEvent2 = {
    {"time", "2024-05-01T10:00:05Z"}, {"event", "reconnecting"},        {"session_id", 1},
    {"peer", "192.0.2.1:5683"},       {"reason", "connection refused"}, {"attempt", 2}};
const json kEvent3 = {{"time", "2024-05-01T10:00:09Z"},
                      {"event", "closed"},
                      {"session_id", 1},
                      {"peer", "192.0.2.1:5683"},
                      {"reason", "peer reset"}};

// ---------------------------------------------------------------- status etc.

TEST(Coapctl, StatusPrintsATable) {
  FakeCoapd server(FakeCoapd::answer({{"version", "0.1.0"},
                                      {"pid", 321},
                                      {"uptime_s", 3725},
                                      {"tap", "tap0"},
                                      {"mac", "02:00:00:00:00:01"},
                                      {"addresses", {"192.0.2.2/24"}},
                                      {"udp_port", 5683},
                                      {"tcp_port", 5683},
                                      {"call_home_port", 5684},
                                      {"control_socket", "/run/coapd/coapd.sock"},
                                      {"sessions", 2},
                                      {"engine", {{"alive", true}, {"wakeups", 17}}}}));
  RunResult r = coapctl(server, {"status"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out,
            "Version:         0.1.0\n"
            "PID:             321\n"
            "Uptime:          1h02m\n"
            "TAP device:      tap0\n"
            "MAC address:     02:00:00:00:00:01\n"
            "Addresses:       192.0.2.2/24\n"
            "UDP port:        5683\n"
            "TCP port:        5683\n"
            "Call-home port:  5684\n"
            "Control socket:  /run/coapd/coapd.sock\n"
            "Sessions:        2\n"
            "Engine:          alive, wakeups 17\n");
  checked(server.only_request(), "status");
}

TEST(Coapctl, JsonPrintsTheResultObjectOnOneLine) {
  json result = {{"version", "0.1.0"}, {"pid", 321}, {"engine", {{"alive", false}}}};
  FakeCoapd server(FakeCoapd::answer(result));
  RunResult r = coapctl(server, {"--json", "status"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(lines_of(r.out).size(), 1u) << r.out;
  EXPECT_EQ(r.out.back(), '\n');
  EXPECT_EQ(json::parse(r.out), result);
}

TEST(Coapctl, StatsJsonIsTheServersResultAsIs) {
  json result = {
      {"lwip",
       {{"tcp_active", 1}, {"tcp_listen", 2}, {"tcp_time_wait", 0}, {"tcp_bound", 0}, {"udp", 1}}},
      {"counters",
       {{"rx_frames", 10},
        {"tx_frames", 9},
        {"requests", 4},
        {"responses", 4},
        {"bad_packets", 0},
        {"dropped", 3}}},
      {"sessions", 1}};
  FakeCoapd server(FakeCoapd::answer(result));
  RunResult r = coapctl(server, {"--json", "stats"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(lines_of(r.out).size(), 1u);
  EXPECT_EQ(json::parse(r.out), result);
  checked(server.only_request(), "stats");
}

TEST(Coapctl, GlobalOptionsMayFollowTheCommand) {
  json result = {{"lwip", {{"udp", 1}}}, {"counters", {{"rx_frames", 1}}}};
  FakeCoapd server(FakeCoapd::answer(result));
  RunResult r = run(kCoapctl, {"stats", "--json", "--socket", server.socket_path()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out), result);
}

TEST(Coapctl, StatsHumanOutputHasSections) {
  FakeCoapd server(FakeCoapd::answer(
      {{"lwip", {{"tcp_active", 1}, {"tcp_listen", 2}, {"tcp_time_wait", 0}, {"udp", 1}}},
       {"counters", {{"rx_frames", 10}, {"tx_frames", 9}, {"requests", 4}}},
       {"sessions", 1}}));
  RunResult r = coapctl(server, {"stats"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "lwIP pcbs:\n"
            "  tcp_active      1\n"
            "  tcp_listen      2\n"
            "  tcp_time_wait   0\n"
            "  udp             1\n"
            "\n"
            "Counters:\n"
            "  rx_frames      10\n"
            "  tx_frames       9\n"
            "  requests        4\n"
            "\n"
            "Sessions:  1\n");
}

TEST(Coapctl, SessionsTableAndJson) {
  json result = {{"sessions",
                  {{{"id", 3},
                    {"protocol", "tcp"},
                    {"role", "client"},
                    {"state", "established"},
                    {"peer", "192.0.2.1:5683"},
                    {"local_address", "192.0.2.2:49152"},
                    {"age", 30},
                    {"bytes_in", 100},
                    {"bytes_out", 2000},
                    {"messages_in", 1},
                    {"messages_out", 20},
                    {"outgoing", true},
                    {"call_home", false},
                    {"reconnect_attempt", 0},
                    {"queued_bytes", 0},
                    {"observers", 0}}}}};
  FakeCoapd server(FakeCoapd::answer(result));
  RunResult r = coapctl(server, {"sessions"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "ID  PROTO  ROLE    STATE        PEER            LOCAL            AGE  IN(B)  OUT(B)  "
            "IN(MSG)  OUT(MSG)\n"
            " 3  tcp    client  established  192.0.2.1:5683  192.0.2.2:49152  30s    100    2000  "
            "      1        20\n");
  checked(server.only_request(), "sessions");

  r = coapctl(server, {"--json", "sessions"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out), result);
}

// ---------------------------------------------------------------- events

TEST(Coapctl, EventsPrintsHistoryOneLinePerEvent) {
  FakeCoapd server(FakeCoapd::answer({{"events", {kEvent1, kEvent2}}}));
  RunResult r = coapctl(server, {"events"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "2024-05-01T10:00:00Z opened session=1 peer=192.0.2.1:5683\n"
            "2024-05-01T10:00:05Z reconnecting session=1 peer=192.0.2.1:5683 "
            "reason=connection refused attempt=2\n");
  json request = checked(server.only_request(), "events");
  EXPECT_EQ(request["follow"], false);

  // --json: one event object per line, the same as with --follow.
  r = coapctl(server, {"--json", "events"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, json(kEvent1).dump() + "\n" + json(kEvent2).dump() + "\n");
}

// Lets the test and the fake server's handler take turns.
class Turns {
 public:
  void advance() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++step_;
    cv_.notify_all();
  }
  bool wait_for(int step) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, 10s, [&] { return step_ >= step; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int step_ = 0;  // protected by mutex_
};

TEST(Coapctl, EventsFollowStreamsEachLineAsItArrives) {
  Turns turns;
  FakeCoapd server([&](const json& request, FakeConnection& connection) {
    connection.reply_ok(request, {{"events", {kEvent1}}});
    // Each event goes out only after the test read the previous line from
    // coapctl's stdout pipe: a coapctl that buffered its output would stall.
    if (!turns.wait_for(1)) return;
    connection.send_event(kEvent2);
    if (!turns.wait_for(2)) return;
    connection.send_event(kEvent3);
    connection.close();
  });
  Subprocess process(kCoapctl, {"--socket", server.socket_path(), "events", "--follow"});
  EXPECT_EQ(process.read_line(5s), "2024-05-01T10:00:00Z opened session=1 peer=192.0.2.1:5683");
  turns.advance();
  EXPECT_EQ(process.read_line(5s),
            "2024-05-01T10:00:05Z reconnecting session=1 peer=192.0.2.1:5683 "
            "reason=connection refused attempt=2");
  turns.advance();
  EXPECT_EQ(process.read_line(5s),
            "2024-05-01T10:00:09Z closed session=1 peer=192.0.2.1:5683 reason=peer reset");
  RunResult r = process.finish(5s);
  EXPECT_EQ(r.exit_code, 0) << r.err;  // the daemon closed the connection
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
  json request = checked(server.only_request(), "events");
  EXPECT_EQ(request["follow"], true);
}

TEST(Coapctl, EventsFollowJsonPrintsOneEventObjectPerLine) {
  Turns turns;
  FakeCoapd server([&](const json& request, FakeConnection& connection) {
    connection.reply_ok(request, {{"events", {kEvent1}}});
    if (!turns.wait_for(1)) return;
    connection.send_event(kEvent2);
    connection.close();
  });
  Subprocess process(kCoapctl, {"--socket", server.socket_path(), "--json", "events", "--follow"});
  auto line = process.read_line(5s);
  ASSERT_TRUE(line);
  EXPECT_EQ(json::parse(*line), kEvent1);
  turns.advance();
  line = process.read_line(5s);
  ASSERT_TRUE(line);
  EXPECT_EQ(json::parse(*line), kEvent2);
  RunResult r = process.finish(5s);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(Coapctl, EventsFollowPrintsEventsThatOvertakeTheAnswer) {
  FakeCoapd server([&](const json& request, FakeConnection& connection) {
    connection.send_event(kEvent2);
    connection.reply_ok(request, {{"events", {kEvent1}}});
    connection.close();
  });
  RunResult r = coapctl(server, {"events", "-f"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_NE(lines[0].find(" opened "), std::string::npos);
  EXPECT_NE(lines[1].find(" reconnecting "), std::string::npos);
}

class EventsFollowSignal : public ::testing::TestWithParam<int> {};

TEST_P(EventsFollowSignal, EndsWithStatusZero) {
  FakeCoapd server([&](const json& request, FakeConnection& connection) {
    connection.reply_ok(request, {{"events", {kEvent1}}});
    connection.wait_for_hangup(20s);
  });
  Subprocess process(kCoapctl, {"--socket", server.socket_path(), "events", "--follow"});
  ASSERT_TRUE(process.read_line(5s));
  // The first line proves coapctl is following; now it only waits.
  EXPECT_EQ(process.read_line(200ms), std::nullopt);
  process.send_signal(GetParam());
  RunResult r = process.finish(5s);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
}

INSTANTIATE_TEST_SUITE_P(Signals, EventsFollowSignal, ::testing::Values(SIGINT, SIGTERM),
                         [](const auto& info) {
                           return std::string(info.param == SIGINT ? "SIGINT" : "SIGTERM");
                         });

// ---------------------------------------------------------------- requests

TEST(Coapctl, GetSendsTheRequestAndPrintsTheResponse) {
  json options = {{{"number", 4}, {"name", "ETag"}, {"value", "0a0b"}},
                  {{"number", 8}, {"name", "Location-Path"}, {"value", "sensors"}},
                  {{"number", 12}, {"name", "Content-Format"}, {"value", 0}}};
  FakeCoapd server(FakeCoapd::answer(response_result("2.05", "Content", "22.5 C", options)));
  RunResult r = coapctl(server, {"get", "coap://192.0.2.1/sensors/temp", "--accept", "0"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // No newline after the payload: stdout is a pipe, the payload has none.
  EXPECT_EQ(r.out,
            "2.05 Content\n"
            "ETag: 0a0b\n"
            "Location-Path: sensors\n"
            "Content-Format: 0\n"
            "\n"
            "22.5 C");
  EXPECT_EQ(r.err, "");
  json request = checked(server.only_request(), "request");
  EXPECT_EQ(request["method"], "GET");
  EXPECT_EQ(request["uri"], "coap://192.0.2.1/sensors/temp");
  EXPECT_EQ(request["accept"], 0);
  EXPECT_EQ(request["timeout"], 30);
  EXPECT_FALSE(request.contains("payload_b64"));
  EXPECT_FALSE(request.contains("content_format"));
  EXPECT_FALSE(request.contains("session"));
}

TEST(Coapctl, PutSendsPayloadContentFormatTimeoutAndSession) {
  FakeCoapd server(FakeCoapd::answer(response_result("2.04", "Changed")));
  RunResult r = coapctl(server, {"put", "coap+tcp://[2001:db8::1]/led", "--payload", "on",
                                 "--content-format", "0", "--timeout", "2.5", "--session", "7"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "2.04 Changed\n\n");
  json request = checked(server.only_request(), "request");
  EXPECT_EQ(request["method"], "PUT");
  EXPECT_EQ(request["uri"], "coap+tcp://[2001:db8::1]/led");
  EXPECT_EQ(request["payload_b64"], "b24=");
  EXPECT_EQ(request["content_format"], 0);
  EXPECT_EQ(request["timeout"], 2.5);
  EXPECT_EQ(request["session"], 7);
}

TEST(Coapctl, PostSendsABinaryPayloadFileAndPrintsABinaryPayload) {
  std::string binary;
  for (int i = 0; i < 256; ++i) binary += static_cast<char>(i);
  std::string path = testing::TempDir() + "coapctl_payload.bin";
  std::ofstream(path, std::ios::binary) << binary;
  FakeCoapd server(FakeCoapd::answer(response_result("2.01", "Created", binary)));
  RunResult r =
      coapctl(server, {"post", "coap://h/data", "--payload-file", path, "--content-format", "60"});
  std::remove(path.c_str());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "2.01 Created\n\n" + binary);
  json request = checked(server.only_request(), "request");
  EXPECT_EQ(request["method"], "POST");
  EXPECT_EQ(request["payload_b64"], b64(binary));
  EXPECT_EQ(request["content_format"], 60);
}

TEST(Coapctl, PayloadFileDashReadsStdin) {
  FakeCoapd server(FakeCoapd::answer(response_result("2.04", "Changed")));
  RunResult r = coapctl(server, {"put", "coap://h/x", "--payload-file", "-"}, "from stdin\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server.only_request()["payload_b64"], b64("from stdin\n"));
}

TEST(Coapctl, DeleteSendsTheMethod) {
  FakeCoapd server(FakeCoapd::answer(response_result("2.02", "Deleted")));
  RunResult r = coapctl(server, {"delete", "coap://h/x"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server.only_request()["method"], "DELETE");
}

TEST(Coapctl, RequestJsonPrintsTheResultAndKeepsTheExitStatus) {
  json result = response_result("4.04", "Not Found", "no such resource");
  FakeCoapd server(FakeCoapd::answer(result));
  RunResult r = coapctl(server, {"--json", "get", "coap://h/missing"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  ASSERT_EQ(lines_of(r.out).size(), 1u);
  EXPECT_EQ(json::parse(r.out), result);
}

struct ExitCase {
  const char* name;
  json result;
  int exit_code;
  const char* out;
  const char* err;
};

class RequestExit : public ::testing::TestWithParam<ExitCase> {};

TEST_P(RequestExit, MapsTheOutcomeToTheExitStatus) {
  FakeCoapd server(FakeCoapd::answer(GetParam().result));
  RunResult r = coapctl(server, {"get", "coap://h/x"});
  EXPECT_EQ(r.exit_code, GetParam().exit_code) << r.err;
  EXPECT_EQ(r.out, GetParam().out);
  EXPECT_EQ(r.err, GetParam().err);
}

INSTANTIATE_TEST_SUITE_P(
    Outcomes, RequestExit,
    ::testing::Values(
        ExitCase{"Success", response_result("2.05", "Content", "x"), 0, "2.05 Content\n\nx", ""},
        ExitCase{"ClientError", response_result("4.04", "Not Found"), 3, "4.04 Not Found\n\n", ""},
        ExitCase{"ServerError", response_result("5.03", "Service Unavailable"), 4,
                 "5.03 Service Unavailable\n\n", ""},
        ExitCase{"Timeout",
                 {{"status", "timeout"}, {"error", "no response after 30 s"}},
                 5,
                 "",
                 "coapctl: timeout: no response after 30 s\n"},
        ExitCase{"Error",
                 {{"status", "error"}, {"error", "cannot resolve host"}},
                 6,
                 "",
                 "coapctl: request failed: cannot resolve host\n"},
        ExitCase{"Cancelled",
                 {{"status", "cancelled"}, {"error", "session closed"}},
                 6,
                 "",
                 "coapctl: request cancelled: session closed\n"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Coapctl, RequestWaitsLongerThanItsOwnTimeout) {
  // The global --timeout does not cut a request short: coapctl waits for the
  // request's --timeout plus a margin, so coapd's own "timeout" answer wins.
  FakeCoapd server([](const json& request, FakeConnection& connection) {
    std::this_thread::sleep_for(1500ms);
    connection.reply_ok(request, {{"status", "timeout"}, {"error", "no response after 1 s"}});
  });
  RunResult r = coapctl(server, {"--timeout", "0.5", "get", "coap://h/slow", "--timeout", "1"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(r.err, "coapctl: timeout: no response after 1 s\n");
  EXPECT_EQ(server.only_request()["timeout"], 1);
}

// ---------------------------------------------------------------- connect, close, debug

TEST(Coapctl, ConnectSendsOptionsAndPrintsTheSession) {
  FakeCoapd server(FakeCoapd::answer({{"session", 7}, {"existing", false}}));
  RunResult r =
      coapctl(server, {"connect", "coap+tcp://192.0.2.1", "--call-home", "--reconnect-interval",
                       "0.5", "--reconnect-max-interval", "30", "--reconnect-attempts", "3"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "session 7\n");
  json request = checked(server.only_request(), "connect");
  EXPECT_EQ(request["uri"], "coap+tcp://192.0.2.1");
  EXPECT_EQ(request["call_home"], true);
  EXPECT_EQ(request["reconnect_interval"], 0.5);
  EXPECT_EQ(request["reconnect_max_interval"], 30);
  EXPECT_EQ(request["reconnect_attempts"], 3);
}

TEST(Coapctl, ConnectToAnOpenSessionSaysSo) {
  FakeCoapd server(FakeCoapd::answer({{"session", 2}, {"existing", true}}));
  RunResult r = coapctl(server, {"connect", "coap+tcp://192.0.2.1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "session 2 (already open)\n");
  json request = server.only_request();
  EXPECT_FALSE(request.contains("call_home"));
  EXPECT_FALSE(request.contains("reconnect_interval"));

  r = coapctl(server, {"--json", "connect", "coap+tcp://192.0.2.1"});
  EXPECT_EQ(json::parse(r.out), json({{"session", 2}, {"existing", true}}));
}

TEST(Coapctl, ClosePrintsNothing) {
  FakeCoapd server(FakeCoapd::answer(json::object()));
  RunResult r = coapctl(server, {"close", "5"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(checked(server.only_request(), "close")["session"], 5);
}

TEST(Coapctl, CloseOfAnUnknownSessionFails) {
  FakeCoapd server(FakeCoapd::refuse("no session 99"));
  RunResult r = coapctl(server, {"close", "99"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "coapctl: no session 99\n");
}

TEST(Coapctl, DebugStallEngine) {
  FakeCoapd server(FakeCoapd::answer(json::object()));
  RunResult r = coapctl(server, {"debug", "stall-engine", "2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(checked(server.only_request(), "debug_stall")["seconds"], 2);
}

// ---------------------------------------------------------------- failures

TEST(Coapctl, RefusedCommandExitsOne) {
  FakeCoapd server(FakeCoapd::refuse("debug commands are disabled"));
  RunResult r = coapctl(server, {"debug", "stall-engine", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "coapctl: debug commands are disabled\n");
}

TEST(Coapctl, RefusedRequestExitsOne) {
  FakeCoapd server(FakeCoapd::refuse("invalid URI"));
  RunResult r = coapctl(server, {"get", "nonsense"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "coapctl: invalid URI\n");
}

TEST(Coapctl, NoDaemonExitsOneNamingTheSocket) {
  RunResult r = run(kCoapctl, {"--socket", "/nonexistent/coapd.sock", "status"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "coapctl: cannot connect to /nonexistent/coapd.sock: No such file or directory "
            "(is coapd running?)\n");
}

TEST(Coapctl, SilentDaemonTimesOut) {
  FakeCoapd server(FakeCoapd::never_answer());
  auto start = Clock::now();
  RunResult r = coapctl(server, {"--timeout", "0.5", "status"});
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "coapctl: timed out waiting for coapd to answer on " + server.socket_path() + "\n");
}

TEST(Coapctl, DaemonHangingUpWithoutAnswerExitsOne) {
  FakeCoapd server([](const json&, FakeConnection& connection) { connection.close(); });
  RunResult r = coapctl(server, {"sessions"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "coapctl: coapd closed the control connection without answering\n");
}

TEST(Coapctl, RejectsAnotherProtocolVersion) {
  FakeCoapd server([](const json& request, FakeConnection& connection) {
    connection.send({{"v", 2}, {"id", request["id"]}, {"ok", true}, {"result", json::object()}});
  });
  RunResult r = coapctl(server, {"status"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "coapctl: coapd speaks control protocol version 2, this coapctl speaks version 1\n");
}

TEST(Coapctl, RejectsMalformedAnswers) {
  FakeCoapd server(
      [](const json&, FakeConnection& connection) { connection.send_raw("this is not json\n"); });
  RunResult r = coapctl(server, {"status"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "coapctl: coapd sent a malformed control message: this is not json\n");
}

TEST(Coapctl, RejectsAPayloadThatIsNotBase64) {
  json result = response_result("2.05", "Content");
  result["payload_b64"] = "not base64!";
  FakeCoapd server(FakeCoapd::answer(result));
  RunResult r = coapctl(server, {"get", "coap://h/x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "coapctl: coapd sent a response payload that is not valid base64\n");
}

TEST(Coapctl, SkipsEventsAndOtherIdsBeforeTheAnswer) {
  FakeCoapd server([](const json& request, FakeConnection& connection) {
    connection.send_event(kEvent1);
    connection.send({{"v", 1}, {"id", 999999}, {"ok", false}, {"error", "not yours"}});
    connection.send_raw("\n");
    connection.reply_ok(request, {{"session", 4}, {"existing", false}});
  });
  RunResult r = coapctl(server, {"connect", "coap+tcp://h"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "session 4\n");
}

// ---------------------------------------------------------------- socket selection

TEST(Coapctl, SocketComesFromTheEnvironment) {
  FakeCoapd server(FakeCoapd::answer({{"sessions", json::array()}}));
  RunResult r = run(kCoapctl, {"sessions"}, {{"COAPD_CONTROL_SOCKET", server.socket_path()}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(Coapctl, SocketFlagBeatsTheEnvironment) {
  FakeCoapd server(FakeCoapd::answer({{"sessions", json::array()}}));
  RunResult r = run(kCoapctl, {"--socket", server.socket_path(), "sessions"},
                    {{"COAPD_CONTROL_SOCKET", "/nonexistent/env.sock"}});
  EXPECT_EQ(r.exit_code, 0) << r.err;

  r = run(kCoapctl, {"--socket", "/nonexistent/flag.sock", "sessions"},
          {{"COAPD_CONTROL_SOCKET", server.socket_path()}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/flag.sock"), std::string::npos) << r.err;
}

// ---------------------------------------------------------------- command line

class UsageError : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(UsageError, ExitsTwoWithOneLineAndSendsNothing) {
  FakeCoapd server(FakeCoapd::answer(json::object()));
  RunResult r = coapctl(server, GetParam());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("coapctl: ", 0), 0u) << r.err;
  EXPECT_EQ(r.err.back(), '\n');
  EXPECT_TRUE(server.requests().empty());
}

INSTANTIATE_TEST_SUITE_P(
    BadCommandLines, UsageError,
    ::testing::Values(
        std::vector<std::string>{}, std::vector<std::string>{"bogus"},
        std::vector<std::string>{"get"},
        std::vector<std::string>{"get", "coap://h/", "--payload", "a", "--payload-file", "b"},
        std::vector<std::string>{"get", "coap://h/", "--timeout", "0"},
        std::vector<std::string>{"get", "coap://h/", "--content-format", "70000"},
        std::vector<std::string>{"get", "coap://h/", "--payload-file", "/nonexistent/payload"},
        std::vector<std::string>{"--timeout", "soon", "status"}, std::vector<std::string>{"close"},
        std::vector<std::string>{"close", "x"}, std::vector<std::string>{"debug"},
        std::vector<std::string>{"debug", "stall-engine"},
        std::vector<std::string>{"status", "extra"},
        std::vector<std::string>{"--no-such-flag", "status"}));

TEST(Coapctl, HelpIsAManPage) {
  RunResult r = run(kCoapctl, {"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* section :
       {"Usage: coapctl", "COMMANDS", "status", "stats", "sessions", "events [-f|--follow]",
        "get|put|post|delete|fetch|patch|ipatch URI", "--payload-file", "connect coap+tcp://",
        "--reconnect-interval", "close SESSION-ID", "debug stall-engine SECONDS", "EXIT STATUS",
        "ENVIRONMENT", "COAPD_CONTROL_SOCKET", "EXAMPLES"})
    EXPECT_NE(r.out.find(section), std::string::npos) << section;
  for (const char* code : {"\n  0 ", "\n  1 ", "\n  2 ", "\n  3 ", "\n  4 ", "\n  5 ", "\n  6 "})
    EXPECT_NE(r.out.find(code), std::string::npos) << code;

  r = run(kCoapctl, {"get", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--content-format"), std::string::npos);
}

}  // namespace
}  // namespace coapctl_test
