#include "lwip_tap/tap_device.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/ipv6.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lwip_tap {
namespace {

std::string errno_text() { return std::strerror(errno); }

// A throwaway socket for interface ioctls.
class IoctlSocket {
 public:
  explicit IoctlSocket(int family) : fd_(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {}
  ~IoctlSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

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
  IoctlSocket sock(AF_INET);
  fill_name(ifr, name);
  int ifindex = 0;
  if (sock.fd() >= 0 && ::ioctl(sock.fd(), SIOCGIFINDEX, &ifr) == 0) ifindex = ifr.ifr_ifindex;
  return std::unique_ptr<TapDevice>(new TapDevice(fd, name, ifindex));
}

TapDevice::~TapDevice() {
  if (fd_ >= 0) ::close(fd_);
}

bool TapDevice::write_frame(std::span<const uint8_t> frame) {
  return ::write(fd_, frame.data(), frame.size()) == static_cast<ssize_t>(frame.size());
}

coap::Status TapDevice::set_host_ipv4(const std::array<uint8_t, 4>& addr, uint8_t prefix_len) {
  IoctlSocket sock(AF_INET);
  ifreq ifr;
  fill_name(ifr, name_);
  auto* sin = reinterpret_cast<sockaddr_in*>(&ifr.ifr_addr);
  sin->sin_family = AF_INET;
  std::memcpy(&sin->sin_addr, addr.data(), 4);
  if (::ioctl(sock.fd(), SIOCSIFADDR, &ifr) < 0)
    return coap::error("cannot set address of ", name_, ": ", errno_text());
  fill_name(ifr, name_);
  sin->sin_family = AF_INET;
  const uint32_t mask = prefix_len == 0 ? 0 : htonl(~uint32_t{0} << (32 - prefix_len));
  std::memcpy(&sin->sin_addr, &mask, 4);
  if (::ioctl(sock.fd(), SIOCSIFNETMASK, &ifr) < 0)
    return coap::error("cannot set netmask of ", name_, ": ", errno_text());
  return {};
}

coap::Status TapDevice::add_host_ipv6(const std::array<uint8_t, 16>& addr, uint8_t prefix_len) {
  IoctlSocket sock(AF_INET6);
  in6_ifreq req{};
  std::memcpy(&req.ifr6_addr, addr.data(), 16);
  req.ifr6_prefixlen = prefix_len;
  req.ifr6_ifindex = ifindex_;
  if (sock.fd() < 0 || ::ioctl(sock.fd(), SIOCSIFADDR, &req) < 0)
    return coap::error("cannot add IPv6 address to ", name_, ": ", errno_text());
  return {};
}

coap::Status TapDevice::set_up() {
  IoctlSocket sock(AF_INET);
  ifreq ifr;
  fill_name(ifr, name_);
  if (::ioctl(sock.fd(), SIOCGIFFLAGS, &ifr) < 0)
    return coap::error("cannot read flags of ", name_, ": ", errno_text());
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (::ioctl(sock.fd(), SIOCSIFFLAGS, &ifr) < 0)
    return coap::error("cannot bring ", name_, " up: ", errno_text());
  return {};
}

coap::Status TapDevice::set_mtu(int mtu) {
  IoctlSocket sock(AF_INET);
  ifreq ifr;
  fill_name(ifr, name_);
  ifr.ifr_mtu = mtu;
  if (::ioctl(sock.fd(), SIOCSIFMTU, &ifr) < 0)
    return coap::error("cannot set MTU of ", name_, ": ", errno_text());
  return {};
}

}  // namespace lwip_tap
