// coapd's control commands: a table from control::Command to its handler.
// Handlers run on the loop thread; what needs the endpoint runs on the
// engine thread (Engine::post) and answers through the loop (LoopPoster).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "coap/endpoint_types.h"
#include "coap/uri.h"
#include "config/config.h"
#include "daemon/coapd/capture.h"
#include "daemon/coapd/control_server.h"
#include "daemon/coapd/engine.h"
#include "daemon/coapd/event_log.h"
#include "daemon/coapd/loop_poster.h"
#include "daemon/coapd/placement.h"
#include "daemon/control/messages.h"
#include "daemon/control/protocol.h"
#include "lwip_tap/stack.h"
#include "lwip_tap/tap_pump.h"

namespace coapd {

// The parts of the daemon a command may use. Loop thread.
struct ObserveStreams;

struct CommandContext {
  const config::Config& cfg;
  Engine& engine;
  lwip_tap::Stack& stack;
  LoopPoster& poster;
  ControlServer& control;
  EventLog& events;
  const ThreadPlacement& placement;
  const lwip_tap::TapPump* pump;  // null until the pump started
  std::chrono::steady_clock::time_point started;
  std::string mac;        // "02:..", for status
  int zone_index = 0;     // the netif's index: the zone of link-local URIs
  bool dtls_on = false;   // the DTLS server runs
  bool tls_on = false;    // the TLS listener runs
  FrameCapture& capture;  // `coapctl capture`
  // Re-reads the configuration and applies what can change (reload.h).
  std::function<coap::Result<control::ReloadResult>()> reload;
  // The observations control clients started (observe_commands.h).
  ObserveStreams& observe_streams;
};

using CommandHandler = void (*)(CommandContext& ctx, const nlohmann::json& request,
                                Responder responder);

struct CommandEntry {
  control::Command command;
  CommandHandler handler;
  bool changes_state;  // logged with the caller's uid (audit)
};

// One entry per command, in control::Command order.
const std::array<CommandEntry, control::kCommandCount>& command_table();

// A URI a user gave (control request, config file), with the TAP's name as
// the zone of link-local addresses.
coap::Result<coap::Uri> parse_client_uri(const std::string& text, const std::string& tap,
                                         int zone_index);

// A request command's arguments as the endpoint's request; an error
// sentence when they are bad.
coap::Result<coap::ClientRequest> client_request(const CommandContext& ctx,
                                                 control::RequestArgs args);

// The stats result (control::StatsResult, as `coapctl stats` gets it),
// passed to done on the loop thread. Loop thread.
void collect_stats(CommandContext& ctx, std::function<void(nlohmann::json)> done);

// Runs the handler of `cmd`.
void handle_command(CommandContext& ctx, control::Command cmd, const nlohmann::json& request,
                    Responder responder);

}  // namespace coapd
