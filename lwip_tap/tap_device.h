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
#include <vector>

#include "coap/result.h"
#include "lwip_tap/frame_sink.h"
#include "lwip_tap/netlink.h"

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

  // Kernel side of the link (the host's end of the TAP), over rtnetlink.
  // An IPv6 address is added without DAD: it is usable at once (coapd's
  // stack, whose addresses are known, is the only other node on the link).
  // The destructor removes exactly the addresses this added, so that a
  // persistent TAP keeps only what it had.
  coap::Status add_host_address(const netlink::Prefix& p);
  coap::Status set_up(uint32_t mtu);

 private:
  TapDevice(int fd, std::string name, int ifindex)
      : fd_(fd), name_(std::move(name)), ifindex_(ifindex) {}
  int fd_;
  std::string name_;
  int ifindex_;
  std::vector<netlink::Prefix> added_;  // by add_host_address, not there before
};

}  // namespace lwip_tap
