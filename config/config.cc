// coapd's flags and config file, driven by the option table
// (options_internal.h): the command line (tokenised by CLI11), the config
// file (read by CLI11's TOML reader) and --help (manual.h) cannot drift apart.
//
// Values are checked by our own code (values.cc) rather than by CLI11
// validators so that every error is one line in one format, whether it comes
// from a flag or a key:
//   coapd: --address: '300.1.2.3/24' is not an IPv4 address with prefix ...
//   coapd: config file /x.conf: address: '300.1.2.3/24' is not an IPv4 ...
#include "config/config.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string_view>

#include "config/manual.h"
#include "config/options_internal.h"

namespace config {
namespace {

using namespace detail;

// An error: exit status 2 and one line. Control characters that came with a
// value (`--tap $'a\nb'`) are escaped so that the line stays one line.
ParseResult failure(const std::string& message) {
  std::string line = "coapd: ";
  for (unsigned char c : message) {
    if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      line += "\\x";
      line += kHex[c >> 4];
      line += kHex[c & 15];
    } else {
      line += static_cast<char>(c);
    }
  }
  return {false, 2, line + "\n"};
}

// The first line of a CLI11 error, in our words where we know them.
std::string describe_cli_error(const CLI::ParseError& e) {
  std::string what = e.what();
  what = what.substr(0, what.find('\n'));
  const std::size_t colon = what.find(':');
  if (e.get_name() == "ArgumentMismatch" && what.rfind("--", 0) == 0 &&
      colon != std::string::npos) {
    const std::string flag = what.substr(0, colon);
    if (what.find("missing") != std::string::npos) {
      const OptionSpec* o = find_option(flag.substr(2));
      return flag + ": missing value" +
             (o && !o->arg.empty() ? " (expected " + std::string(o->arg) + ")" : "");
    }
    if (what.find("At Most") != std::string::npos) return flag + ": given more than once";
  }
  return what;
}

// Applies the config file at `path` to `cfg`. Returns an error message
// (without the "coapd: " prefix) on failure.
std::optional<std::string> apply_file(const std::string& path, Config& cfg) {
  const std::string where = "config file " + path + ": ";
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return where + "is a directory";
  std::ifstream in(path);
  if (!in) return where + "cannot be read: " + std::strerror(errno);

  std::vector<CLI::ConfigItem> items;
  try {
    items = CLI::ConfigTOML().from_config(in);
  } catch (const CLI::Error& e) {
    std::string what = e.what();
    return where + what.substr(0, what.find('\n'));
  }
  if (in.bad()) return where + "read error";

  std::set<const OptionSpec*> seen;
  for (const CLI::ConfigItem& item : items) {
    if (item.name == "++" || item.name == "--") {
      // CLI11's markers for entering and leaving a [section].
      std::string section;
      for (const auto& p : item.parents) section += (section.empty() ? "" : ".") + p;
      return where + "unknown section [" + section + "]";
    }
    const std::string key = item.fullname();
    if (!item.parents.empty()) return where + "unknown key '" + key + "'";
    std::string name = key;
    std::replace(name.begin(), name.end(), '_', '-');
    if (name == "config") return where + key + ": only allowed on the command line (--config)";
    const OptionSpec* o = find_option(name);
    if (o == nullptr) return where + "unknown key '" + key + "'";
    if (o->kind != Kind::kRepeatable) {
      if (!seen.insert(o).second) return where + key + ": given more than once";
      if (item.inputs.size() != 1) {
        return where + key + ": takes one value, not " + std::to_string(item.inputs.size()) +
               " (a list, or the key repeated on consecutive lines)";
      }
    }
    for (const std::string& value : item.inputs) {
      // CLI11 2.1 reads `[ "a" , "b" ]` (a space before a comma) as "a", "",
      // "b": skip such empty list entries rather than blame the user.
      if (value.empty() && item.inputs.size() > 1) continue;
      if (Problem p = o->apply(value, cfg); !p) {
        // An unquoted `session = coap+tcp://h,call-home` is split at the comma.
        const bool unquoted = o->name == "session" && value.find("://") == std::string::npos &&
                              item.inputs.size() > 1;
        return where + key + ": " + shown_value(*o, value) + " " + p.error() +
               (unquoted ? " (quote each session: session = \"coap+tcp://HOST,call-home\")" : "");
      }
    }
  }
  return std::nullopt;
}

}  // namespace

ParseResult parse(int argc, const char* const* argv, Config& out) {
  CLI::App app("", "coapd");
  app.set_help_flag("-h,--help");
  app.allow_extras(true);  // reported below, in our words
  std::vector<CLI::Option*> flags;
  for (const auto& o : options()) {
    const std::string flag = "--" + std::string(o.name);
    CLI::Option* opt = o.kind == Kind::kFlag ? app.add_flag(flag) : app.add_option(flag);
    if (o.kind == Kind::kRepeatable) {
      opt->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    }
    flags.push_back(opt);
  }
  CLI::Option* version = app.add_flag("--version");

  try {
    if (argc > 0) app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return {false, 0, render_text(coapd_manual())};
  } catch (const CLI::ParseError& e) {
    return failure(describe_cli_error(e));
  }
  if (version->count() > 0) return {false, 0, "coapd " + std::string(kVersion) + "\n"};
  std::vector<std::string> extras = app.remaining();
  std::erase(extras, "--");  // the end-of-options marker, harmless here
  if (!extras.empty()) {
    const std::string& arg = extras.front();
    if (arg.size() > 1 && arg[0] == '-') {
      return failure(arg.substr(0, arg.find('=')) + ": unknown option (see coapd --help)");
    }
    return failure("unexpected argument '" + arg + "' (coapd takes no arguments, only options)");
  }

  Config cfg;
  const CLI::Option* config_flag = app.get_option("--config");
  if (config_flag->count() > 0) {
    cfg.config_file = config_flag->results().front();
    if (cfg.config_file->empty()) return failure("--config: missing file name");
    if (auto error = apply_file(*cfg.config_file, cfg)) return failure(*error);
  }

  for (std::size_t i = 0; i < options().size(); ++i) {
    const OptionSpec& o = options()[i];
    if (o.apply == nullptr || flags[i]->count() == 0) continue;
    // Sessions given on the command line replace those from the file.
    if (o.name == "session") cfg.sessions.clear();
    if (o.name == "resource") cfg.resources.clear();
    for (const std::string& value : flags[i]->results()) {
      if (Problem p = o.apply(value, cfg); !p)
        return failure("--" + std::string(o.name) + ": " + shown_value(o, value) + " " + p.error());
    }
  }
  if (coap::Status zones = check_session_zones(cfg); !zones) return failure(zones.error());
  if (coap::Status creds = load_credentials(cfg); !creds) return failure(creds.error());
  if (coap::Status res = check_resources(cfg); !res) return failure(res.error());
  out = std::move(cfg);
  return {};
}

}  // namespace config
