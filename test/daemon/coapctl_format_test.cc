#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "daemon/coapctl/format.h"
#include "daemon/control/prometheus.h"

namespace coapctl {
namespace {

using nlohmann::json;

TEST(FormatDuration, PicksTwoUnits) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(59.9), "59s");
  EXPECT_EQ(format_duration(60), "1m00s");
  EXPECT_EQ(format_duration(187), "3m07s");
  EXPECT_EQ(format_duration(7500), "2h05m");
  EXPECT_EQ(format_duration(273600), "3d04h");
  EXPECT_EQ(format_duration(-1), "-");
}

TEST(FormatStatus, AlignsLabelsAndKeepsUnknownFields) {
  json status = {{"version", "0.1.0"},
                 {"pid", 42},
                 {"uptime_s", 75},
                 {"tap", "tap0"},
                 {"addresses", {"192.0.2.2/24", "2001:db8::2/64"}},
                 {"engine", {{"alive", true}, {"wakeups", 9}}},
                 {"future_field", "x"}};
  EXPECT_EQ(format_status(status),
            "Version:       0.1.0\n"
            "PID:           42\n"
            "Uptime:        1m15s\n"
            "TAP device:    tap0\n"
            "Addresses:     192.0.2.2/24, 2001:db8::2/64\n"
            "Engine:        alive, wakeups 9\n"
            "future_field:  x\n");
}

TEST(FormatStatus, ShowsTheHostSideAndANoteOnlyWhenThereIsOne) {
  json status = {{"addresses", {"198.51.100.2/24"}},
                 {"host_address", "198.51.100.1/24"},
                 {"address_note", "192.0.2.0/24 is taken (x); using 198.51.100.0/24"}};
  EXPECT_EQ(format_status(status),
            "Addresses:     198.51.100.2/24\n"
            "Host side:     198.51.100.1/24\n"
            "Address note:  192.0.2.0/24 is taken (x); using 198.51.100.0/24\n");
  status["address_note"] = "";
  EXPECT_EQ(format_status(status),
            "Addresses:  198.51.100.2/24\n"
            "Host side:  198.51.100.1/24\n");
}

TEST(FormatPrometheus, CountersGaugesAndHistograms) {
  json stats = {{"version", "0.1.0"},
                {"sessions", 2},
                {"lwip", {{"tcp_active", 3}}},
                {"counters", {{"requests", 40}}},
                {"engine",
                 {{"wakeups", 7},
                  {"cpu_placement", "spread"},
                  {"tcp_wake_latency_us",
                   {{"count", 5}, {"sum", 1500.0}, {"buckets", {{10, 1}, {1000, 4}}}}}}}};
  EXPECT_EQ(control::format_prometheus(stats),
            "# HELP coapd_info coapd's version (as a label)\n# TYPE coapd_info gauge\n"
            "coapd_info{version=\"0.1.0\"} 1\n"
            "# HELP coapd_sessions CoAP sessions\n# TYPE coapd_sessions gauge\n"
            "coapd_sessions 2\n"
            "# HELP coapd_lwip_pcbs lwIP protocol control blocks by list\n"
            "# TYPE coapd_lwip_pcbs gauge\ncoapd_lwip_pcbs{list=\"tcp_active\"} 3\n"
            "# HELP coapd_requests_total Counter requests\n# TYPE coapd_requests_total counter\n"
            "coapd_requests_total 40\n"
            "# HELP coapd_engine_cpu_placement The engine's cpu_placement (as a label)\n"
            "# TYPE coapd_engine_cpu_placement gauge\n"
            "coapd_engine_cpu_placement{cpu_placement=\"spread\"} 1\n"
            "# HELP coapd_engine_tcp_wake_latency_seconds Latency in seconds "
            "(coapd_engine_tcp_wake_latency_seconds)\n"
            "# TYPE coapd_engine_tcp_wake_latency_seconds histogram\n"
            "coapd_engine_tcp_wake_latency_seconds_bucket{le=\"1e-05\"} 1\n"
            "coapd_engine_tcp_wake_latency_seconds_bucket{le=\"0.001\"} 4\n"
            "coapd_engine_tcp_wake_latency_seconds_bucket{le=\"+Inf\"} 5\n"
            "coapd_engine_tcp_wake_latency_seconds_sum 0.0015\n"
            "coapd_engine_tcp_wake_latency_seconds_count 5\n"
            "# HELP coapd_engine_wakeups_total Engine wakeups\n"
            "# TYPE coapd_engine_wakeups_total counter\ncoapd_engine_wakeups_total 7\n");
}

TEST(FormatStatus, SaysWhetherTheDtlsAndTlsPortsListen) {
  json status = {
      {"udp_port", 5683}, {"dtls_port", 5684}, {"tls_port", 5684}, {"dtls", true}, {"tls", false}};
  EXPECT_EQ(format_status(status),
            "UDP port:   5683\n"
            "DTLS port:  5684 (on)\n"
            "TLS port:   5684 (off: no credentials, or port 0)\n");
}

TEST(FormatStats, PrintsSectionsWithAlignedNumbers) {
  json stats = {
      {"lwip",
       {{"tcp_active", 3}, {"tcp_listen", 2}, {"tcp_time_wait", 0}, {"tcp_bound", 0}, {"udp", 1}}},
      {"counters",
       {{"rx_frames", 1200},
        {"tx_frames", 1100},
        {"requests", 40},
        {"responses", 39},
        {"bad_packets", 1}}},
      {"sessions", 2}};
  EXPECT_EQ(format_stats(stats),
            "lwIP pcbs:\n"
            "  tcp_active        3\n"
            "  tcp_listen        2\n"
            "  tcp_time_wait     0\n"
            "  tcp_bound         0\n"
            "  udp               1\n"
            "\n"
            "Counters:\n"
            "  rx_frames      1200\n"
            "  tx_frames      1100\n"
            "  requests         40\n"
            "  responses        39\n"
            "  bad_packets       1\n"
            "\n"
            "Sessions:  2\n");
}

TEST(FormatSessions, PrintsAnAlignedTable) {
  json sessions = {{"sessions",
                    {{{"id", 1},
                      {"protocol", "udp"},
                      {"role", "server"},
                      {"state", "established"},
                      {"peer", "192.0.2.1:40000"},
                      {"local_address", "192.0.2.2:5683"},
                      {"age", 65},
                      {"bytes_in", 1234},
                      {"bytes_out", 56},
                      {"messages_in", 10},
                      {"messages_out", 9}},
                     {{"id", 12},
                      {"protocol", "tcp"},
                      {"role", "client"},
                      {"state", "connecting"},
                      {"peer", "[2001:db8::1]:5683"},
                      {"local_address", "-"},
                      {"age", 2},
                      {"bytes_in", 0},
                      {"bytes_out", 0},
                      {"messages_in", 0},
                      {"messages_out", 0}}}}};
  EXPECT_EQ(format_sessions(sessions),
            "ID  PROTO  ROLE    STATE        PEER                LOCAL             AGE  IN(B)  "
            "OUT(B)  IN(MSG)  OUT(MSG)\n"
            " 1  udp    server  established  192.0.2.1:40000     192.0.2.2:5683  1m05s   1234  "
            "    56       10         9\n"
            "12  tcp    client  connecting   [2001:db8::1]:5683  -                  2s      0  "
            "     0        0         0\n");
}

TEST(FormatSessions, EmptyListPrintsTheHeader) {
  EXPECT_EQ(format_sessions({{"sessions", json::array()}}),
            "ID  PROTO  ROLE  STATE  PEER  LOCAL  AGE  IN(B)  OUT(B)  IN(MSG)  OUT(MSG)\n");
}

// The head of a result as coapctl decodes it from coapd's JSON.
std::string response_head(const json& result) {
  auto decoded = control::RequestResult::decode(result);
  EXPECT_TRUE(decoded.ok()) << (decoded.ok() ? "" : decoded.error());
  return decoded.ok() ? format_response_head(*decoded) : "";
}

TEST(FormatResponseHead, PrintsCodeOptionsAndBlankLine) {
  json result = {{"status", "response"},
                 {"code", "2.05"},
                 {"code_name", "Content"},
                 {"options",
                  {{{"number", 4}, {"name", "ETag"}, {"value", "0a0b"}},
                   {{"number", 8}, {"name", "Location-Path"}, {"value", "a b"}},
                   {{"number", 12}, {"name", "Content-Format"}, {"value", 0}},
                   {{"number", 65000}, {"name", ""}, {"value", "ff"}}}}};
  EXPECT_EQ(response_head(result),
            "2.05 Content\n"
            "ETag: 0a0b\n"
            "Location-Path: a b\n"
            "Content-Format: 0\n"
            "Option 65000: ff\n"
            "\n");
  EXPECT_EQ(response_head({{"code", "2.31"}}), "2.31\n\n");
}

}  // namespace
}  // namespace coapctl
