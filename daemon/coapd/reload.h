// What a reload (SIGHUP, `coapctl reload`) changes, decided from the running
// configuration and the one just re-read (the command line again, and the
// config file it names). Policy only; daemon.cc applies it. What can change
// without a restart: the log level, and `session` entries (new ones are
// opened, removed ones closed, unchanged ones untouched). Every other
// changed key is reported as needing a restart.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace coapd {

struct ReloadPlan {
  std::string log_level;
  std::vector<config::SessionConfig> open;  // entries the running config lacks
  std::vector<std::string> close;           // URIs of entries no longer there
  std::vector<std::string> restart_needed;  // other changed keys
};

// `running` is the configuration coapd started with (after its host network
// check), with the session entries it has now.
ReloadPlan plan_reload(const config::Config& running, const config::Config& fresh);

}  // namespace coapd
