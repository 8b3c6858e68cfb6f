// coapd's composition: starts the parts in order (TAP, lwIP, transports,
// engine, control socket, TAP pump, signals), serves until SIGTERM/SIGINT,
// and stops them in reverse order from one place.
#pragma once

#include "config/config.h"

namespace coapd {

// Runs coapd until it is told to stop. Returns the process exit code:
// 0 after an orderly shutdown, 1 when start-up fails (the reason is logged).
int run_daemon(const config::Config& config);

}  // namespace coapd
