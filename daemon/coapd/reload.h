// What a reload (SIGHUP, `coapctl reload`) changes, decided from the running
// configuration and the one just re-read (the command line again, and the
// config file it names). Policy only; daemon.cc applies it. What can change
// without a restart: the log level, `session` entries (new ones are opened,
// removed ones closed, unchanged ones untouched) and `resource` entries (new
// ones added, removed ones deleted: their observers get 4.04; an entry whose
// value or content-format changed gets the new value, its observers
// notified; one whose other keys changed is replaced; unchanged ones keep
// what `coapctl resource set` gave them). Every other changed key is
// reported as needing a restart.
#pragma once

#include <string>
#include <vector>

#include "coap/endpoint.h"
#include "coap/resource_spec.h"
#include "config/config.h"
#include "daemon/control/messages.h"

namespace coapd {

struct ReloadPlan {
  std::string log_level;
  std::vector<config::SessionConfig> open;  // entries the running config lacks
  std::vector<std::string> close;           // URIs of entries no longer there
  // Resource entries, by path.
  std::vector<coap::ResourceSpec> resources_add;
  std::vector<std::string> resources_remove;
  std::vector<coap::ResourceSpec> resources_set;      // new value or content-format only
  std::vector<coap::ResourceSpec> resources_replace;  // other keys: removed, then added
  std::vector<std::string> restart_needed;            // other changed keys
};

// The resource paths the plan adds, removes and changes, for the answer.
void describe_resource_changes(const ReloadPlan& plan, control::ReloadResult& result);
// Engine thread: applies the plan's resource changes, removals first (so that
// a replaced entry's path is free again when it is added). A change that
// fails (the path was taken by `coapctl resource add` meanwhile, or
// --max-resources is reached) is logged.
void apply_resource_changes(coap::Endpoint& ep, const ReloadPlan& plan, uint32_t max_size,
                            coap::TimePoint now);

// `running` is the configuration coapd started with (after its host network
// check), with the session entries it has now.
ReloadPlan plan_reload(const config::Config& running, const config::Config& fresh);

}  // namespace coapd
