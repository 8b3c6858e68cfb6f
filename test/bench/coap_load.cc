// coap_load: a CoAP load generator on kernel sockets.
//
//   coap_load udp   --target IP:PORT --sockets N --window W [--path /time]
//   coap_load tcp   --target IP:PORT --conns N --window W
//   coap_load churn --target IP:PORT [--conns N] [--cycles N] [--close eof|drain]
//                   [--source IP[,IP...]]
//   common: --duration S --warmup S --timeout S --token-len L --json
//
// Prints one human-readable line and, with --json, one JSON object on a line
// of its own. Exit status: 0 when at least one response (churn: one complete
// cycle) was measured, 1 otherwise, 2 on bad usage.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test/bench/load_common.h"

namespace {

const char* mode_name(bench::Mode m) {
  switch (m) {
    case bench::Mode::kUdp: return "udp";
    case bench::Mode::kTcp: return "tcp";
    case bench::Mode::kChurn: return "churn";
  }
  return "?";
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double round1(double v) { return static_cast<double>(static_cast<int64_t>(v * 10 + 0.5)) / 10; }

}  // namespace

int main(int argc, char** argv) {
  bench::Options opts;
  std::string mode = "udp";
  std::string close_mode = "eof";

  CLI::App app{"CoAP load generator (UDP RFC 7252, TCP RFC 8323) on kernel sockets"};
  app.add_option("mode,--mode", mode, "udp | tcp | churn")
      ->required()
      ->check(CLI::IsMember({"udp", "tcp", "churn"}));
  app.add_option("--target", opts.target, "server IP:PORT or [IPv6]:PORT")->capture_default_str();
  app.add_option("--path", opts.path, "resource to GET")->capture_default_str();
  app.add_option("--sockets", opts.sockets, "udp: number of sockets")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  app.add_option("--conns", opts.conns, "tcp, churn: number of connections / parallel workers")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  app.add_option("--window", opts.window, "udp, tcp: requests in flight per socket/connection")
      ->capture_default_str()
      ->check(CLI::Range(1, 65535));
  app.add_option("--duration", opts.duration_s, "measured seconds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  auto* warmup = app.add_option("--warmup", opts.warmup_s, "unmeasured seconds before")
                     ->capture_default_str()
                     ->check(CLI::NonNegativeNumber);
  app.add_option("--cycles", opts.cycles,
                 "churn: stop after this many measured cycles instead of --duration "
                 "(warmup defaults to 0)");
  app.add_option("--timeout", opts.timeout_s,
                 "seconds after which a request (churn: a cycle) counts as lost")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--close", close_mode,
                 "churn: eof = shutdown(SHUT_WR) and read to EOF before close; drain = read "
                 "what is buffered and close")
      ->capture_default_str()
      ->check(CLI::IsMember({"eof", "drain"}));
  app.add_option("--token-len", opts.token_len, "token length in bytes")
      ->capture_default_str()
      ->check(CLI::Range(3, 8));
  app.add_option("--source", opts.sources,
                 "tcp, churn: local address(es) to connect from, round-robin "
                 "(comma-separated or repeated)")
      ->delimiter(',');
  app.add_flag("--json", opts.json, "also print one JSON line");
  CLI11_PARSE(app, argc, argv);

  opts.mode = mode == "udp"   ? bench::Mode::kUdp
              : mode == "tcp" ? bench::Mode::kTcp
                              : bench::Mode::kChurn;
  opts.close_mode = close_mode == "eof" ? bench::CloseMode::kEof : bench::CloseMode::kDrain;
  if (opts.cycles > 0 && warmup->count() == 0) opts.warmup_s = 0;

  bench::Target target;
  std::string error;
  if (!bench::parse_target(opts.target, target, error)) {
    std::fprintf(stderr, "coap_load: --target %s: %s\n", opts.target.c_str(), error.c_str());
    return 2;
  }
  std::vector<bench::Target> sources;
  for (const std::string& text : opts.sources) {
    bench::Target source;
    if (!bench::parse_address(text, source, error) || source.family != target.family) {
      std::fprintf(stderr, "coap_load: --source %s: %s\n", text.c_str(),
                   error.empty() ? "address family differs from the target's" : error.c_str());
      return 2;
    }
    sources.push_back(source);
  }

  const double cpu0 = cpu_seconds();
  const int64_t t0 = bench::now_ns();
  bench::Stats stats;
  switch (opts.mode) {
    case bench::Mode::kUdp: stats = bench::run_udp(opts, target); break;
    case bench::Mode::kTcp: stats = bench::run_tcp(opts, target, sources); break;
    case bench::Mode::kChurn: stats = bench::run_churn(opts, target, sources); break;
  }
  const double wall = static_cast<double>(bench::now_ns() - t0) / 1e9;
  const double cpu_pct = wall > 0 ? 100.0 * (cpu_seconds() - cpu0) / wall : 0.0;

  const double elapsed = stats.elapsed_s();
  const bool churn = opts.mode == bench::Mode::kChurn;
  const double req_per_s = elapsed > 0 ? static_cast<double>(stats.responses()) / elapsed : 0;
  const double conn_per_s = elapsed > 0 ? static_cast<double>(stats.cycles()) / elapsed : 0;
  const coapd::LatencyHistogram& lat = stats.latency();
  const double p50 = static_cast<double>(lat.quantile(0.50)) / 1e3;
  const double p99 = static_cast<double>(lat.quantile(0.99)) / 1e3;
  const int width = opts.mode == bench::Mode::kUdp ? opts.sockets : opts.conns;
  const int window = churn ? 1 : opts.window;

  std::string errors;
  for (const auto& [kind, count] : stats.error_kinds())
    errors += " " + kind + "=" + std::to_string(count);
  if (churn) {
    std::printf(
        "churn %s %s conns=%d: %.2fs %llu cycles %.0f conn/s (%llu started, %llu responses) "
        "cycle p50 %.1f us p99 %.1f us, errors %llu%s, client cpu %.0f%%\n",
        opts.target.c_str(), opts.path.c_str(), width, elapsed,
        static_cast<unsigned long long>(stats.cycles()), conn_per_s,
        static_cast<unsigned long long>(stats.requests()),
        static_cast<unsigned long long>(stats.responses()), p50, p99,
        static_cast<unsigned long long>(stats.errors()), errors.c_str(), cpu_pct);
  } else {
    std::printf(
        "%s %s %s %s=%d window=%d: %.2fs %llu requests %llu responses %llu lost %.0f req/s "
        "p50 %.1f us p99 %.1f us, errors %llu%s, client cpu %.0f%%\n",
        mode_name(opts.mode), opts.target.c_str(), opts.path.c_str(),
        opts.mode == bench::Mode::kUdp ? "sockets" : "conns", width, window, elapsed,
        static_cast<unsigned long long>(stats.requests()),
        static_cast<unsigned long long>(stats.responses()),
        static_cast<unsigned long long>(stats.lost()), req_per_s, p50, p99,
        static_cast<unsigned long long>(stats.errors()), errors.c_str(), cpu_pct);
  }

  if (opts.json) {
    nlohmann::json j;
    j["mode"] = mode_name(opts.mode);
    j["target"] = opts.target;
    j["path"] = opts.path;
    j[opts.mode == bench::Mode::kUdp ? "sockets" : "conns"] = width;
    j["window"] = window;
    j["duration_s"] = round1(elapsed * 100) / 100;
    j["requests"] = stats.requests();
    j["responses"] = stats.responses();
    j["lost"] = stats.lost();
    j["req_per_s"] = round1(req_per_s);
    j["p50_us"] = round1(p50);
    j["p99_us"] = round1(p99);
    j["max_us"] = round1(static_cast<double>(lat.max()) / 1e3);
    if (churn) {
      j["cycles"] = stats.cycles();
      j["conn_per_s"] = round1(conn_per_s);
      j["latency"] = "cycle";
    }
    j["errors"] = stats.errors();
    j["error_kinds"] = stats.error_kinds();
    j["client_cpu_pct"] = round1(cpu_pct);
    std::printf("%s\n", j.dump().c_str());
  }
  std::fflush(stdout);
  const uint64_t done = churn ? stats.cycles() : stats.responses();
  return done > 0 ? 0 : 1;
}
