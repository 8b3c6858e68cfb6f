// coapd: a CoAP endpoint (RFC 7252 over UDP, RFC 8323 over TCP) on its own
// lwIP stack attached to a TAP interface.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "config/config.h"
#include "daemon/coapd/daemon.h"

int main(int argc, char** argv) {
  config::Config cfg;
  const config::ParseResult parsed = config::parse(argc, argv, cfg);
  if (!parsed.run) {
    std::fputs(parsed.output.c_str(), parsed.exit_code == 0 ? stdout : stderr);
    return parsed.exit_code;
  }
  auto logger = spdlog::stderr_logger_mt("coapd");
  spdlog::set_default_logger(logger);
  // Under systemd the journal adds its own timestamps.
  spdlog::set_pattern(std::getenv("JOURNAL_STREAM") ? "%l: %v" : "[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  spdlog::set_level(spdlog::level::from_str(cfg.log_level));
  spdlog::flush_on(spdlog::level::info);
  // Before anything is created: never take an address the host uses.
  if (const coap::Status st = coapd::settle_host_network(cfg); !st) {
    std::fprintf(stderr, "coapd: %s\n", st.error().c_str());
    return 2;
  }
  return coapd::run_daemon(cfg, std::vector<std::string>(argv, argv + argc));
}
