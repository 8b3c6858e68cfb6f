// The one place lwIP is included from. Order matters:
//  1. System and libuv headers first: <netinet/tcp.h> (pulled in by uv.h)
//     defines TCP_MSS as 512 for the socket option of that name, and would
//     silently replace lwIP's value if it came second.
//  2. lwIP inside extern "C": Debian's lwipopts.h declares
//     sys_lock_tcpip_core() and friends outside any extern "C" block, so
//     without the wrap C++ mangles them and the link fails.
//
// Threading contract of everything in lwip_tap/: a function named *_locked
// or documented "REQUIRES core lock" must be called with LOCK_TCPIP_CORE()
// held; lwIP callbacks already run with it held (never lock again there:
// Debian's core mutex is not recursive). Debian's build checks the rule
// itself: a raw-API call without the lock prints and aborts.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <uv.h>

#undef TCP_MSS  // the socket option's number, not lwIP's segment size

extern "C" {
#include <lwip/err.h>
#include <lwip/etharp.h>
#include <lwip/ethip6.h>
#include <lwip/igmp.h>
#include <lwip/init.h>
#include <lwip/ip_addr.h>
#include <lwip/mld6.h>
#include <lwip/nd6.h>
#include <lwip/netif.h>
#include <lwip/opt.h>
#include <lwip/pbuf.h>
#include <lwip/priv/tcp_priv.h>
#include <lwip/sys.h>
#include <lwip/tcp.h>
#include <lwip/tcpip.h>
#include <lwip/udp.h>
#include <netif/ethernet.h>
}

static_assert(TCP_MSS == 1460,
              "TCP_MSS is not lwIP's value: include lwip_tap/lwip.h before any "
              "other header that may pull in <netinet/tcp.h>, or not at all");
static_assert(LWIP_TCPIP_CORE_LOCKING == 1 && NO_SYS == 0,
              "coapd relies on Debian's lwIP build: threads and the core lock");

#include "lwip_tap/thread_safety.h"

namespace lwip_tap {

// RAII holder of lwIP's core lock. Never construct one inside an lwIP
// callback: the lock is already held there and is not recursive.
class SCOPED_CAPABILITY CoreLock {
 public:
  CoreLock() ACQUIRE(core_lock) { LOCK_TCPIP_CORE(); }
  ~CoreLock() RELEASE() { UNLOCK_TCPIP_CORE(); }
  CoreLock(const CoreLock&) = delete;
  CoreLock& operator=(const CoreLock&) = delete;
};

// The first line of every lwIP callback: lwIP calls it with the core lock
// held. Checks that (Debian's lwIP aborts otherwise) and tells the analysis.
inline void assume_core_locked() ASSERT_CAPABILITY(core_lock) { LWIP_ASSERT_CORE_LOCKED(); }

// Name of an lwIP error ("ERR_RST"); lwip_strerr() returns "" in this build.
const char* err_name(err_t err);

}  // namespace lwip_tap
