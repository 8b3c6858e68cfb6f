// The HTTP side of --metrics-listen and the packet capture of `coapctl
// capture`, without a network: request parsing, responses, the frame filter,
// and a capture written through a real libuv loop and read back with libpcap.
#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <unistd.h>
#include <uv.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "daemon/coapd/capture.h"
#include "daemon/coapd/metrics_server.h"

namespace coapd {
namespace {

using Answer = MetricsRequest::Answer;

TEST(MetricsRequest, OnlyGetAndHeadOfMetricsAreAnswered) {
  EXPECT_EQ(parse_metrics_request("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n").answer,
            Answer::kMetrics);
  EXPECT_EQ(parse_metrics_request("GET /metrics?x=1 HTTP/1.0\r\n\r\n").answer, Answer::kMetrics);
  EXPECT_EQ(parse_metrics_request("HEAD /metrics HTTP/1.1\r\n\r\n").answer, Answer::kHeadOnly);
  EXPECT_EQ(parse_metrics_request("GET / HTTP/1.1\r\n\r\n").answer, Answer::kNotFound);
  EXPECT_EQ(parse_metrics_request("GET /metricsx HTTP/1.1\r\n\r\n").answer, Answer::kNotFound);
  EXPECT_EQ(parse_metrics_request("DELETE /metrics HTTP/1.1\r\n\r\n").answer, Answer::kBadMethod);
  EXPECT_EQ(parse_metrics_request("GET /metrics\r\n\r\n").answer, Answer::kBadRequest);
  EXPECT_EQ(parse_metrics_request("GET /metrics SPDY/3\r\n\r\n").answer, Answer::kBadRequest);
  EXPECT_EQ(parse_metrics_request("\r\n\r\n").answer, Answer::kBadRequest);
}

TEST(MetricsRequest, ResponsesCarryLengthTypeAndClose) {
  const std::string ok = metrics_response(Answer::kMetrics, "coapd_x 1\n");
  EXPECT_EQ(ok,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            "Content-Length: 10\r\nConnection: close\r\n\r\ncoapd_x 1\n");
  const std::string head = metrics_response(Answer::kHeadOnly, "coapd_x 1\n");
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
  EXPECT_NE(head.find("Content-Length: 10\r\n"), std::string::npos);
  EXPECT_NE(metrics_response(Answer::kBadMethod, "").find("\r\nAllow: GET, HEAD\r\n"),
            std::string::npos);
  EXPECT_EQ(metrics_response(Answer::kNotFound, "").rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u);
}

// An Ethernet frame with an IPv4 (or IPv6) header and a UDP/TCP port pair.
std::vector<uint8_t> frame(uint16_t ethertype, uint8_t proto, uint16_t sport, uint16_t dport) {
  std::vector<uint8_t> f(14, 0);
  f[12] = static_cast<uint8_t>(ethertype >> 8);
  f[13] = static_cast<uint8_t>(ethertype);
  if (ethertype == 0x0800) {
    std::vector<uint8_t> ip(20, 0);
    ip[0] = 0x45;
    ip[9] = proto;
    f.insert(f.end(), ip.begin(), ip.end());
  } else {
    std::vector<uint8_t> ip(40, 0);
    ip[0] = 0x60;
    ip[6] = proto;
    f.insert(f.end(), ip.begin(), ip.end());
  }
  for (uint16_t p : {sport, dport}) {
    f.push_back(static_cast<uint8_t>(p >> 8));
    f.push_back(static_cast<uint8_t>(p));
  }
  f.resize(f.size() + 16, 0);
  return f;
}

TEST(CaptureFilter, ByProtocolAndByCoapPort) {
  const std::set<uint16_t> ports = {5683, 5684};
  const auto udp_coap = frame(0x0800, 17, 40000, 5683);
  const auto tcp_other = frame(0x0800, 6, 40000, 80);
  const auto tcp6_coap = frame(0x86dd, 6, 5684, 40000);
  const std::vector<uint8_t> arp = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x06, 0, 1};
  EXPECT_TRUE(capture_matches(CaptureFilter::kAll, ports, arp));
  EXPECT_FALSE(capture_matches(CaptureFilter::kUdp, ports, arp));
  EXPECT_TRUE(capture_matches(CaptureFilter::kUdp, ports, udp_coap));
  EXPECT_FALSE(capture_matches(CaptureFilter::kUdp, ports, tcp_other));
  EXPECT_TRUE(capture_matches(CaptureFilter::kTcp, ports, tcp6_coap));
  EXPECT_TRUE(capture_matches(CaptureFilter::kCoap, ports, udp_coap));
  EXPECT_TRUE(capture_matches(CaptureFilter::kCoap, ports, tcp6_coap));
  EXPECT_FALSE(capture_matches(CaptureFilter::kCoap, ports, tcp_other));
  // Truncated headers never match a protocol filter (and are not read past).
  EXPECT_FALSE(capture_matches(CaptureFilter::kCoap, ports, {udp_coap.data(), 20}));
  EXPECT_FALSE(capture_matches(CaptureFilter::kUdp, ports, {udp_coap.data(), 5}));
  EXPECT_EQ(capture_filter("coap"), CaptureFilter::kCoap);
  EXPECT_FALSE(capture_filter("icmp"));
}

class CaptureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    char name[] = "/tmp/coapd-capture-XXXXXX";
    const int fd = mkstemp(name);
    ASSERT_GE(fd, 0);
    close(fd);
    path_ = name;
  }
  void TearDown() override {
    capture_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
    std::remove(path_.c_str());
  }
  // Frames and lengths in the file, read with libpcap.
  std::vector<std::vector<uint8_t>> read_back() {
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* p = pcap_open_offline(path_.c_str(), err);
    EXPECT_NE(p, nullptr) << err;
    std::vector<std::vector<uint8_t>> out;
    if (!p) return out;
    EXPECT_EQ(pcap_datalink(p), DLT_EN10MB);
    pcap_pkthdr* h;
    const u_char* data;
    while (pcap_next_ex(p, &h, &data) == 1) out.emplace_back(data, data + h->caplen);
    pcap_close(p);
    return out;
  }
  uv_loop_t loop_{};
  std::string path_;
  std::unique_ptr<FrameCapture> capture_ =
      std::make_unique<FrameCapture>(&loop_, std::set<uint16_t>{5683});
};

TEST_F(CaptureTest, CountEndsItAndTheFileHoldsTheMatchingFramesInOrder) {
  std::optional<control::CaptureResult> result;
  FrameCapture::Request req{path_, 3, 0, CaptureFilter::kUdp, getuid(), 1};
  ASSERT_TRUE(capture_->start(req, [&](const control::CaptureResult& r) { result = r; }));
  EXPECT_FALSE(capture_->start(req, nullptr));  // one at a time
  using D = lwip_tap::FrameObserver::Direction;
  std::vector<std::vector<uint8_t>> udp;
  for (uint16_t i = 0; i < 5; ++i) {
    udp.push_back(frame(0x0800, 17, 1000 + i, 5683));
    capture_->on_frame(i % 2 ? D::kOut : D::kIn, udp.back());
    capture_->on_frame(D::kIn, frame(0x0800, 6, 1, 2));  // filtered out
  }
  while (!result) uv_run(&loop_, UV_RUN_ONCE);
  EXPECT_EQ(result->reason, "count");
  EXPECT_EQ(result->frames, 3u);
  EXPECT_EQ(result->dropped, 0u);
  EXPECT_EQ(result->bytes, 3 * udp[0].size());
  const auto frames = read_back();
  ASSERT_EQ(frames.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(frames[i], udp[i]);
  EXPECT_FALSE(capture_->active());
}

TEST_F(CaptureTest, AFullQueueDropsAndCountsAndStopReturnsTheResult) {
  FrameCapture::Request req{path_, 0, 0, CaptureFilter::kAll, getuid(), 7};
  int answers = 0;
  ASSERT_TRUE(capture_->start(req, [&](const control::CaptureResult&) { ++answers; }));
  const auto f = frame(0x0800, 17, 1, 5683);
  // No drain runs in between: the queue's frame bound is reached.
  for (std::size_t i = 0; i < FrameCapture::kMaxQueuedFrames + 10; ++i)
    capture_->on_frame(lwip_tap::FrameObserver::Direction::kIn, f);
  auto r = capture_->stop();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "stopped");
  EXPECT_EQ(r->frames, FrameCapture::kMaxQueuedFrames);
  EXPECT_EQ(r->dropped, 10u);
  EXPECT_EQ(answers, 1);  // the requester is answered too
  EXPECT_EQ(read_back().size(), FrameCapture::kMaxQueuedFrames);
  EXPECT_FALSE(capture_->stop());
}

TEST_F(CaptureTest, TheRequestersDisconnectEndsItWithoutAnAnswer) {
  FrameCapture::Request req{path_, 0, 0, CaptureFilter::kAll, getuid(), 9};
  int answers = 0;
  ASSERT_TRUE(capture_->start(req, [&](const control::CaptureResult&) { ++answers; }));
  capture_->client_gone(8);
  EXPECT_TRUE(capture_->running());
  capture_->client_gone(9);
  EXPECT_FALSE(capture_->running());
  EXPECT_EQ(answers, 0);
}

TEST_F(CaptureTest, AFileThatCannotBeWrittenIsNamed) {
  FrameCapture::Request req{"/nonexistent-dir/x.pcap", 0, 0, CaptureFilter::kAll, getuid(), 1};
  auto st = capture_->start(req, nullptr);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().find("/nonexistent-dir/x.pcap"), std::string::npos);
  EXPECT_FALSE(capture_->running());
}

}  // namespace
}  // namespace coapd
