// coapctl's "resource" command line: list, add, set, delete.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "daemon/coapctl/commands.h"

namespace coapctl {

// Adds "resource" and its subcommands to app; the chosen one sets *action.
// global is read when the action runs.
void add_resource_commands(CLI::App& app, const GlobalOptions& global,
                           std::function<int()>* action);

}  // namespace coapctl
