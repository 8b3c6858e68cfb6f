#include "daemon/coapctl/help.h"

namespace coapctl {

const char* const kRequestFooter =
    R"TXT(Prints the response code line ("2.05 Content"), one "Name: value" line per
option (uint options as numbers, string options as text, opaque options as
hex), a blank line, then the payload byte for byte. With --json prints the
result object instead. Exit status: 0 for 2.xx, 3 for 4.xx, 4 for 5.xx,
5 on timeout, 6 when the request failed or was cancelled, 1 when coapd
cannot be reached.

Example: coapctl get coap://192.0.2.1/sensors/temp --accept 0)TXT";

const char* const kObserveFooter =
    R"TXT(Prints one line per notification as it arrives:
  seq=N code=2.05 content_format=N|none payload=TEXT|0xHEX
With --json one object per line: seq, code, content_format, payload (text,
or hex when binary), time. Ctrl-C, --count or --duration deregister (GET
with Observe 1) and exit 0. A resource that is not observable is printed as
by get, with get's exit status.

Examples: coapctl observe coap://192.0.2.1/time --count 3
          coapctl observations; coapctl observe --cancel 4)TXT";

}  // namespace coapctl
