// `coapctl capture`: the Ethernet frames coapd's stack receives and sends,
// both directions as lwIP sees them, written to a pcap file through
// libpcap's dump API (linktype Ethernet).
//
// The threads that move frames copy each one that passes the filter into a
// bounded queue (kMaxQueuedFrames frames, kMaxQueuedBytes bytes) under a
// mutex held for that copy only; the loop thread drains it every kDrainMs
// and writes the file. A frame that finds the queue full is dropped and
// counted, so a capture that cannot keep up never slows traffic beyond the
// copy. One capture at a time.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "coap/result.h"
#include "config/config.h"
#include "daemon/control/messages.h"
#include "lwip_tap/frame_observer.h"

typedef struct pcap pcap_t;
typedef struct pcap_dumper pcap_dumper_t;

namespace coapd {

enum class CaptureFilter : uint8_t { kAll, kUdp, kTcp, kCoap };
// "all", "udp", "tcp", "coap".
std::optional<CaptureFilter> capture_filter(const std::string& name);
// Whether an Ethernet frame passes: kUdp/kTcp by the IPv4 or IPv6 protocol
// (no extension headers followed), kCoap a UDP or TCP segment from or to
// one of `coap_ports`.
bool capture_matches(CaptureFilter f, const std::set<uint16_t>& coap_ports,
                     std::span<const uint8_t> frame);

// The ports --filter coap keeps: coapd's own, and CoAP's defaults (the
// ports of the peers coapd calls).
std::set<uint16_t> capture_coap_ports(const config::Config& c);

class FrameCapture : public lwip_tap::FrameObserver {
 public:
  static constexpr std::size_t kMaxQueuedFrames = 8192;
  static constexpr std::size_t kMaxQueuedBytes = 4 << 20;
  static constexpr uint64_t kDrainMs = 10;

  struct Request {
    std::string file;
    uint64_t count = 0;  // 0: no limit
    double duration_s = 0;
    CaptureFilter filter = CaptureFilter::kAll;
    uid_t owner = 0;  // the file is given to the caller
    uint64_t client = 0;
  };
  using Done = std::function<void(const control::CaptureResult&)>;

  FrameCapture(uv_loop_t* loop, std::set<uint16_t> coap_ports);
  ~FrameCapture() override;

  // Loop thread. Opens the file and starts; done runs once, on the loop,
  // when the capture ends. The error names the file or the running capture.
  coap::Status start(const Request& req, Done done);
  // Loop thread. Ends the running capture (reason "stopped"); its result,
  // or nullopt when none runs.
  std::optional<control::CaptureResult> stop();
  // Loop thread: the control client `client` went away.
  void client_gone(uint64_t client);
  bool running() const { return dumper_ != nullptr; }

  void on_frame(Direction d, std::span<const uint8_t> frame) override;

 private:
  struct Queued {
    timespec when;
    uint32_t offset, length;
  };
  void drain();
  // Writes what drain() or finish() took from the queue.
  void write_queued();
  void finish(const char* reason);

  uv_loop_t* loop_;
  const std::set<uint16_t> coap_ports_;
  uv_timer_t* timer_ = nullptr;  // while running; freed in its close callback
  pcap_t* pcap_ = nullptr;
  pcap_dumper_t* dumper_ = nullptr;
  Request req_;
  Done done_;
  std::chrono::steady_clock::time_point started_;
  uint64_t written_ = 0, written_bytes_ = 0;
  bool write_failed_ = false;

  std::mutex mu_;  // guards what follows; held for one frame's copy
  std::vector<uint8_t> bytes_;
  std::vector<Queued> queued_;
  uint64_t accepted_ = 0;  // frames queued since the start (for count)
  uint64_t dropped_ = 0;
  // Swapped with the two above by drain(), so neither allocates once warm.
  std::vector<uint8_t> spare_bytes_;
  std::vector<Queued> spare_queued_;
};

}  // namespace coapd
