#include "daemon/daemon.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/random.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "coap/builtin_resources.h"
#include "coap/endpoint.h"
#include "coap/uri.h"
#include "daemon/control_protocol.h"
#include "daemon/control_server.h"
#include "daemon/engine.h"
#include "daemon/event_log.h"
#include "daemon/loop_poster.h"
#include "daemon/placement.h"
#include "daemon/status_json.h"
#include "lwip_tap/stack.h"
#include "lwip_tap/tap_device.h"
#include "lwip_tap/tap_pump.h"
#include "lwip_tap/tcp_transport.h"
#include "lwip_tap/udp_transport.h"

namespace coapd {
namespace {

using nlohmann::json;

// Longest timeout or interval a control request may ask for: a day.
constexpr double kMaxSeconds = 86400;

uint64_t random_seed() {
  uint64_t seed = 0;
  if (getrandom(&seed, sizeof seed, 0) != sizeof seed)
    seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return seed;
}

// A stable, locally administered unicast MAC derived from the TAP name, so
// that the link-local address stays the same across restarts.
std::array<uint8_t, 6> default_mac(const std::string& tap) {
  uint64_t h = 1469598103934665603ull;
  for (char c : tap) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  return {0x02, static_cast<uint8_t>(h >> 8), static_cast<uint8_t>(h >> 16),
          static_cast<uint8_t>(h >> 24), static_cast<uint8_t>(h >> 32),
          static_cast<uint8_t>(h >> 40)};
}

coap::EndpointConfig endpoint_config(const config::Config& c) {
  coap::EndpointConfig e;
  e.ack_timeout = coap::from_seconds(c.ack_timeout);
  e.ack_random_factor = c.ack_random_factor;
  e.max_retransmit = c.max_retransmit;
  e.max_udp_sessions = c.max_udp_sessions;
  e.udp_session_timeout = coap::from_seconds(c.udp_session_timeout);
  e.max_tcp_sessions = c.max_tcp_sessions;
  e.tcp_idle_timeout = coap::from_seconds(c.tcp_idle_timeout);
  e.csm_timeout = coap::from_seconds(c.csm_timeout);
  e.max_message_size = c.max_message_size;
  e.max_queued_bytes = c.max_queued_bytes;
  e.connect_timeout = coap::from_seconds(c.connect_timeout);
  return e;
}

coap::SessionSpec session_spec(const coap::Uri& uri, bool call_home, double interval,
                               double max_interval, uint32_t attempts) {
  coap::SessionSpec spec;
  spec.peer = uri.peer;
  spec.call_home = call_home;
  spec.reconnect_interval = coap::from_seconds(interval);
  spec.reconnect_max_interval = coap::from_seconds(max_interval);
  spec.reconnect_attempts = attempts;
  return spec;
}

json latency_json(const LatencyHistogram& h) {
  auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
  return {{"count", h.count()}, {"p50", us(h.quantile(0.5))}, {"p99", us(h.quantile(0.99))},
          {"max", us(h.max())}};
}

json result_json(const coap::ClientResult& r) {
  json j = {{"status", coap::client_status_name(r.status)}, {"session", r.session}};
  if (r.status == coap::ClientResult::Status::kResponse) {
    j["code"] = r.code.str();
    j["code_name"] = r.code.name();
    json opts = json::array();
    for (const auto& [number, value] : r.options) {
      const coap::OptionInfo* info = coap::find_option_info(number);
      json o = {{"number", number}, {"name", info ? info->name : std::to_string(number)}};
      if (info && info->format == coap::OptionFormat::kUint) {
        o["value"] = std::to_string(coap::decode_uint(value).value_or(0));
      } else if (info && info->format == coap::OptionFormat::kString) {
        o["value"] = std::string(value.begin(), value.end());
      } else {
        static constexpr char kHex[] = "0123456789abcdef";
        std::string hex;
        for (uint8_t b : value) {
          hex += kHex[b >> 4];
          hex += kHex[b & 15];
        }
        o["value"] = hex;
      }
      opts.push_back(std::move(o));
    }
    j["options"] = std::move(opts);
    j["payload_b64"] = control::base64_encode(r.payload);
  } else {
    j["error"] = r.error;
  }
  return j;
}

// Parses a URI with the TAP's name as the zone of link-local addresses.
std::optional<coap::Uri> parse_uri_for(const std::string& text, const std::string& tap,
                                       int zone_index, std::string* error) {
  auto uri = coap::parse_uri(text, [&](std::string_view name) {
    return name == tap ? zone_index : -1;
  });
  if (uri) return *uri;
  *error = uri.error();
  return std::nullopt;
}

class Daemon {
 public:
  explicit Daemon(const config::Config& cfg) : cfg_(cfg) {}
  int run();

 private:
  bool start_network(std::string* error);
  void handle(const std::string& cmd, const json& req, Responder r);
  void handle_request(const json& req, Responder r);
  void handle_connect(const json& req, Responder r);
  // Starts an orderly shutdown: no new connections, every session released,
  // then finish_shutdown() once what coapd sent has been acknowledged (or
  // after kShutdownLinger). Loop thread; idempotent.
  void shutdown();
  void check_linger();
  // Stops everything in reverse start order.
  void finish_shutdown();
  // Runs fn on the engine thread and answers with its result on the loop.
  void on_engine(Responder r, std::function<json(coap::Endpoint&, coap::TimePoint)> fn);

  const config::Config& cfg_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  uv_loop_t loop_{};
  std::unique_ptr<lwip_tap::TapDevice> tap_;
  lwip_tap::Stack stack_;
  coap::ResourceDirectory resources_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<lwip_tap::UdpTransport> udp_;
  std::unique_ptr<lwip_tap::TcpTransport> tcp_;
  std::unique_ptr<LoopPoster> poster_;
  std::unique_ptr<ControlServer> control_;
  // Engine side of the event stream; delivers to control_ on the loop.
  EventLog events_{[this](std::function<void()> fn) { poster_->post(std::move(fn)); },
                   [this](std::vector<json> batch) {
                     if (control_) control_->send_events(batch);
                   }};
  std::unique_ptr<lwip_tap::TapPump> pump_;
  std::unique_ptr<ThreadPlacement> placement_;  // engine thread only, after start
  uv_signal_t sigterm_{};
  uv_signal_t sigint_{};
  bool stopping_ = false;
  bool serving_ = false;  // start-up completed
  static constexpr std::chrono::milliseconds kShutdownLinger{2000};
  std::chrono::steady_clock::time_point linger_until_{};
  uv_timer_t linger_timer_{};
  bool linger_check_pending_ = false;
  bool lingering_ = false;
  bool linger_settled_ = false;  // all sessions gone, all sent acknowledged
  int zone_index_ = 0;
  std::array<uint8_t, 6> mac_{};

  // Engine thread only: systemd watchdog keep-alive.
  coap::Duration watchdog_interval_{};
  coap::TimePoint next_watchdog_ = coap::kNever;
};

bool Daemon::start_network(std::string* error) {
  tap_ = lwip_tap::TapDevice::open(cfg_.tap, error);
  if (!tap_) return false;
  // The kernel side of the link, unless told to leave it alone.
  if (cfg_.host_address) {
    if (!tap_->set_host_ipv4(cfg_.host_address->addr, cfg_.host_address->prefix_len, error))
      return false;
    if (!tap_->set_up(error)) return false;
    if (cfg_.host_ipv6 && !tap_->add_host_ipv6(cfg_.host_ipv6->addr, cfg_.host_ipv6->prefix_len, error))
      return false;
  }
  lwip_tap::Stack::start_tcpip();
  lwip_tap::NetifOptions opts;
  mac_ = cfg_.mac ? *cfg_.mac : default_mac(cfg_.tap);
  opts.mac = mac_;
  opts.ipv4 = cfg_.address.addr;
  opts.ipv4_prefix_len = cfg_.address.prefix_len;
  opts.gateway = cfg_.gateway;
  if (cfg_.ipv6) opts.ipv6 = cfg_.ipv6->addr;

  // The loop, and so the io thread, is this thread.
  placement_ = std::make_unique<ThreadPlacement>(
      parse_cpu_placement(cfg_.cpu_placement).value_or(CpuPlacement::kAuto), gettid());
  EngineHooks hooks;
  hooks.on_event = [this](const coap::Event& e) {
    if (spdlog::should_log(spdlog::level::info)) {
      spdlog::info("event {} session={} peer={}{}{}", e.name(), e.session,
                   e.peer.family == coap::Address::Family::kNone ? "-" : e.peer.to_string(),
                   e.reason.empty() ? "" : " reason=" + e.reason,
                   e.attempt ? " attempt=" + std::to_string(e.attempt) : "");
    }
    events_.record(e);
  };
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_interval_ = std::chrono::microseconds(usec / 2);
    next_watchdog_ = coap::Clock::now();
  }
  hooks.on_pass = [this](coap::TimePoint now) {
    events_.flush();
    placement_->on_pass(now, engine_->endpoint_engine().counters().datagrams_in,
                        engine_->stats_engine().items);
    if (now < next_watchdog_) return;
    sd_notify(0, "WATCHDOG=1");  // only a running engine thread gets here
    next_watchdog_ = now + watchdog_interval_;
  };
  hooks.next_alive_deadline = [this](coap::TimePoint) { return next_watchdog_; };

  engine_ = std::make_unique<Engine>(endpoint_config(cfg_), resources_, stack_, std::move(hooks),
                                     random_seed());
  udp_ = std::make_unique<lwip_tap::UdpTransport>(stack_, *engine_);
  tcp_ = std::make_unique<lwip_tap::TcpTransport>(stack_, *engine_);
  {
    lwip_tap::CoreLock lock;
    if (!stack_.add_netif(opts, *tap_, error)) return false;
    zone_index_ = netif_get_index(stack_.iface());
    if (cfg_.udp_port && !udp_->bind(cfg_.udp_port, error)) return false;
    if (cfg_.tcp_port && !tcp_->listen(cfg_.tcp_port, coap::ListenerKind::kServer, error))
      return false;
    if (cfg_.call_home_listen &&
        !tcp_->listen(cfg_.call_home_listen, coap::ListenerKind::kCallHome, error))
      return false;
  }
  engine_->attach(udp_.get(), tcp_.get());
  return true;
}

int Daemon::run() {
  uv_loop_init(&loop_);
  poster_ = std::make_unique<LoopPoster>(&loop_);

  coap::BuiltinResourceOptions ropts;
  ropts.max_echo_size = 1 << 20;
  // /status is rendered on the engine thread, which may take the core lock
  // (it holds no other lock while handling requests).
  ropts.status_json = [this] {
    return status_json(engine_->endpoint_engine(), stack_, pump_.get(), started_).dump();
  };
  coap::add_builtin_resources(resources_, ropts);

  std::string error;
  bool ok = start_network(&error);
  if (ok) {
    // Everything the engine thread may read exists before it starts.
    pump_ = std::make_unique<lwip_tap::TapPump>(
        &loop_, tap_->fd(), stack_, [] { Engine::begin_input_batch(); },
        [this] { engine_->end_input_batch(); });
    pump_->set_max_time_wait(cfg_.max_time_wait);
    engine_->start();
    control_ = std::make_unique<ControlServer>(
        &loop_, cfg_.control_socket,
        [this](const std::string& cmd, const json& req, Responder r) { handle(cmd, req, r); });
    control_->set_on_unfollow([this] { events_.unfollow(); });
    ok = control_->start(&error);
  }
  if (ok) ok = pump_->start(&error);
  serving_ = ok;
  if (!ok) {
    spdlog::critical("{}", error);
    shutdown();
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    return 1;
  }

  uv_signal_init(&loop_, &sigterm_);
  uv_signal_init(&loop_, &sigint_);
  sigterm_.data = sigint_.data = this;
  auto on_signal = [](uv_signal_t* h, int signum) {
    spdlog::info("received {}, shutting down", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    static_cast<Daemon*>(h->data)->shutdown();
  };
  uv_signal_start(&sigterm_, on_signal, SIGTERM);
  uv_signal_start(&sigint_, on_signal, SIGINT);

  for (const auto& s : cfg_.sessions) {
    std::string err;
    auto uri = parse_uri_for(s.uri, cfg_.tap, zone_index_, &err);
    if (!uri) {
      spdlog::error("session {}: {}", s.uri, err);
      continue;
    }
    const coap::SessionSpec spec = session_spec(*uri, s.call_home, s.reconnect_interval,
                                                s.reconnect_max_interval, s.reconnect_attempts);
    engine_->post([spec, uri = s.uri](coap::Endpoint& ep, coap::TimePoint now) {
      auto opened = ep.open_session(spec, now);
      if (!opened) spdlog::error("session {}: {}", uri, opened.error());
    });
  }

  // Ready once the engine answers: a job that has run proves its loop runs.
  engine_->post([this](coap::Endpoint&, coap::TimePoint) {
    poster_->post([this] {
      spdlog::info("coapd ready: TAP {} up, CoAP on {} (udp {}, tcp {}{}), control socket {}",
                   cfg_.tap, cfg_.address.str(), cfg_.udp_port, cfg_.tcp_port,
                   cfg_.call_home_listen ? ", call-home " + std::to_string(cfg_.call_home_listen) : "",
                   cfg_.control_socket);
      sd_notify(0, "READY=1\nSTATUS=serving CoAP");
    });
  });

  uv_run(&loop_, UV_RUN_DEFAULT);
  const int rc = uv_loop_close(&loop_);
  if (rc != 0) spdlog::warn("event loop closed with handles left: {}", uv_strerror(rc));
  spdlog::info("coapd stopped");
  return 0;
}

void Daemon::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  sd_notify(0, "STOPPING=1");
  // A second SIGTERM or SIGINT now ends the process at once.
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(&sigterm_))) {
    uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
  }
  if (!serving_) return finish_shutdown();
  // The TAP keeps being read and the engine keeps running while sessions
  // close: the peers' ACKs have to get in for Release and FIN to get out.
  {
    lwip_tap::CoreLock lock;
    tcp_->close_listeners();
  }
  engine_->post([](coap::Endpoint& ep, coap::TimePoint now) { ep.shutdown(now); });
  linger_until_ = std::chrono::steady_clock::now() + kShutdownLinger;
  lingering_ = true;
  uv_timer_init(&loop_, &linger_timer_);
  linger_timer_.data = this;
  uv_timer_start(
      &linger_timer_, [](uv_timer_t* t) { static_cast<Daemon*>(t->data)->check_linger(); }, 5, 10);
}

void Daemon::check_linger() {
  const auto finish = [this] {
    if (!lingering_) return;  // an answer that arrived after the end
    lingering_ = false;
    uv_timer_stop(&linger_timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&linger_timer_), nullptr);
    finish_shutdown();
  };
  if (linger_settled_) return finish();
  if (std::chrono::steady_clock::now() >= linger_until_) {
    spdlog::info("shutdown: sessions still closing after {} ms; aborting them",
                 kShutdownLinger.count());
    return finish();
  }
  if (linger_check_pending_) return;  // the last question is still with the engine
  linger_check_pending_ = true;
  engine_->post([this](coap::Endpoint& ep, coap::TimePoint now) {
    std::size_t tcp = 0;
    for (const auto& s : ep.sessions(now)) tcp += s.proto == coap::Proto::kTcp;
    poster_->post([this, tcp] {
      linger_check_pending_ = false;
      if (tcp > 0 || !lingering_) return;
      // Finished by the timer, not here: finish_shutdown() closes the poster,
      // which must not happen from inside one of its own callbacks.
      lwip_tap::CoreLock lock;
      linger_settled_ = stack_.tcp_unsettled() == 0;
    });
  });
}

void Daemon::finish_shutdown() {
  if (pump_) pump_->stop();
  // What is left is closed (a start-up failure: everything); the thread
  // ends. Connections that could not finish are aborted below.
  if (engine_ && !engine_->stop()) {
    // Stuck (the watchdog would have restarted it under systemd): an orderly
    // end is impossible, but an end is owed. The TAP goes with the process.
    spdlog::critical("the engine thread did not stop within 10 s; exiting at once");
    std::_Exit(1);
  }
  if (tcp_ || udp_) {
    lwip_tap::CoreLock lock;
    if (tcp_) tcp_->close_all();
    if (udp_) udp_->close();
    stack_.remove_netif();
  }
  // The answers the engine posted last ("cancelled") reach their clients,
  // whose connections are then shut down after the writes.
  poster_->close();
  if (control_) control_->stop();
  // The TAP goes away when its fd closes, in the destructor.
}

void Daemon::on_engine(Responder r, std::function<json(coap::Endpoint&, coap::TimePoint)> fn) {
  engine_->post([this, r, fn = std::move(fn)](coap::Endpoint& ep, coap::TimePoint now) {
    json result = fn(ep, now);
    poster_->post([r, result = std::move(result)]() mutable { r.ok(std::move(result)); });
  });
}

void Daemon::handle(const std::string& cmd, const json& req, Responder r) {
  if (stopping_) return r.error("coapd is shutting down");
  if (cmd == "status") {
    return on_engine(r, [this](coap::Endpoint& ep, coap::TimePoint) {
      json j = status_json(ep, stack_, pump_.get(), started_);
      j["tap"] = cfg_.tap;
      char mac[18];
      std::snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", mac_[0], mac_[1], mac_[2],
                    mac_[3], mac_[4], mac_[5]);
      j["mac"] = mac;
      json addrs = json::array();
      {
        lwip_tap::CoreLock lock;  // the engine thread holds no other lock here
        for (const auto& a : stack_.addresses(cfg_.tap))
          addrs.push_back({{"address", a.address}, {"state", a.state}});
      }
      j["addresses"] = std::move(addrs);
      j["udp_port"] = cfg_.udp_port;
      j["tcp_port"] = cfg_.tcp_port;
      j["call_home_port"] = cfg_.call_home_listen;
      j["control_socket"] = cfg_.control_socket;
      j["engine"] = {{"alive", true}, {"wakeups", engine_->wakeups()}};
      return j;
    });
  }
  if (cmd == "stats") {
    return on_engine(r, [this](coap::Endpoint& ep, coap::TimePoint) {
      json j = status_json(ep, stack_, pump_.get(), started_);
      const EngineStats& es = engine_->stats_engine();
      j["engine"] = {{"wakeups", es.wakeups},
                     {"udp_dropped", es.udp_dropped},
                     {"cpu_placement", placement_->shared() ? "shared" : "spread"},
                     {"cpu_placement_changes", placement_->changes()},
                     {"items", es.items},
                     {"flushes", es.flushes},
                     {"tap_batches", pump_ ? pump_->rx_batches() : 0},
                     {"tcp_wake_latency_us", latency_json(es.tcp_wake_ns)},
                     {"udp_wake_latency_us", latency_json(es.udp_wake_ns)}};
      return j;
    });
  }
  if (cmd == "sessions") {
    return on_engine(r, [](coap::Endpoint& ep, coap::TimePoint now) {
      return json{{"sessions", sessions_json(ep, now)}};
    });
  }
  if (cmd == "events") {
    const bool follow = control::bool_field(req, "follow", false);
    engine_->post([this, r, follow](coap::Endpoint&, coap::TimePoint) {
      json list = events_.history(follow);
      poster_->post([this, r, follow, list = std::move(list)]() mutable {
        // Following first: a client that already half-closed stays open
        // for the events rather than being finished by the reply.
        if (follow) control_->follow(r.client());
        r.ok({{"events", std::move(list)}});
      });
    });
    return;
  }
  if (cmd == "request") return handle_request(req, r);
  if (cmd == "connect") return handle_connect(req, r);
  if (cmd == "close") {
    if (!req.contains("session")) return r.error("close needs a session id");
    const coap::SessionId id = control::uint_field(req, "session", 0, UINT64_MAX);
    engine_->post([this, r, id](coap::Endpoint& ep, coap::TimePoint now) {
      const bool found = ep.close_session(id, now);
      poster_->post([r, found, id] {
        if (found) {
          r.ok(json::object());
        } else {
          r.error("no session " + std::to_string(id));
        }
      });
    });
    return;
  }
  if (cmd == "debug_stall") {
    if (!cfg_.debug_commands)
      return r.error("debug commands are disabled (start coapd with --debug-commands)");
    const double seconds = control::number_field(req, "seconds", 1.0, 0, 3600);
    spdlog::warn("debug: stalling the engine thread for {} s on request", seconds);
    return on_engine(r, [seconds](coap::Endpoint&, coap::TimePoint) {
      std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
      return json::object();
    });
  }
  if (cmd == "debug_timer_probe") {
    if (!cfg_.debug_commands)
      return r.error("debug commands are disabled (start coapd with --debug-commands)");
    const double interval_ms = control::number_field(req, "interval_ms", 50.0, 0.001, 60000);
    const int count = static_cast<int>(control::uint_field(req, "count", 100, 100000));
    if (count == 0) return r.error("debug_timer_probe needs at least one timer");
    engine_->post_timer_probe(
        std::chrono::duration_cast<coap::Duration>(std::chrono::duration<double, std::milli>(interval_ms)),
        count, [this, r](TimerProbeResult res) {
          LatencyHistogram h;
          int64_t early = 0;
          for (int64_t ns : res.lateness_ns) {
            if (ns < 0) ++early;
            h.record(static_cast<uint64_t>(std::max<int64_t>(ns, 0)));
          }
          json j = {{"interval_ms", coap::to_seconds(res.interval) * 1000.0},
                    {"count", res.lateness_ns.size()},
                    {"early", early},
                    {"lateness_us", latency_json(h)},
                    {"min_lateness_us", static_cast<double>(h.min()) / 1000.0}};
          poster_->post([r, j = std::move(j)]() mutable { r.ok(std::move(j)); });
        });
    return;
  }
  r.error("unknown command '" + cmd + "'");
}

void Daemon::handle_request(const json& req, Responder r) {
  coap::ClientRequest creq;
  const std::string method = control::string_field(req, "method", "GET");
  creq.method = coap::method_from_name(method);
  if (creq.method.is_empty()) return r.error("unknown method '" + method + "'");
  std::string err;
  auto uri = parse_uri_for(control::string_field(req, "uri", ""), cfg_.tap, zone_index_, &err);
  if (!uri) return r.error(err);
  creq.uri = *uri;
  if (req.contains("payload_b64")) {
    auto payload = control::base64_decode(control::string_field(req, "payload_b64", ""));
    if (!payload) return r.error("payload_b64 is not valid base64");
    creq.payload = std::move(*payload);
  }
  if (req.contains("content_format"))
    creq.content_format = static_cast<uint32_t>(control::uint_field(req, "content_format", 0, 65535));
  if (req.contains("accept"))
    creq.accept = static_cast<uint32_t>(control::uint_field(req, "accept", 0, 65535));
  const double timeout = control::number_field(req, "timeout", 30.0, 0.001, kMaxSeconds);
  creq.timeout = coap::from_seconds(timeout);
  creq.session = control::uint_field(req, "session", 0, UINT64_MAX);
  engine_->post_request(std::move(creq), [this, r](coap::ClientResult result) {
    json j = result_json(result);
    poster_->post([r, j = std::move(j)]() mutable { r.ok(std::move(j)); });
  });
}

void Daemon::handle_connect(const json& req, Responder r) {
  std::string err;
  auto uri = parse_uri_for(control::string_field(req, "uri", ""), cfg_.tap, zone_index_, &err);
  if (!uri) return r.error(err);
  if (!uri->is_tcp()) return r.error("connect needs a coap+tcp:// URI (sessions are CoAP over TCP)");
  const double interval = control::number_field(req, "reconnect_interval", 1.0, 0.001, kMaxSeconds);
  const double max_interval =
      control::number_field(req, "reconnect_max_interval", 0.0, 0, kMaxSeconds);
  const auto attempts = static_cast<uint32_t>(control::uint_field(req, "reconnect_attempts", 0, UINT32_MAX));
  const coap::SessionSpec spec = session_spec(*uri, control::bool_field(req, "call_home", false),
                                              interval, max_interval, attempts);
  engine_->post([this, r, spec](coap::Endpoint& ep, coap::TimePoint now) {
    auto opened = ep.open_session(spec, now);
    poster_->post([r, opened = std::move(opened)] {
      if (opened) {
        r.ok({{"session", opened->id}, {"existing", opened->existed}});
      } else {
        r.error(opened.error());
      }
    });
  });
}

}  // namespace

int run_daemon(const config::Config& config) {
  signal(SIGPIPE, SIG_IGN);
  Daemon d(config);
  return d.run();
}

}  // namespace coapd
