// Resource entries checked as a whole once every option is known: files
// read, sizes and count bounded, paths unique and not built in.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "config/config.h"

namespace config {
namespace {

// Paths coapd serves itself (coap/builtin_resources.cc).
constexpr std::string_view kBuiltinPaths[] = {"/time", "/echo", "/status"};

coap::Status read_value_file(coap::ResourceSpec& r, std::size_t limit) {
  std::ifstream in(*r.file, std::ios::binary);
  if (!in) return coap::error("file '", *r.file, "' cannot be read");
  std::vector<uint8_t> data;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    data.insert(data.end(), buf, buf + in.gcount());
    if (data.size() > limit)
      return coap::error("file '", *r.file, "' is larger than --max-resource-size (",
                         std::to_string(limit), " bytes)");
  }
  if (in.bad()) return coap::error("file '", *r.file, "' cannot be read");
  r.value = std::move(data);
  return {};
}

}  // namespace

coap::Status check_resources(Config& c) {
  if (!c.resource_dir.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(c.resource_dir, ec))
      return coap::error("resource-dir: '", c.resource_dir, "' is not a directory");
  }
  if (c.resources.size() > c.max_resources)
    return coap::error("resource: ", std::to_string(c.resources.size()),
                       " resources given, more than --max-resources (",
                       std::to_string(c.max_resources), ")");
  std::set<std::string> paths;
  for (coap::ResourceSpec& r : c.resources) {
    const std::string where = "resource '" + r.path + "': ";
    for (std::string_view b : kBuiltinPaths)
      if (r.path == b) return coap::error(where, "is a built-in resource and cannot be replaced");
    if (!paths.insert(r.path).second) return coap::error(where, "is defined more than once");
    if (r.file) {
      if (coap::Status st = read_value_file(r, c.max_resource_size); !st)
        return coap::error(where, "key 'file': ", st.error());
    } else if (r.value.size() > c.max_resource_size) {
      return coap::error(where, "key 'value': larger than --max-resource-size (",
                         std::to_string(c.max_resource_size), " bytes)");
    }
  }
  return {};
}

}  // namespace config
