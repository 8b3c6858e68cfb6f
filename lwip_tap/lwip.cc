#include "lwip_tap/lwip.h"

namespace lwip_tap {

CoreLockCapability core_lock;

const char* err_name(err_t err) {
  switch (err) {
    case ERR_OK: return "ERR_OK";
    case ERR_MEM: return "ERR_MEM (out of memory)";
    case ERR_BUF: return "ERR_BUF (buffer error)";
    case ERR_TIMEOUT: return "ERR_TIMEOUT";
    case ERR_RTE: return "ERR_RTE (no route)";
    case ERR_INPROGRESS: return "ERR_INPROGRESS";
    case ERR_VAL: return "ERR_VAL (illegal value)";
    case ERR_WOULDBLOCK: return "ERR_WOULDBLOCK";
    case ERR_USE: return "ERR_USE (address in use)";
    case ERR_ALREADY: return "ERR_ALREADY";
    case ERR_ISCONN: return "ERR_ISCONN";
    case ERR_CONN: return "ERR_CONN (not connected)";
    case ERR_IF: return "ERR_IF (low-level netif error)";
    case ERR_ABRT: return "ERR_ABRT (connection aborted)";
    case ERR_RST: return "ERR_RST (connection reset)";
    case ERR_CLSD: return "ERR_CLSD (connection closed)";
    case ERR_ARG: return "ERR_ARG (illegal argument)";
  }
  return "ERR_? (unknown)";
}

}  // namespace lwip_tap
