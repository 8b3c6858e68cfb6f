#include "lwip_tap/tap_device.h"

#include <fcntl.h>
#include <net/if.h>
// After net/if.h, which it must not redefine.
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lwip_tap {
namespace {

std::string errno_text() { return std::strerror(errno); }

void fill_name(ifreq& ifr, const std::string& name) {
  std::memset(&ifr, 0, sizeof ifr);
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
}

}  // namespace

coap::Result<std::unique_ptr<TapDevice>> TapDevice::open(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    return coap::error("TAP name '", name, "' must be 1 to ", std::to_string(IFNAMSIZ - 1),
                       " characters");
  const int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return coap::error("cannot open /dev/net/tun: ", errno_text(),
                       errno == ENOENT ? " (is the tun module loaded?)" : "");
  ifreq ifr;
  fill_name(ifr, name);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (::ioctl(fd, TUNSETIFF, &ifr) < 0) {
    const int e = errno;
    ::close(fd);
    const std::string what = "cannot create TAP '" + name + "': ";
    if (e == EPERM) return coap::error(what, "permission denied (coapd needs CAP_NET_ADMIN)");
    if (e == EBUSY) return coap::error(what, "the name is in use by another process");
    if (e == EINVAL) return coap::error(what, "an interface of that name exists and is not a TAP");
    return coap::error(what, std::strerror(e));
  }
  const int ifindex = static_cast<int>(if_nametoindex(name.c_str()));
  return std::unique_ptr<TapDevice>(new TapDevice(fd, name, ifindex));
}

TapDevice::~TapDevice() {
  for (const netlink::Prefix& p : added_) (void)netlink::remove_address(ifindex_, p);
  if (fd_ >= 0) ::close(fd_);
}

bool TapDevice::write_frame(std::span<const uint8_t> frame) {
  return ::write(fd_, frame.data(), frame.size()) == static_cast<ssize_t>(frame.size());
}

coap::Status TapDevice::add_host_address(const netlink::Prefix& p) {
  auto added = netlink::add_address(ifindex_, p, p.family == 6);
  if (!added) return std::move(added).take_error();
  if (*added) added_.push_back(p);
  return {};
}

coap::Status TapDevice::set_up(uint32_t mtu) { return netlink::set_link_up(ifindex_, mtu); }

}  // namespace lwip_tap
