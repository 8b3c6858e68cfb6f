#include "daemon/coapd/commands.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "coap/block.h"
#include "coap/code.h"
#include "coap/option.h"
#include "coap/uri.h"
#include "daemon/coapd/latency_histogram.h"
#include "daemon/coapd/observe_commands.h"
#include "daemon/coapd/resource_commands.h"
#include "daemon/coapd/results.h"
#include "daemon/control/messages.h"
#include "daemon/control/messages_discover.h"

namespace coapd {
namespace {

using control::Command;
using nlohmann::json;

// Runs fn on the engine thread and calls done with its result on the loop.
template <typename Fn>
void on_engine_then(CommandContext& ctx, std::function<void(json)> done, Fn fn) {
  LoopPoster& poster = ctx.poster;
  ctx.engine.post([&poster, done = std::move(done), fn = std::move(fn)](coap::Endpoint& ep,
                                                                        coap::TimePoint now) {
    json result = fn(ep, now);
    poster.post([done, result = std::move(result)]() mutable { done(std::move(result)); });
  });
}

// Runs fn on the engine thread and answers with its result on the loop.
template <typename Fn>
void on_engine(CommandContext& ctx, Responder r, Fn fn) {
  on_engine_then(
      ctx, [r](json result) { r.ok(std::move(result)); }, std::move(fn));
}

// Decodes the arguments of T, answering with the error when they are bad.
template <typename T>
std::optional<T> arguments(const json& request, const Responder& r) {
  coap::Result<T> args = T::decode(request);
  if (args) return std::move(*args);
  r.error("malformed request: " + args.error());
  return std::nullopt;
}

coap::Result<coap::Uri> client_uri(const CommandContext& ctx, const std::string& text) {
  return parse_client_uri(text, ctx.cfg.tap, ctx.zone_index);
}

coap::ClientSecurity client_security(const control::SecurityArgs& a, const coap::Uri& uri) {
  coap::ClientSecurity s;
  if (a.psk_identity)
    s.psk = coap::PskEntry{*a.psk_identity, a.psk_key.value_or(std::vector<uint8_t>{})};
  s.cert_pem = a.cert_pem;
  s.key_pem = a.key_pem;
  s.ca_pem = a.ca_pem;
  s.insecure = a.insecure;
  s.host = uri.host;
  return s;
}

// Prometheus buckets (microseconds), for `coapctl stats --prometheus`.
constexpr std::array<uint64_t, 12> kBucketsUs = {10,   25,   50,    100,   250,    500,
                                                 1000, 2500, 10000, 25000, 100000, 1000000};

control::LatencySummary latency(const LatencyHistogram& h) {
  auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
  control::LatencySummary s{h.count(),   us(h.quantile(0.5)), us(h.quantile(0.99)),
                            us(h.max()), us(h.sum()),         {}};
  for (uint64_t le : kBucketsUs)
    s.buckets.emplace_back(static_cast<double>(le), h.count_at_most(le * 1000));
  return s;
}

void handle_status(CommandContext& ctx, const json&, Responder r) {
  on_engine(ctx, r, [&ctx](coap::Endpoint& ep, coap::TimePoint) {
    control::StatusResult s;
    s.snapshot = snapshot(ep, ctx.stack, ctx.pump, ctx.started);
    s.tap = ctx.cfg.tap;
    s.mac = ctx.mac;
    {
      lwip_tap::CoreLock lock;  // the engine thread holds no other lock here
      for (const auto& a : ctx.stack.addresses(ctx.cfg.tap))
        s.addresses.push_back({a.address, a.state});
    }
    s.host_address = ctx.cfg.host_address ? ctx.cfg.host_address->str() : "none";
    s.address_note = ctx.cfg.address_note;
    s.udp_port = ctx.cfg.udp_port;
    s.tcp_port = ctx.cfg.tcp_port;
    s.call_home_port = ctx.cfg.call_home_listen;
    s.dtls_port = ctx.cfg.dtls_port;
    s.tls_port = ctx.cfg.tls_port;
    s.dtls_on = ctx.dtls_on;
    s.tls_on = ctx.tls_on;
    s.control_socket = ctx.cfg.control_socket;
    s.engine_alive = true;
    s.engine_wakeups = ctx.engine.wakeups();
    return s.encode();
  });
}

void handle_stats(CommandContext& ctx, const json&, Responder r) {
  collect_stats(ctx, [r](json stats) { r.ok(std::move(stats)); });
}
void handle_sessions(CommandContext& ctx, const json&, Responder r) {
  on_engine(ctx, r, [](coap::Endpoint& ep, coap::TimePoint now) {
    return sessions_result(ep, now).encode();
  });
}

void handle_events(CommandContext& ctx, const json& request, Responder r) {
  auto args = arguments<control::EventsArgs>(request, r);
  if (!args) return;
  const bool follow = args->follow;
  ctx.engine.post([&ctx, r, follow](coap::Endpoint&, coap::TimePoint) {
    json list = ctx.events.history(follow);
    ctx.poster.post([&ctx, r, follow, list = std::move(list)]() mutable {
      // Following first: a client that already half-closed stays open for
      // the events rather than being finished by the reply.
      if (follow) ctx.control.follow(r.client());
      r.ok({{"events", std::move(list)}});
    });
  });
}

void handle_request(CommandContext& ctx, const json& request, Responder r) {
  auto args = arguments<control::RequestArgs>(request, r);
  if (!args) return;
  coap::Result<coap::ClientRequest> creq = client_request(ctx, std::move(*args));
  if (!creq) return r.error(creq.error());
  LoopPoster& poster = ctx.poster;
  ctx.engine.post_request(std::move(*creq), [&poster, r](coap::ClientResult result) {
    json j = request_result(result).encode();
    poster.post([r, j = std::move(j)]() mutable { r.ok(std::move(j)); });
  });
}

void handle_connect(CommandContext& ctx, const json& request, Responder r) {
  auto args = arguments<control::ConnectArgs>(request, r);
  if (!args) return;
  coap::Result<coap::Uri> uri = client_uri(ctx, args->uri);
  if (!uri) return r.error(uri.error());
  if (!uri->is_tcp() && !uri->is_secure())
    return r.error(
        "connect needs a coap+tcp://, coaps+tcp:// or coaps:// URI (plain UDP has no session to "
        "keep up)");
  coap::SessionSpec spec;
  spec.peer = uri->peer;
  spec.proto = uri->is_tcp() ? coap::Proto::kTcp : coap::Proto::kUdp;
  spec.call_home = args->call_home;
  spec.reconnect_interval = coap::from_seconds(args->reconnect_interval.value_or(1.0));
  spec.reconnect_max_interval = coap::from_seconds(args->reconnect_max_interval.value_or(0.0));
  spec.reconnect_attempts = args->reconnect_attempts.value_or(0);
  if (args->keepalive) spec.keepalive = coap::from_seconds(*args->keepalive);
  spec.secure = uri->is_secure();
  spec.security = client_security(args->security, *uri);
  LoopPoster& poster = ctx.poster;
  ctx.engine.post([&poster, r, spec](coap::Endpoint& ep, coap::TimePoint now) {
    auto opened = ep.open_session(spec, now);
    poster.post([r, opened = std::move(opened)] {
      if (!opened) return r.error(opened.error());
      r.ok(control::ConnectResult{opened->id, opened->existed}.encode());
    });
  });
}

void handle_close(CommandContext& ctx, const json& request, Responder r) {
  auto args = arguments<control::CloseArgs>(request, r);
  if (!args) return;
  const coap::SessionId id = args->session;
  LoopPoster& poster = ctx.poster;
  ctx.engine.post([&poster, r, id](coap::Endpoint& ep, coap::TimePoint now) {
    const bool found = ep.close_session(id, now);
    poster.post([r, found, id] {
      if (!found) return r.error("no session " + std::to_string(id));
      r.ok(json::object());
    });
  });
}

// spdlog's name for a level, as the options spell it ("warn", not "warning").
std::string level_name(spdlog::level::level_enum l) {
  return l == spdlog::level::warn ? "warn" : std::string(spdlog::level::to_string_view(l).data());
}

void handle_log_level(CommandContext&, const json& request, Responder r) {
  auto args = arguments<control::LogLevelArgs>(request, r);
  if (!args) return;
  static constexpr std::array<const char*, 7> kLevels = {"trace", "debug",    "info", "warn",
                                                         "error", "critical", "off"};
  if (std::find(kLevels.begin(), kLevels.end(), args->level) == kLevels.end())
    return r.error("'" + args->level +
                   "' is not a log level (trace, debug, info, warn, error, critical, off)");
  const std::string previous = level_name(spdlog::get_level());
  spdlog::set_level(spdlog::level::from_str(args->level));
  spdlog::info("log level {} (was {})", args->level, previous);
  r.ok(control::LogLevelResult{args->level, previous}.encode());
}

void handle_reload(CommandContext& ctx, const json&, Responder r) {
  auto result = ctx.reload();
  if (!result) return r.error(result.error());
  r.ok(result->encode());
}

void handle_capture(CommandContext& ctx, const json& request, Responder r) {
  auto args = arguments<control::CaptureArgs>(request, r);
  if (!args) return;
  FrameCapture::Request req{args->file,
                            args->count,
                            args->duration,
                            *capture_filter(args->filter),  // checked by decode
                            r.uid(),
                            r.client()};
  if (coap::Status st =
          ctx.capture.start(req, [r](const control::CaptureResult& res) { r.ok(res.encode()); });
      !st)
    r.error(st.error());
}

void handle_capture_stop(CommandContext& ctx, const json&, Responder r) {
  auto result = ctx.capture.stop();
  if (!result) return r.error("no capture is running");
  r.ok(result->encode());
}

void handle_discover(CommandContext& ctx, const json& request, Responder r) {
  auto args = arguments<control::DiscoverArgs>(request, r);
  if (!args) return;
  const std::string& tap = ctx.cfg.tap;
  const int zone = ctx.zone_index;
  std::optional<coap::Address> group = coap::Address::parse_ip(
      args->group, 5683, [&](std::string_view z) { return z == tap ? zone : -1; });
  if (!group || !group->is_multicast())
    return r.error("'" + args->group + "' is not a multicast group address");
  // ff02::fd and the like are link-scoped: coapd's link is the TAP.
  if (group->is_v6() && (group->ip[1] & 0x0f) == 2 && !group->zone)
    group->zone = static_cast<uint8_t>(zone);
  LoopPoster& poster = ctx.poster;
  const auto wait =
      std::chrono::duration_cast<coap::Duration>(std::chrono::duration<double>(args->wait));
  ctx.engine.post([&poster, r, g = *group, wait](coap::Endpoint& ep, coap::TimePoint now) {
    const bool started = ep.start_discovery(g, wait, now, [&poster, r](auto nodes) {
      control::DiscoverResult out;
      for (const coap::DiscoveredNode& n : nodes)
        out.nodes.push_back({n.from.to_string(), n.links});
      poster.post([r, j = out.encode()]() mutable { r.ok(std::move(j)); });
    });
    if (!started) poster.post([r] { r.error("too many discoveries running at once"); });
  });
}

bool debug_allowed(const CommandContext& ctx, const Responder& r) {
  if (ctx.cfg.debug_commands) return true;
  r.error("debug commands are disabled (start coapd with --debug-commands)");
  return false;
}

void handle_debug_stall(CommandContext& ctx, const json& request, Responder r) {
  if (!debug_allowed(ctx, r)) return;
  auto args = arguments<control::DebugStallArgs>(request, r);
  if (!args) return;
  const double seconds = args->seconds;
  spdlog::warn("debug: stalling the engine thread for {} s on request", seconds);
  on_engine(ctx, r, [seconds](coap::Endpoint&, coap::TimePoint) {
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    return json::object();
  });
}

void handle_debug_timer_probe(CommandContext& ctx, const json& request, Responder r) {
  if (!debug_allowed(ctx, r)) return;
  auto args = arguments<control::TimerProbeArgs>(request, r);
  if (!args) return;
  const auto interval = std::chrono::duration_cast<coap::Duration>(
      std::chrono::duration<double, std::milli>(args->interval_ms));
  LoopPoster& poster = ctx.poster;
  ctx.engine.post_timer_probe(
      interval, static_cast<int>(args->count), [&poster, r](TimerProbeResult res) {
        control::TimerProbeResult out = summarize(res);
        poster.post([r, j = out.encode()]() mutable { r.ok(std::move(j)); });
      });
}

// A line for the audit log: what a state-changing command asked for.
std::string describe(Command cmd, const json& request) {
  std::string text = control::command_name(cmd);
  for (const char* key : {"method", "uri", "session", "call_home", "path"}) {
    auto it = request.find(key);
    if (it != request.end()) text += std::string(" ") + key + "=" + it->dump();
  }
  return text;
}

constexpr std::array<CommandEntry, control::kCommandCount> kCommands = {{
    {Command::kStatus, handle_status, false},
    {Command::kStats, handle_stats, false},
    {Command::kSessions, handle_sessions, false},
    {Command::kEvents, handle_events, false},
    {Command::kRequest, handle_request, true},
    {Command::kConnect, handle_connect, true},
    {Command::kClose, handle_close, true},
    {Command::kResourceList, handle_resource_list, false},
    {Command::kResourceAdd, handle_resource_add, true},
    {Command::kResourceSet, handle_resource_set, true},
    {Command::kResourceDelete, handle_resource_delete, true},
    {Command::kLogLevel, handle_log_level, true},
    {Command::kReload, handle_reload, true},
    {Command::kCapture, handle_capture, true},
    {Command::kCaptureStop, handle_capture_stop, true},
    {Command::kObserve, handle_observe, true},
    {Command::kObserveCancel, handle_observe_cancel, true},
    {Command::kObservations, handle_observations, false},
    {Command::kDiscover, handle_discover, false},
    {Command::kDebugStall, handle_debug_stall, true},
    {Command::kDebugTimerProbe, handle_debug_timer_probe, false},
}};

}  // namespace

coap::Result<coap::ClientRequest> client_request(const CommandContext& ctx,
                                                 control::RequestArgs args) {
  coap::ClientRequest creq;
  creq.method = coap::method_from_name(args.method);
  if (creq.method.is_empty()) return coap::error("unknown method '", args.method, "'");
  coap::Result<coap::Uri> uri = client_uri(ctx, args.uri);
  if (!uri) return std::move(uri).take_error();
  creq.security = client_security(args.security, *uri);
  creq.uri = std::move(*uri);
  if (args.payload) creq.payload = std::move(*args.payload);
  creq.content_format = args.content_format;
  creq.accept = args.accept;
  creq.timeout = coap::from_seconds(args.timeout);
  creq.session = args.session.value_or(0);
  creq.confirmable = !args.non;
  for (control::RequestOption& o : args.options) {
    if (o.number == coap::opt::kBlock1 || o.number == coap::opt::kBlock2 ||
        o.number == coap::opt::kSize1)
      return coap::error("option ", std::to_string(o.number),
                         " is coapd's own to set for block-wise transfers (use block_size)");
    creq.options.emplace_back(o.number, std::move(o.value));
  }
  if (args.token) creq.token = coap::Token::from(*args.token);
  if (args.block_size && *args.block_size > 1024) {
    if (!creq.uri.is_tcp())
      return coap::error("block_size ", std::to_string(*args.block_size),
                         " is BERT (above 1024), which is CoAP over TCP only (RFC 8323 6): use "
                         "a coap+tcp:// or coaps+tcp:// URI or at most 1024");
    creq.block_szx = 7;
    creq.bert_bytes = *args.block_size;
  } else if (args.block_size) {
    creq.block_szx = coap::szx_for(*args.block_size);
  }
  return creq;
}

void collect_stats(CommandContext& ctx, std::function<void(nlohmann::json)> done) {
  on_engine_then(ctx, std::move(done), [&ctx](coap::Endpoint& ep, coap::TimePoint) {
    control::StatsResult s;
    s.snapshot = snapshot(ep, ctx.stack, ctx.pump, ctx.started);
    const EngineStats& es = ctx.engine.stats_engine();
    control::StatsResult::Engine& e = s.engine;
    e.wakeups = es.wakeups;
    e.udp_dropped = es.udp_dropped;
    e.cpu_placement = ctx.placement.shared() ? "shared" : "spread";
    e.cpu_placement_changes = ctx.placement.changes();
    e.items = es.items;
    e.flushes = es.flushes;
    e.tap_batches = ctx.pump ? ctx.pump->rx_batches() : 0;
    e.tap_polled_batches = ctx.pump ? ctx.pump->rx_polled_batches() : 0;
    e.tcp_wake_latency_us = latency(es.tcp_wake_ns);
    e.udp_wake_latency_us = latency(es.udp_wake_ns);
    return s.encode();
  });
}

const std::array<CommandEntry, control::kCommandCount>& command_table() { return kCommands; }

coap::Result<coap::Uri> parse_client_uri(const std::string& text, const std::string& tap,
                                         int zone_index) {
  return coap::parse_uri(text,
                         [&](std::string_view name) { return name == tap ? zone_index : -1; });
}

void handle_command(CommandContext& ctx, Command cmd, const json& request, Responder r) {
  const CommandEntry& entry = kCommands[static_cast<std::size_t>(cmd)];
  if (entry.changes_state)
    spdlog::info("control: uid {}: {}", static_cast<long>(r.uid()), describe(cmd, request));
  entry.handler(ctx, request, r);
}

}  // namespace coapd
