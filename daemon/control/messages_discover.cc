#include "daemon/control/messages_discover.h"

#include "daemon/control/codec.h"

namespace control {

using nlohmann::json;

json DiscoverArgs::encode() const { return {{"group", group}, {"wait", wait}}; }

Result<DiscoverArgs> DiscoverArgs::decode(const json& j) {
  FieldReader r(j);
  DiscoverArgs a;
  a.group = r.string("group", a.group);
  a.wait = r.number("wait", a.wait, 0, 3600);
  return r.result(std::move(a));
}

json DiscoverResult::encode() const {
  json list = json::array();
  for (const DiscoveredEntry& n : nodes)
    list.push_back({{"address", n.address}, {"links", n.links}});
  return {{"nodes", std::move(list)}};
}

Result<DiscoverResult> DiscoverResult::decode(const json& j) {
  FieldReader r(j);
  DiscoverResult out;
  const json* list = r.array("nodes");
  for (std::size_t i = 0; list && i < list->size() && r.ok(); ++i) {
    FieldReader n((*list)[i]);
    DiscoveredEntry e{n.string("address"), n.string("links")};
    if (!n.ok()) r.fail("nodes: " + n.status().error());
    out.nodes.push_back(std::move(e));
  }
  return r.result(std::move(out));
}

}  // namespace control
