#include "daemon/coapctl/resource_cli.h"

#include <memory>

namespace coapctl {
namespace {

constexpr const char* kResourceFooter =
    R"TXT(User resources are served by coapd next to its built-in /, /time, /echo and
/status, which cannot be replaced or deleted. A command coapd refuses (a
built-in resource, a path that is taken or unknown, --max-resources reached,
a value over --max-resource-size) prints coapd's reason and exits 1.

Examples:
  coapctl resource add /sensors/temp --ct 0 --rt temperature-c --obs --methods 'get|put' --value 21.5
  coapctl resource set /sensors/temp --value 22.0     # observers are notified at once
  coapctl resource list --json
  coapctl resource delete /sensors/temp               # observers get 4.04)TXT";

struct ResourceFlags {
  ResourceOptions o;
  unsigned ct = 0, max_age = 0;
  std::string value, file;
  CLI::Option *o_ct = nullptr, *o_value = nullptr, *o_file = nullptr, *o_max_age = nullptr;

  void add_value(CLI::App* cmd) {
    cmd->add_option("PATH", o.path, "Path of the resource, e.g. /sensors/temp")->required();
    o_ct = cmd->add_option("--ct", ct, "Content-Format of the value (default 0, text/plain)")
               ->type_name("N")
               ->check(CLI::Range(0, 65535).description("0-65535"));
    o_value = cmd->add_option("--value", value, "The value, as text")->type_name("TEXT");
    o_file = cmd->add_option("--file", file, "Read the value from FILE (- for stdin)")
                 ->type_name("FILE");
    o_value->excludes(o_file);
  }
  void add_definition(CLI::App* cmd) {
    cmd->add_option("--rt", o.rt, "Resource type (link attribute rt)")->type_name("X");
    cmd->add_option("--if", o.if_, "Interface description (link attribute if)")->type_name("X");
    cmd->add_option("--title", o.title, "Title (link attribute title)")->type_name("X");
    cmd->add_flag("--obs", o.obs, "Observable: observers are notified of every change");
    cmd->add_option("--methods", o.methods,
                    "Methods allowed, e.g. 'get|put' (get, put, post, delete, fetch, patch, "
                    "ipatch; default get)")
        ->type_name("LIST");
    cmd->add_option("--delay", o.delay_ms,
                    "Separate response: empty ACK at once, the response after MS")
        ->type_name("MS")
        ->check(CLI::Range(0, 60000));
    o_max_age = cmd->add_option("--max-age", max_age, "Max-Age of responses")->type_name("S");
  }
  ResourceOptions apply() {
    if (o_ct->count()) o.ct = ct;
    if (o_value->count()) o.value = value;
    if (o_file->count()) o.file = file;
    if (o_max_age && o_max_age->count()) o.max_age = max_age;
    return o;
  }
};

}  // namespace

void add_resource_commands(CLI::App& app, const GlobalOptions& global,
                           std::function<int()>* action) {
  CLI::App* res = app.add_subcommand("resource", "List, add, change and delete user resources");
  res->require_subcommand(1);
  res->footer(kResourceFooter);
  res->add_subcommand("list", "List every resource (PATH SOURCE CT METHODS OBS ...)")
      ->callback([&global, action] { *action = [&global] { return run_resource_list(global); }; });

  auto add = std::make_shared<ResourceFlags>();
  CLI::App* add_cmd = res->add_subcommand("add", "Add a resource");
  add->add_value(add_cmd);
  add->add_definition(add_cmd);
  add_cmd->callback([&global, action, add] {
    *action = [&global, o = add->apply()] { return run_resource_add(global, o); };
  });

  auto set = std::make_shared<ResourceFlags>();
  CLI::App* set_cmd =
      res->add_subcommand("set", "Give a resource a new value (observers notified)");
  set->add_value(set_cmd);
  set_cmd->callback([&global, action, set] {
    if (!set->o_value->count() && !set->o_file->count())
      throw CLI::RequiredError("resource set needs --value or --file");
    *action = [&global, o = set->apply()] { return run_resource_set(global, o); };
  });

  auto path = std::make_shared<std::string>();
  CLI::App* del_cmd = res->add_subcommand("delete", "Delete a resource (observers get 4.04)");
  del_cmd->add_option("PATH", *path, "Path of the resource")->required();
  del_cmd->callback([&global, action, path] {
    *action = [&global, path] { return run_resource_delete(global, *path); };
  });
}

}  // namespace coapctl
