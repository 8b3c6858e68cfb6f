// Private to config/: the option table. One entry per option describes it
// once: its name (flag and config key), its help text, how its default is
// shown and how a value is applied to a Config. The command line, the config
// file, --help and the manual pages are all driven by it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/values_internal.h"

namespace config::detail {

enum class Group { kGeneral, kNetwork, kUdp, kTcp, kSecurity, kSessions, kResources, kControl };
std::string_view group_title(Group g);

enum class Kind {
  kValue,       // --name VALUE, once
  kFlag,        // --name (or --name=true/false; `name = true` in the file)
  kRepeatable,  // --name VALUE, any number of times
};

struct OptionSpec {
  std::string_view name;  // flag without "--", and config key
  std::string_view arg;   // placeholder in --help; empty for flags
  Group group;
  Kind kind;
  std::string_view help;
  // The default as --help shows it, from a default-constructed Config.
  std::string (*show)(const Config&);
  // Applies one value; for kRepeatable, appends it. nullptr for --config,
  // which parse() handles itself.
  Problem (*apply)(const std::string& value, Config& c);
};

const std::vector<OptionSpec>& options();
// Reads and checks the files the security options name (credentials.cc).
coap::Status load_credentials(Config& c);
const OptionSpec* find_option(std::string_view name);
// How an error shows the value given: quoted, or "(the key)" for a secret,
// which is never written to a terminal or a log.
std::string shown_value(const OptionSpec& o, const std::string& value);

inline constexpr std::string_view kVersion = COAPD_VERSION;

}  // namespace config::detail
