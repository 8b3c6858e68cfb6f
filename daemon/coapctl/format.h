// Human-readable renderings of control protocol results for coapctl. Pure
// functions: JSON in, text out (every line ends in '\n'). Each accepts fields
// it does not know and prints missing ones as "-", so a newer or older coapd
// still gives readable output.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "daemon/control/messages.h"

namespace coapctl {

// "42s", "3m07s", "2h05m", "3d04h"; "-" for negative values.
std::string format_duration(double seconds);

// "status" result: one "Label:  value" line per field, labels aligned.
std::string format_status(const nlohmann::json& result);

// "stats" result: a "lwIP pcbs:" section, a "Counters:" section (name and
// right-aligned value, indented by two), then the remaining fields.
std::string format_stats(const nlohmann::json& result);

// "sessions" result: a table with the header
//   ID PROTO ROLE STATE PEER LOCAL AGE IN(B) OUT(B) IN(MSG) OUT(MSG)
// columns separated by two spaces, numbers right-aligned.
std::string format_sessions(const nlohmann::json& result);

// "resource_list" result: a table with the header
//   PATH SOURCE CT METHODS OBS OBSERVERS SIZE ETAG
std::string format_resources(const nlohmann::json& result);

// A "request" result with status "response", up to its payload:
//   "2.05 Content\n", one "Name: value\n" per option, then "\n".
// Uint option values print as numbers, string options as text, opaque ones
// as the hex coapd sent.
std::string format_response_head(const control::RequestResult& result);

// One event as a human-readable line, without the newline:
//   "<time> <event> session=<N> peer=<ip:port>[ reason=<text>][ attempt=<N>]"
// event is the "event" object of an event message. Missing or empty fields
// print as "-"; reason and attempt appear only when present.
std::string format_event_line(const nlohmann::json& event);

// A debug_timer_probe result: count, early firings, lateness.
std::string format_timer_probe(const control::TimerProbeResult& result);

// A JSON value as plain text: strings unquoted, null as "-", arrays joined
// with ", ", booleans as yes/no, other values as JSON.
std::string value_text(const nlohmann::json& value);

}  // namespace coapctl
