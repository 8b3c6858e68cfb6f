// coap_load: a CoAP load generator on kernel sockets.
//
//   coap_load udp   --target IP:PORT --sockets N --window W [--path /time]
//   coap_load tcp   --target IP:PORT --conns N --window W
//   coap_load churn --target IP:PORT [--conns N] [--cycles N] [--close eof|drain]
//                   [--wait-csm] [--source IP[,IP...]]
//   coap_load dtls  --target IP:PORT --conns N --window W   (coaps://, PSK)
//   coap_load tls   --target IP:PORT --conns N --window W   (coaps+tcp://, PSK)
//   coap_load dtls_churn --target IP:PORT [--conns N] [--cycles N]
//                   (a new DTLS session per GET: handshake, GET, close_notify)
//   secure modes: --psk-identity ID --psk-key KEY (text, or 0x hex)
//                 [--ciphersuite NAME[,NAME...]] [--handshake-timeout S]
//   common: --duration S --warmup S --timeout S --token-len L --json
//
// The secure modes run coapd's own coap::SecureChannel (mbedTLS) over the
// kernel sockets and print the cipher suites their handshakes negotiated.
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
    case bench::Mode::kDtls: return "dtls";
    case bench::Mode::kTls: return "tls";
    case bench::Mode::kDtlsChurn: return "dtls_churn";
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

bool is_churn(bench::Mode m) { return m == bench::Mode::kChurn || m == bench::Mode::kDtlsChurn; }
bool is_secure(bench::Mode m) {
  return m == bench::Mode::kDtls || m == bench::Mode::kTls || m == bench::Mode::kDtlsChurn;
}

bench::Mode mode_of(const std::string& name) {
  for (bench::Mode m : {bench::Mode::kUdp, bench::Mode::kTcp, bench::Mode::kChurn,
                        bench::Mode::kDtls, bench::Mode::kTls, bench::Mode::kDtlsChurn})
    if (name == mode_name(m)) return m;
  return bench::Mode::kUdp;
}

// Fills opts from the command line; returns the exit status CLI11 wants
// (help, bad usage), or -1 to go on.
int parse_options(int argc, char** argv, bench::Options& opts) {
  std::string mode = "udp";
  std::string close_mode = "eof";
  CLI::App app{
      "CoAP load generator (UDP RFC 7252, TCP RFC 8323, DTLS and TLS with PSK) on "
      "kernel sockets"};
  app.add_option("mode,--mode", mode, "udp | tcp | churn | dtls | tls | dtls_churn")
      ->required()
      ->check(CLI::IsMember({"udp", "tcp", "churn", "dtls", "tls", "dtls_churn"}));
  app.add_option("--target", opts.target, "server IP:PORT or [IPv6]:PORT")->capture_default_str();
  app.add_option("--path", opts.path, "resource to GET")->capture_default_str();
  app.add_option("--sockets", opts.sockets, "udp: number of sockets")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  app.add_option("--conns", opts.conns,
                 "tcp, churn, dtls, tls, dtls_churn: number of connections / sessions / workers")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  app.add_option("--window", opts.window,
                 "udp, tcp, dtls, tls: requests in flight per socket/connection")
      ->capture_default_str()
      ->check(CLI::Range(1, 65535));
  app.add_option("--duration", opts.duration_s, "measured seconds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  auto* warmup = app.add_option("--warmup", opts.warmup_s, "unmeasured seconds before")
                     ->capture_default_str()
                     ->check(CLI::NonNegativeNumber);
  app.add_option("--cycles", opts.cycles,
                 "churn, dtls_churn: stop after this many measured cycles instead of --duration "
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
  app.add_flag("--wait-csm", opts.wait_csm,
               "churn: send CSM, wait for the server's CSM, then the GET (as libcoap's client "
               "does); default: CSM and GET in one write");
  app.add_option("--token-len", opts.token_len, "token length in bytes")
      ->capture_default_str()
      ->check(CLI::Range(3, 8));
  app.add_option("--source", opts.sources,
                 "tcp, churn, tls: local address(es) to connect from, round-robin "
                 "(comma-separated or repeated)")
      ->delimiter(',');
  app.add_option("--psk-identity", opts.psk_identity, "dtls, tls, dtls_churn: PSK identity")
      ->capture_default_str();
  app.add_option("--psk-key", opts.psk_key, "dtls, tls, dtls_churn: PSK key (text, or 0x hex)")
      ->capture_default_str();
  app.add_option("--ciphersuite", opts.ciphersuites,
                 "dtls, tls, dtls_churn: offer only these suites (mbedTLS names, e.g. "
                 "TLS-PSK-WITH-AES-128-CCM-8); default: all of mbedTLS's PSK suites")
      ->delimiter(',');
  app.add_option("--handshake-timeout", opts.handshake_timeout_s,
                 "dtls, tls: seconds a handshake may take before the session is dropped")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_flag("--json", opts.json, "also print one JSON line");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  opts.mode = mode_of(mode);
  opts.close_mode = close_mode == "eof" ? bench::CloseMode::kEof : bench::CloseMode::kDrain;
  if (opts.cycles > 0 && warmup->count() == 0) opts.warmup_s = 0;
  return -1;
}

bench::Stats run(const bench::Options& opts, const bench::Target& target,
                 const std::vector<bench::Target>& sources) {
  switch (opts.mode) {
    case bench::Mode::kUdp: return bench::run_udp(opts, target);
    case bench::Mode::kTcp: return bench::run_tcp(opts, target, sources);
    case bench::Mode::kChurn: return bench::run_churn(opts, target, sources);
    case bench::Mode::kDtls: return bench::run_dtls(opts, target);
    case bench::Mode::kTls: return bench::run_tls(opts, target, sources);
    case bench::Mode::kDtlsChurn: return bench::run_dtls_churn(opts, target);
  }
  return {};
}

std::string joined(const std::map<std::string, uint64_t>& counts, const char* sep) {
  std::string out;
  for (const auto& [name, count] : counts)
    out += (out.empty() ? "" : sep) + name + "=" + std::to_string(count);
  return out;
}

void print_human(const bench::Options& opts, const bench::Stats& stats, double cpu_pct) {
  const double elapsed = stats.elapsed_s();
  const coapd::LatencyHistogram& lat = stats.latency();
  const double p50 = static_cast<double>(lat.quantile(0.50)) / 1e3;
  const double p99 = static_cast<double>(lat.quantile(0.99)) / 1e3;
  std::string errors = joined(stats.error_kinds(), " ");
  if (!errors.empty()) errors = " " + errors;
  std::string tail;
  if (is_secure(opts.mode))
    tail = ", handshakes " + std::to_string(stats.handshakes()) + " (" +
           joined(stats.ciphers(), " ") + ")";
  if (is_churn(opts.mode)) {
    std::printf(
        "%s %s %s conns=%d: %.2fs %llu cycles %.0f conn/s (%llu started, %llu responses) "
        "cycle p50 %.1f us p99 %.1f us, errors %llu%s, client cpu %.0f%%%s\n",
        mode_name(opts.mode), opts.target.c_str(), opts.path.c_str(), opts.conns, elapsed,
        static_cast<unsigned long long>(stats.cycles()),
        elapsed > 0 ? static_cast<double>(stats.cycles()) / elapsed : 0,
        static_cast<unsigned long long>(stats.requests()),
        static_cast<unsigned long long>(stats.responses()), p50, p99,
        static_cast<unsigned long long>(stats.errors()), errors.c_str(), cpu_pct, tail.c_str());
    return;
  }
  const bool udp = opts.mode == bench::Mode::kUdp;
  std::printf(
      "%s %s %s %s=%d window=%d: %.2fs %llu requests %llu responses %llu lost %.0f req/s "
      "p50 %.1f us p99 %.1f us, errors %llu%s, client cpu %.0f%%%s\n",
      mode_name(opts.mode), opts.target.c_str(), opts.path.c_str(), udp ? "sockets" : "conns",
      udp ? opts.sockets : opts.conns, opts.window, elapsed,
      static_cast<unsigned long long>(stats.requests()),
      static_cast<unsigned long long>(stats.responses()),
      static_cast<unsigned long long>(stats.lost()),
      elapsed > 0 ? static_cast<double>(stats.responses()) / elapsed : 0, p50, p99,
      static_cast<unsigned long long>(stats.errors()), errors.c_str(), cpu_pct, tail.c_str());
}

void print_json(const bench::Options& opts, const bench::Stats& stats, double cpu_pct) {
  const double elapsed = stats.elapsed_s();
  const coapd::LatencyHistogram& lat = stats.latency();
  const bool churn = is_churn(opts.mode);
  nlohmann::json j;
  j["mode"] = mode_name(opts.mode);
  j["target"] = opts.target;
  j["path"] = opts.path;
  j[opts.mode == bench::Mode::kUdp ? "sockets" : "conns"] =
      opts.mode == bench::Mode::kUdp ? opts.sockets : opts.conns;
  j["window"] = churn ? 1 : opts.window;
  j["duration_s"] = round1(elapsed * 100) / 100;
  j["requests"] = stats.requests();
  j["responses"] = stats.responses();
  j["lost"] = stats.lost();
  j["req_per_s"] = round1(elapsed > 0 ? static_cast<double>(stats.responses()) / elapsed : 0);
  j["p50_us"] = round1(static_cast<double>(lat.quantile(0.50)) / 1e3);
  j["p99_us"] = round1(static_cast<double>(lat.quantile(0.99)) / 1e3);
  j["max_us"] = round1(static_cast<double>(lat.max()) / 1e3);
  if (churn) {
    j["cycles"] = stats.cycles();
    j["conn_per_s"] = round1(elapsed > 0 ? static_cast<double>(stats.cycles()) / elapsed : 0);
    j["latency"] = "cycle";
  }
  if (is_secure(opts.mode)) {
    j["handshakes"] = stats.handshakes();
    j["ciphers"] = stats.ciphers();
    // The one suite every handshake negotiated, or "mixed".
    j["cipher"] = stats.ciphers().size() == 1 ? stats.ciphers().begin()->first
                  : stats.ciphers().empty()   ? ""
                                              : "mixed";
  }
  j["errors"] = stats.errors();
  j["error_kinds"] = stats.error_kinds();
  j["client_cpu_pct"] = round1(cpu_pct);
  std::printf("%s\n", j.dump().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  bench::Options opts;
  if (const int rc = parse_options(argc, argv, opts); rc >= 0) return rc;
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
  const bench::Stats stats = run(opts, target, sources);
  const double wall = static_cast<double>(bench::now_ns() - t0) / 1e9;
  const double cpu_pct = wall > 0 ? 100.0 * (cpu_seconds() - cpu0) / wall : 0.0;
  print_human(opts, stats, cpu_pct);
  if (opts.json) print_json(opts, stats, cpu_pct);
  std::fflush(stdout);
  const uint64_t done = is_churn(opts.mode) ? stats.cycles() : stats.responses();
  return done > 0 ? 0 : 1;
}
