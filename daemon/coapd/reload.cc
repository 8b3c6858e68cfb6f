#include "daemon/coapd/reload.h"

#include <algorithm>

namespace coapd {

ReloadPlan plan_reload(const config::Config& running, const config::Config& fresh) {
  ReloadPlan plan;
  plan.log_level = fresh.log_level;
  auto has = [](const std::vector<config::SessionConfig>& list, const config::SessionConfig& s) {
    return std::find(list.begin(), list.end(), s) != list.end();
  };
  for (const auto& s : fresh.sessions)
    if (!has(running.sessions, s)) plan.open.push_back(s);
  for (const auto& s : running.sessions)
    if (!has(fresh.sessions, s)) plan.close.push_back(s.uri);
  config::Config compared = fresh;
  // On the embedded defaults coapd may have moved to another subnet
  // (host_network.h): that is not a change of the file.
  if (!running.address_given && !fresh.address_given) {
    compared.address = running.address;
    compared.host_address = running.host_address;
  }
  for (std::string& key : config::changed_options(running, compared))
    if (key != "log-level" && key != "session") plan.restart_needed.push_back(std::move(key));
  return plan;
}

}  // namespace coapd
