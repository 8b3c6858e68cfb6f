#include "daemon/coapd/capture.h"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace coapd {
namespace {

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr std::size_t kEtherHeader = 14;

uint16_t be16(std::span<const uint8_t> b, std::size_t at) {
  return static_cast<uint16_t>(b[at] << 8 | b[at + 1]);
}

}  // namespace

std::set<uint16_t> capture_coap_ports(const config::Config& c) {
  std::set<uint16_t> out = {5683, 5684};
  for (uint16_t p : {c.udp_port, c.tcp_port, c.dtls_port, c.tls_port, c.call_home_listen})
    if (p) out.insert(p);
  return out;
}

std::optional<CaptureFilter> capture_filter(const std::string& name) {
  if (name == "all") return CaptureFilter::kAll;
  if (name == "udp") return CaptureFilter::kUdp;
  if (name == "tcp") return CaptureFilter::kTcp;
  if (name == "coap") return CaptureFilter::kCoap;
  return std::nullopt;
}

bool capture_matches(CaptureFilter f, const std::set<uint16_t>& coap_ports,
                     std::span<const uint8_t> frame) {
  if (f == CaptureFilter::kAll) return true;
  if (frame.size() < kEtherHeader) return false;
  const uint16_t type = be16(frame, 12);
  uint8_t proto = 0;
  std::size_t l4 = 0;
  if (type == kEtherIpv4 && frame.size() >= kEtherHeader + 20) {
    proto = frame[kEtherHeader + 9];
    l4 = kEtherHeader + (frame[kEtherHeader] & 0x0f) * 4u;
  } else if (type == kEtherIpv6 && frame.size() >= kEtherHeader + 40) {
    proto = frame[kEtherHeader + 6];
    l4 = kEtherHeader + 40;
  } else {
    return false;
  }
  if (proto != kProtoUdp && proto != kProtoTcp) return false;
  if (f == CaptureFilter::kUdp) return proto == kProtoUdp;
  if (f == CaptureFilter::kTcp) return proto == kProtoTcp;
  if (frame.size() < l4 + 4) return false;
  return coap_ports.count(be16(frame, l4)) || coap_ports.count(be16(frame, l4 + 2));
}

FrameCapture::FrameCapture(uv_loop_t* loop, std::set<uint16_t> coap_ports)
    : loop_(loop), coap_ports_(std::move(coap_ports)) {}

FrameCapture::~FrameCapture() {
  if (running()) finish("stopped");
}

coap::Status FrameCapture::start(const Request& req, Done done) {
  if (running()) return coap::error("a capture is already running (to ", req_.file, ")");
  const int fd =
      ::open(req.file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
  if (fd < 0) return coap::error("cannot write ", req.file, ": ", std::strerror(errno));
  // The caller owns what it asked for (coapd may run as root).
  if (::fchown(fd, req.owner, static_cast<gid_t>(-1)) != 0 && errno != EPERM)
    spdlog::warn("capture: cannot give {} to uid {}: {}", req.file, req.owner,
                 std::strerror(errno));
  FILE* f = ::fdopen(fd, "wb");
  if (!f) {
    ::close(fd);
    return coap::error("cannot write ", req.file, ": ", std::strerror(errno));
  }
  pcap_ = pcap_open_dead(DLT_EN10MB, 65535);
  dumper_ = pcap_ ? pcap_dump_fopen(pcap_, f) : nullptr;
  if (!dumper_) {
    std::fclose(f);
    if (pcap_) pcap_close(pcap_);
    pcap_ = nullptr;
    return coap::error("cannot start a pcap file in ", req.file);
  }
  done_ = std::move(done);
  started_ = std::chrono::steady_clock::now();
  written_ = written_bytes_ = 0;
  write_failed_ = false;
  {
    std::lock_guard lock(mu_);  // on_frame reads the request under it
    req_ = req;
    bytes_.reserve(kMaxQueuedBytes);
    spare_bytes_.reserve(kMaxQueuedBytes);
    queued_.reserve(kMaxQueuedFrames);
    spare_queued_.reserve(kMaxQueuedFrames);
    accepted_ = dropped_ = 0;
  }
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  uv_timer_start(
      timer_, [](uv_timer_t* t) { static_cast<FrameCapture*>(t->data)->drain(); }, kDrainMs,
      kDrainMs);
  active_.store(true, std::memory_order_release);
  spdlog::info("capture: writing frames to {}", req.file);
  return {};
}

void FrameCapture::on_frame(Direction, std::span<const uint8_t> frame) {
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  std::lock_guard lock(mu_);
  if (!active_.load(std::memory_order_relaxed)) return;
  if (!capture_matches(req_.filter, coap_ports_, frame)) return;
  if (req_.count && accepted_ >= req_.count) return;  // the rest of the count is queued
  if (queued_.size() >= kMaxQueuedFrames || bytes_.size() + frame.size() > kMaxQueuedBytes) {
    ++dropped_;
    return;
  }
  queued_.push_back(
      {now, static_cast<uint32_t>(bytes_.size()), static_cast<uint32_t>(frame.size())});
  bytes_.insert(bytes_.end(), frame.begin(), frame.end());
  ++accepted_;
}

void FrameCapture::write_queued() {
  for (const Queued& q : spare_queued_) {
    pcap_pkthdr h{};
    h.ts.tv_sec = q.when.tv_sec;
    h.ts.tv_usec = static_cast<suseconds_t>(q.when.tv_nsec / 1000);
    h.caplen = h.len = q.length;
    pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, spare_bytes_.data() + q.offset);
    ++written_;
    written_bytes_ += q.length;
  }
  spare_bytes_.clear();
  spare_queued_.clear();
  if (pcap_dump_flush(dumper_) != 0) write_failed_ = true;
}

void FrameCapture::drain() {
  bool all_counted = false;
  {
    std::lock_guard lock(mu_);
    spare_bytes_.swap(bytes_);
    spare_queued_.swap(queued_);
    all_counted = req_.count && accepted_ >= req_.count;
  }
  write_queued();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  if (write_failed_) return finish("write error");
  if (all_counted) return finish("count");
  if (req_.duration_s > 0 && elapsed >= req_.duration_s) return finish("duration");
}

void FrameCapture::finish(const char* reason) {
  control::CaptureResult r;
  {
    // After this no frame is queued any more; what was queued is written.
    std::lock_guard lock(mu_);
    active_.store(false, std::memory_order_release);
    spare_bytes_.swap(bytes_);
    spare_queued_.swap(queued_);
    r.dropped = dropped_;
  }
  uv_timer_stop(timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(timer_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  timer_ = nullptr;
  write_queued();
  pcap_dump_close(dumper_);  // closes the file
  pcap_close(pcap_);
  dumper_ = nullptr;
  pcap_ = nullptr;
  r.file = req_.file;
  r.frames = written_;
  r.bytes = written_bytes_;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  r.reason = write_failed_ ? "write error" : reason;
  spdlog::info("capture: {} frames to {} ({}), {} dropped", r.frames, r.file, r.reason, r.dropped);
  Done done = std::move(done_);
  done_ = nullptr;
  if (done) done(r);
}

std::optional<control::CaptureResult> FrameCapture::stop() {
  if (!running()) return std::nullopt;
  std::optional<control::CaptureResult> out;
  Done original = std::move(done_);
  done_ = [&out, original](const control::CaptureResult& r) {
    out = r;
    if (original) original(r);
  };
  finish("stopped");
  return out;
}

void FrameCapture::client_gone(uint64_t client) {
  if (running() && req_.client == client) {
    done_ = nullptr;  // nobody to answer
    finish("client gone");
  }
}

}  // namespace coapd
