// A TAP interface opened through /dev/net/tun (IFF_TAP | IFF_NO_PI) by
// coapd itself: lwIP's bundled tapif is not used because it starts a thread
// of its own. The interface exists as long as the device is open (it is not
// made persistent), so closing it removes the TAP. It is the netif's
// FrameSink in coapd: one write() per frame.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "coap/result.h"
#include "lwip_tap/frame_sink.h"

namespace lwip_tap {

class TapDevice final : public FrameSink {
 public:
  // Creates (or attaches to a persistent) TAP named `name`.
  static coap::Result<std::unique_ptr<TapDevice>> open(const std::string& name);
  ~TapDevice() override;
  TapDevice(const TapDevice&) = delete;
  TapDevice& operator=(const TapDevice&) = delete;

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }
  int ifindex() const { return ifindex_; }

  // The TAP queue takes a whole frame per write(); no lock needed.
  bool write_frame(std::span<const uint8_t> frame) override;

  // Kernel side of the link (the host's end of the TAP).
  coap::Status set_host_ipv4(const std::array<uint8_t, 4>& addr, uint8_t prefix_len);
  coap::Status add_host_ipv6(const std::array<uint8_t, 16>& addr, uint8_t prefix_len);
  coap::Status set_up();
  coap::Status set_mtu(int mtu);

 private:
  TapDevice(int fd, std::string name, int ifindex)
      : fd_(fd), name_(std::move(name)), ifindex_(ifindex) {}
  int fd_;
  std::string name_;
  int ifindex_;
};

}  // namespace lwip_tap
