#include "daemon/coapd/reload.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "coap/user_resource.h"

namespace coapd {
namespace {

const coap::ResourceSpec* find_path(const std::vector<coap::ResourceSpec>& list,
                                    const std::string& path) {
  for (const coap::ResourceSpec& r : list)
    if (r.path == path) return &r;
  return nullptr;
}

void plan_resources(const std::vector<coap::ResourceSpec>& running,
                    const std::vector<coap::ResourceSpec>& fresh, ReloadPlan& plan) {
  for (const coap::ResourceSpec& r : fresh) {
    const coap::ResourceSpec* old = find_path(running, r.path);
    if (!old) {
      plan.resources_add.push_back(r);
    } else if (*old != r) {
      coap::ResourceSpec same_value = *old;
      same_value.value = r.value;
      same_value.ct = r.ct;
      same_value.file = r.file;
      (same_value == r ? plan.resources_set : plan.resources_replace).push_back(r);
    }
  }
  for (const coap::ResourceSpec& r : running)
    if (!find_path(fresh, r.path)) plan.resources_remove.push_back(r.path);
}

}  // namespace

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
  plan_resources(running.resources, fresh.resources, plan);
  config::Config compared = fresh;
  // On the embedded defaults coapd may have moved to another subnet
  // (host_network.h): that is not a change of the file.
  if (!running.address_given && !fresh.address_given) {
    compared.address = running.address;
    compared.host_address = running.host_address;
  }
  for (std::string& key : config::changed_options(running, compared))
    if (key != "log-level" && key != "session" && key != "resource")
      plan.restart_needed.push_back(std::move(key));
  return plan;
}

void describe_resource_changes(const ReloadPlan& plan, control::ReloadResult& result) {
  result.resources_removed = plan.resources_remove;
  for (const coap::ResourceSpec& r : plan.resources_add) result.resources_added.push_back(r.path);
  for (const auto* list : {&plan.resources_set, &plan.resources_replace})
    for (const coap::ResourceSpec& r : *list) result.resources_changed.push_back(r.path);
}

void apply_resource_changes(coap::Endpoint& ep, const ReloadPlan& plan, uint32_t max_size,
                            coap::TimePoint now) {
  auto report = [](const std::string& path, const coap::Status& st) {
    if (!st) spdlog::warn("reload: resource {}: {}", path, st.error());
  };
  for (const std::string& p : plan.resources_remove) report(p, ep.remove_resource(p, now));
  for (const coap::ResourceSpec& r : plan.resources_replace)
    report(r.path, ep.remove_resource(r.path, now));
  for (const auto* list : {&plan.resources_replace, &plan.resources_add})
    for (const coap::ResourceSpec& r : *list)
      report(r.path, ep.add_resource(std::make_unique<coap::UserResource>(
                                         r, coap::ResourceSource::kConfig, max_size),
                                     now));
  for (const coap::ResourceSpec& r : plan.resources_set)
    report(r.path, ep.set_resource_value(r.path, r.value, r.ct, now));
}

}  // namespace coapd
