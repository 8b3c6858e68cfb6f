// coapd's composition: starts the parts in order (TAP, lwIP, transports,
// engine, control socket, TAP pump, signals), serves until SIGTERM/SIGINT,
// and stops them in reverse order from one place.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace coapd {

// Runs coapd until it is told to stop. Returns the process exit code:
// 0 after an orderly shutdown, 1 when start-up fails (the reason is logged).
// `argv` is the command line, read again (with the config file it names) on
// SIGHUP and `coapctl reload`.
int run_daemon(const config::Config& config, std::vector<std::string> argv);

// Reads the namespace's addresses and routes (rtnetlink) and applies
// choose_network() (host_network.h) to `config`: its addresses stay, move to
// a free default subnet (address_note says so), or the error says which
// interface and address are in the way.
coap::Status settle_host_network(config::Config& config);

}  // namespace coapd
