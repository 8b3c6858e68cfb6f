// coapd's composition, and nothing else: the parts, the order they start in
// (stopped in reverse from the same list), and the shutdown state machine's
// actions. What the parts do lives in their own files.
#include "daemon/coapd/daemon.h"

#include <signal.h>
#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <sys/random.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>

#include "coap/builtin_resources.h"
#include "coap/user_resource.h"
#include "daemon/coapd/commands.h"
#include "daemon/coapd/control_server.h"
#include "daemon/coapd/daemon_support.h"
#include "daemon/coapd/engine.h"
#include "daemon/coapd/event_log.h"
#include "daemon/coapd/host_network.h"
#include "daemon/coapd/lifecycle.h"
#include "daemon/coapd/loop_poster.h"
#include "daemon/coapd/metrics_server.h"
#include "daemon/coapd/observe_commands.h"
#include "daemon/coapd/placement.h"
#include "daemon/coapd/reload.h"
#include "daemon/coapd/resource_dir.h"
#include "daemon/coapd/results.h"
#include "daemon/coapd/shutdown.h"
#include "daemon/coapd/watchdog.h"
#include "daemon/control/prometheus.h"
#include "lwip_tap/netlink.h"
#include "lwip_tap/stack.h"
#include "lwip_tap/tap_device.h"
#include "lwip_tap/tap_pump.h"
#include "lwip_tap/tcp_transport.h"
#include "lwip_tap/udp_transport.h"

namespace coapd {
namespace {

using coap::Status;

// How long sessions may take to close at shutdown before they are aborted.
constexpr std::chrono::milliseconds kShutdownLinger{2000};

class Daemon {
 public:
  Daemon(const config::Config& cfg, std::vector<std::string> argv);
  int run();

 private:
  // The start list, in order; stopping runs it backwards.
  std::vector<Lifecycle::Step> start_list();
  Status start_security();
  Status start_tap();
  bool serves_dtls() const { return security_ && security_->can_serve() && cfg_.dtls_port; }
  bool serves_tls() const { return security_ && security_->can_serve() && cfg_.tls_port; }
  Status start_stack();
  void stop_stack();
  Status start_pump();
  Status start_signals();
  void stop_signals();
  void stop_engine();

  void act(Action action);
  void serve();
  void open_session(const config::SessionConfig& s);
  coap::Result<control::ReloadResult> reload();
  void begin_linger();
  void check_linger();
  void handle(control::Command cmd, const nlohmann::json& request, Responder r);

  const config::Config& cfg_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  const std::array<uint8_t, 6> mac_;
  uv_loop_t loop_{};
  ShutdownMachine machine_;
  Watchdog watchdog_;
  std::unique_ptr<LoopPoster> poster_;
  std::unique_ptr<ControlServer> control_;
  // Engine side of the event stream; delivers to control_ on the loop.
  EventLog events_{[this](std::function<void()> fn) { poster_->post(std::move(fn)); },
                   [this](std::vector<nlohmann::json> batch) { control_->send_events(batch); }};
  lwip_tap::Stack stack_;
  coap::ResourceDirectory resources_;
  ResourceDir resource_dir_;
  Status resource_dir_loaded_;                  // load()'s outcome, reported when starting
  std::unique_ptr<ThreadPlacement> placement_;  // engine thread only, once started
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<coap::SecurityContext> security_;
  std::unique_ptr<lwip_tap::UdpTransport> udp_;
  std::unique_ptr<lwip_tap::UdpTransport> dtls_;
  std::unique_ptr<lwip_tap::TcpTransport> tcp_;
  std::unique_ptr<lwip_tap::TapDevice> tap_;
  std::unique_ptr<lwip_tap::TapPump> pump_;
  // Serves only with --metrics-listen; the stats come as `coapctl stats` gets them.
  std::unique_ptr<MetricsServer> metrics_ = std::make_unique<MetricsServer>(
      &loop_, cfg_.metrics_listen, [this](std::function<void(std::string)> done) {
        if (!commands_) return done(std::string());  // not serving yet
        collect_stats(*commands_,
                      [done](nlohmann::json stats) { done(control::format_prometheus(stats)); });
      });
  std::unique_ptr<FrameCapture> capture_;  // `coapctl capture`
  uv_signal_t sigterm_{};
  uv_signal_t sigint_{};
  uv_signal_t sighup_{};
  // For reloads: the command line coapd was started with, the session
  // entries it has now and the ids of the sessions they opened.
  const std::vector<std::string> argv_;
  std::vector<config::SessionConfig> sessions_;
  std::vector<coap::ResourceSpec> config_resources_;  // the `resource` entries now
  std::map<std::string, coap::SessionId> session_ids_;
  int zone_index_ = 0;
  // Lingering at shutdown.
  std::chrono::steady_clock::time_point linger_until_{};
  uv_timer_t linger_timer_{};
  bool linger_check_pending_ = false;
  bool linger_settled_ = false;  // all sessions gone, all sent acknowledged
  // What control commands work with; made once every part has started.
  ObserveStreams observe_streams_;  // loop thread; before commands_, which refers to it
  std::unique_ptr<CommandContext> commands_;
  Lifecycle lifecycle_;
};

Daemon::Daemon(const config::Config& cfg, std::vector<std::string> argv)
    : cfg_(cfg),
      mac_(cfg.mac ? *cfg.mac : default_mac(cfg.tap)),
      argv_(std::move(argv)),
      sessions_(cfg.sessions),
      config_resources_(cfg.resources),
      lifecycle_(start_list()) {
  uv_loop_init(&loop_);
  poster_ = std::make_unique<LoopPoster>(&loop_);
  control_ = std::make_unique<ControlServer>(&loop_, cfg_.control_socket,
                                             [this](control::Command cmd, const nlohmann::json& req,
                                                    Responder r) { handle(cmd, req, r); });
  control_->set_on_unfollow([this] { events_.unfollow(); });
  capture_ = std::make_unique<FrameCapture>(&loop_, capture_coap_ports(cfg_));
  stack_.set_frame_observer(capture_.get());
  control_->set_on_disconnect([this](uint64_t client) {
    capture_->client_gone(client);
    if (commands_) observe_client_gone(*commands_, client);
  });
  coap::BuiltinResourceOptions ropts;
  ropts.max_echo_size = 1 << 20;
  // /status is rendered on the engine thread, which may take the core lock
  // (it holds no other lock while handling requests).
  ropts.status_json = [this] {
    return snapshot(engine_->endpoint_engine(), stack_, pump_.get(), started_).encode().dump();
  };
  coap::add_builtin_resources(resources_, ropts);
  for (const coap::ResourceSpec& spec : cfg_.resources)
    resources_.add(std::make_unique<coap::UserResource>(spec, coap::ResourceSource::kConfig,
                                                        cfg_.max_resource_size));
  if (!cfg_.resource_dir.empty())
    resource_dir_loaded_ = resource_dir_.load(cfg_.resource_dir, resources_, cfg_.max_resources,
                                              cfg_.max_resource_size);
  // The loop, and so the io thread, is this thread.
  placement_ = std::make_unique<ThreadPlacement>(
      parse_cpu_placement(cfg_.cpu_placement).value_or(CpuPlacement::kAuto), gettid());
  EngineHooks hooks;
  hooks.on_event = [this](const coap::Event& e) {
    log_event(e);
    events_.record(e);
  };
  hooks.on_pass = [this](coap::TimePoint now) {
    events_.flush();
    placement_->on_pass(now, engine_->endpoint_engine().counters().datagrams_in,
                        engine_->stats_engine().items, engine_->stats_engine().wakeups);
    watchdog_.on_pass(now);
  };
  hooks.next_alive_deadline = [this] { return watchdog_.next_deadline(); };
  engine_ = std::make_unique<Engine>(endpoint_config(cfg_), resources_, stack_, std::move(hooks),
                                     random_seed());
  engine_->set_spin(std::chrono::microseconds(cfg_.busy_poll_us));
  udp_ = std::make_unique<lwip_tap::UdpTransport>(stack_, engine_->sink());
  dtls_ =
      std::make_unique<lwip_tap::UdpTransport>(stack_, engine_->sink(), coap::UdpSocket::kSecure);
  tcp_ = std::make_unique<lwip_tap::TcpTransport>(stack_, engine_->sink());
}

std::vector<Lifecycle::Step> Daemon::start_list() {
  return {
      // Last to stop: the engine's and control socket's last answers go through it.
      {"event loop", [] { return Status{}; }, [this] { poster_->close(); }},
      {"DTLS/TLS", [this] { return start_security(); }, nullptr},
      {"TAP", [this] { return start_tap(); }, [this] { tap_.reset(); }},
      {"lwIP", [this] { return start_stack(); }, [this] { stop_stack(); }},
      {"control socket", [this] { return control_->start(); }, [this] { control_->stop(); }},
      // A capture still running ends (and answers) before the socket closes.
      {"packet capture", [] { return Status{}; }, [this] { capture_->stop(); }},
      {"engine",
       [this] {
         engine_->start();
         return Status{};
       },
       [this] { stop_engine(); }},
      {"resource directory",
       [this] {
         if (!resource_dir_loaded_) return resource_dir_loaded_;
         return resource_dir_.start(&loop_, *engine_, *poster_);
       },
       [this] { resource_dir_.stop(); }},
      {"TAP pump", [this] { return start_pump(); }, [this] { pump_->stop(); }},
      {"metrics listener", [this] { return metrics_->start(); }, [this] { metrics_->stop(); }},
      {"signals", [this] { return start_signals(); }, [this] { stop_signals(); }},
  };
}

Status Daemon::start_security() {
  auto ctx = coap::SecurityContext::create(cfg_.credentials, os_random);
  if (!ctx) return std::move(ctx).take_error();
  security_ = std::move(*ctx);
  return engine_->set_security(security_.get());
}

Status Daemon::start_tap() {
  auto tap = lwip_tap::TapDevice::open(cfg_.tap);
  if (!tap) return std::move(tap).take_error();
  tap_ = std::move(*tap);
  if (!cfg_.host_address) return {};  // the kernel side is the user's
  lwip_tap::netlink::Prefix v4;
  std::copy(cfg_.host_address->addr.begin(), cfg_.host_address->addr.end(), v4.addr.begin());
  v4.len = cfg_.host_address->prefix_len;
  if (Status st = tap_->add_host_address(v4); !st) return st;
  if (cfg_.host_ipv6) {
    // Without DAD (tap_device.h): usable when coapd says it is ready.
    if (Status st = tap_->add_host_address({6, cfg_.host_ipv6->addr, cfg_.host_ipv6->prefix_len});
        !st)
      return st;
  }
  return tap_->set_up(static_cast<uint32_t>(lwip_tap::NetifOptions{}.mtu));
}

Status Daemon::start_stack() {
  lwip_tap::Stack::start_tcpip();
  lwip_tap::NetifOptions opts;
  opts.mac = mac_;
  opts.ipv4 = cfg_.address.addr;
  opts.ipv4_prefix_len = cfg_.address.prefix_len;
  opts.gateway = cfg_.gateway;
  if (cfg_.ipv6) opts.ipv6 = cfg_.ipv6->addr;
  engine_->attach(udp_.get(), dtls_.get(), tcp_.get());
  lwip_tap::CoreLock lock;
  if (Status st = stack_.add_netif(opts, *tap_); !st) return st;
  zone_index_ = netif_get_index(stack_.iface());
  if (cfg_.multicast)
    if (Status st = stack_.join_coap_groups(); !st) return st;
  if (cfg_.udp_port)
    if (Status st = udp_->bind(cfg_.udp_port); !st) return st;
  // Without a DTLS server the socket still carries coapd's coaps:// requests,
  // from an ephemeral port bound when the first one goes out.
  if (serves_dtls()) {
    if (Status st = dtls_->bind(cfg_.dtls_port); !st) return st;
  } else {
    dtls_->bind_on_first_send();
  }
  if (cfg_.tcp_port)
    if (Status st = tcp_->listen(cfg_.tcp_port, coap::ListenerKind::kServer); !st) return st;
  if (serves_tls())
    if (Status st = tcp_->listen(cfg_.tls_port, coap::ListenerKind::kSecure); !st) return st;
  if (cfg_.call_home_listen)
    return tcp_->listen(cfg_.call_home_listen, coap::ListenerKind::kCallHome);
  return {};
}

void Daemon::stop_stack() {
  // Connections still here (their sessions did not finish in time) are
  // aborted, so that their peers get RST rather than silence.
  lwip_tap::CoreLock lock;
  tcp_->close_all();
  udp_->close();
  dtls_->close();
  stack_.remove_netif();
}

Status Daemon::start_pump() {
  pump_ = std::make_unique<lwip_tap::TapPump>(&loop_, tap_->fd(), stack_, engine_->sink());
  pump_->set_max_time_wait(cfg_.max_time_wait);
  pump_->set_busy_poll(std::chrono::microseconds(cfg_.busy_poll_us));
  return pump_->start();
}

Status Daemon::start_signals() {
  uv_signal_init(&loop_, &sigterm_);
  uv_signal_init(&loop_, &sigint_);
  sigterm_.data = sigint_.data = this;
  auto on_signal = [](uv_signal_t* h, int signum) {
    spdlog::info("received {}, shutting down", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    auto* self = static_cast<Daemon*>(h->data);
    self->act(self->machine_.on(Cue::kStopRequested));
  };
  uv_signal_start(&sigterm_, on_signal, SIGTERM);
  uv_signal_start(&sigint_, on_signal, SIGINT);
  uv_signal_init(&loop_, &sighup_);
  sighup_.data = this;
  uv_signal_start(
      &sighup_,
      [](uv_signal_t* h, int) {
        spdlog::info("received SIGHUP, reloading the configuration");
        auto done = static_cast<Daemon*>(h->data)->reload();
        if (!done) spdlog::error("reload failed, nothing changed: {}", done.error());
      },
      SIGHUP);
  return {};
}

void Daemon::stop_signals() {
  // Closed, a second SIGTERM or SIGINT ends the process at once.
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&sigterm_))) return;
  uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sighup_), nullptr);
}

void Daemon::stop_engine() {
  // What is left is closed; the thread ends.
  if (!engine_->stop()) {
    // Stuck (the watchdog would have restarted it under systemd): an orderly
    // end is impossible, but an end is owed. The TAP goes with the process.
    spdlog::critical("the engine thread did not stop within 10 s; exiting at once");
    std::_Exit(1);
  }
  // Its last answers ("cancelled") reach their clients before they close.
  poster_->run_pending();
}

int Daemon::run() {
  const Status started = lifecycle_.start();
  if (!started) spdlog::critical("{}", started.error());
  act(machine_.on(started ? Cue::kStarted : Cue::kStartFailed));
  uv_run(&loop_, UV_RUN_DEFAULT);
  const int rc = uv_loop_close(&loop_);
  if (rc != 0) spdlog::warn("event loop closed with handles left: {}", uv_strerror(rc));
  if (machine_.start_failed()) return 1;
  spdlog::info("coapd stopped");
  return 0;
}

void Daemon::act(Action action) {
  switch (action) {
    case Action::kNone:
    case Action::kExit: return;  // the loop ends once every handle is closed
    case Action::kServe: return serve();
    case Action::kBeginLinger: return begin_linger();
    case Action::kStopParts: lifecycle_.stop(); return act(machine_.on(Cue::kStopped));
  }
}

void Daemon::serve() {
  commands_ = std::make_unique<CommandContext>(
      CommandContext{cfg_, *engine_, stack_, *poster_, *control_, events_, *placement_, pump_.get(),
                     started_, mac_text(mac_), zone_index_, serves_dtls(), serves_tls(), *capture_,
                     [this] { return reload(); }, observe_streams_});
  for (const auto& s : cfg_.sessions) open_session(s);
  // Ready once the engine answers: a job that has run proves its loop runs.
  engine_->post([this](coap::Endpoint&, coap::TimePoint) {
    poster_->post([this] {
      spdlog::info("{}", ready_line(cfg_, serves_dtls(), serves_tls()));
      sd_notify(0, "READY=1\nSTATUS=serving CoAP");
    });
  });
}

void Daemon::open_session(const config::SessionConfig& s) {
  auto uri = parse_client_uri(s.uri, cfg_.tap, zone_index_);
  if (!uri) return spdlog::error("session {}: {}", s.uri, uri.error());
  coap::SessionSpec spec;
  spec.peer = uri->peer;
  spec.call_home = s.call_home;
  spec.reconnect_interval = coap::from_seconds(s.reconnect_interval);
  spec.reconnect_max_interval = coap::from_seconds(s.reconnect_max_interval);
  spec.reconnect_attempts = s.reconnect_attempts;
  if (s.keepalive) spec.keepalive = coap::from_seconds(*s.keepalive);
  spec.proto = uri->is_tcp() ? coap::Proto::kTcp : coap::Proto::kUdp;
  spec.secure = uri->is_secure();
  if (s.psk_identity) spec.security.psk = coap::PskEntry{*s.psk_identity, *s.psk_key};
  spec.security.insecure = s.insecure;
  spec.security.host = uri->host;
  engine_->post([this, spec, text = s.uri](coap::Endpoint& ep, coap::TimePoint now) {
    auto opened = ep.open_session(spec, now);
    if (!opened) return spdlog::error("session {}: {}", text, opened.error());
    poster_->post([this, text, id = opened->id] { session_ids_[text] = id; });
  });
}

coap::Result<control::ReloadResult> Daemon::reload() {
  config::Config fresh;
  std::vector<const char*> argv;
  for (const std::string& a : argv_) argv.push_back(a.c_str());
  if (const config::ParseResult p =
          config::parse(static_cast<int>(argv.size()), argv.data(), fresh);
      !p.run) {
    std::string line = p.output.substr(0, p.output.find('\n'));
    if (line.rfind("coapd: ", 0) == 0) line.erase(0, 7);
    return coap::error(line);
  }
  config::Config running = cfg_;
  running.sessions = sessions_;
  running.resources = config_resources_;
  const ReloadPlan plan = plan_reload(running, fresh);
  spdlog::set_level(spdlog::level::from_str(plan.log_level));
  control::ReloadResult result{plan.log_level, {}, plan.close, plan.restart_needed};
  for (const std::string& uri : plan.close) {
    const auto it = session_ids_.find(uri);
    if (it == session_ids_.end()) continue;  // it never opened
    engine_->post(
        [id = it->second](coap::Endpoint& ep, coap::TimePoint now) { ep.close_session(id, now); });
    session_ids_.erase(it);
  }
  for (const config::SessionConfig& s : plan.open) {
    open_session(s);
    result.sessions_opened.push_back(s.uri);
  }
  sessions_ = fresh.sessions;
  describe_resource_changes(plan, result);
  engine_->post(
      [plan, max_size = fresh.max_resource_size](coap::Endpoint& ep, coap::TimePoint now) {
        apply_resource_changes(ep, plan, max_size, now);
      });
  config_resources_ = fresh.resources;
  spdlog::info(
      "reloaded: log level {}, {} session(s) opened, {} closed; {} resource(s) added, {} removed, "
      "{} changed",
      plan.log_level, plan.open.size(), plan.close.size(), result.resources_added.size(),
      result.resources_removed.size(), result.resources_changed.size());
  if (!plan.restart_needed.empty())
    spdlog::warn("reload: changed keys that need a restart: {}",
                 fmt::join(plan.restart_needed, ", "));
  return result;
}

void Daemon::begin_linger() {
  sd_notify(0, "STOPPING=1");
  stop_signals();
  // The TAP keeps being read and the engine keeps running while sessions
  // close: the peers' ACKs have to get in for Release and FIN to get out.
  {
    lwip_tap::CoreLock lock;
    tcp_->close_listeners();
  }
  engine_->post([](coap::Endpoint& ep, coap::TimePoint now) { ep.shutdown(now); });
  linger_until_ = std::chrono::steady_clock::now() + kShutdownLinger;
  uv_timer_init(&loop_, &linger_timer_);
  linger_timer_.data = this;
  uv_timer_start(
      &linger_timer_, [](uv_timer_t* t) { static_cast<Daemon*>(t->data)->check_linger(); }, 5, 10);
}

void Daemon::check_linger() {
  const bool expired = std::chrono::steady_clock::now() >= linger_until_;
  if (linger_settled_ || expired) {
    if (!linger_settled_)
      spdlog::info("shutdown: sessions still closing after {} ms; aborting them",
                   kShutdownLinger.count());
    uv_timer_stop(&linger_timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&linger_timer_), nullptr);
    return act(machine_.on(linger_settled_ ? Cue::kSettled : Cue::kLingerExpired));
  }
  if (linger_check_pending_) return;  // the last question is still with the engine
  linger_check_pending_ = true;
  engine_->post([this](coap::Endpoint& ep, coap::TimePoint now) {
    std::size_t tcp = 0;
    for (const auto& s : ep.sessions(now)) tcp += s.proto == coap::Proto::kTcp;
    poster_->post([this, tcp] {
      linger_check_pending_ = false;
      if (tcp > 0 || machine_.phase() != Phase::kLingering) return;
      // The stop runs from the timer, not here: it closes the poster, which
      // must not happen from inside one of its own callbacks.
      lwip_tap::CoreLock lock;
      linger_settled_ = stack_.tcp_unsettled() == 0;
    });
  });
}

void Daemon::handle(control::Command cmd, const nlohmann::json& request, Responder r) {
  if (machine_.phase() != Phase::kServing) return r.error("coapd is shutting down");
  handle_command(*commands_, cmd, request, r);
}

}  // namespace

int run_daemon(const config::Config& config, std::vector<std::string> argv) {
  signal(SIGPIPE, SIG_IGN);
  Daemon d(config, std::move(argv));
  return d.run();
}

}  // namespace coapd
