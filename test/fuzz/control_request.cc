// Fuzz target control_request: bytes as they arrive on coapd's control
// socket, through the control protocol (daemon/control): the LineReader
// splits them into lines; each line goes through the envelope checks
// coapd's ControlServer::handle_line makes (a JSON object, "v" 1, a "cmd"
// string naming a command) and then the decode of that command's arguments
// (messages.h), and, for request and connect, the URI and method parsing
// the command handlers do (daemon/coapd/commands.cc). The answer is built
// and serialized as the control server does.
//
// The handlers themselves are not linked: they post to the engine thread and
// reach lwIP, libuv and the control server through concrete classes
// (CommandContext), not interfaces a fake could stand in for. What they take
// from the line is exactly what is decoded here.
//
// Besides, every message type of the protocol (coapctl decodes the results)
// is decoded from the line's object and its "result": none may throw, and
// whatever decodes encodes to JSON that decodes to the same value (round
// trip). LineReader: the lines it returns are the input, split at '\n',
// without a '\r' before it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "coap/code.h"
#include "coap/uri.h"
#include "daemon/control/line_reader.h"
#include "daemon/control/messages.h"
#include "daemon/control/messages_discover.h"
#include "daemon/control/messages_observe.h"
#include "daemon/control/protocol.h"
#include "test/fuzz/fuzz_util.h"

namespace {

using nlohmann::json;

// Decode, and if that works, the round trip: the encoding decodes, and to
// a value with the same encoding. (Not necessarily to the value first
// decoded: a decoder may read fields its encoder leaves out for that value,
// as RequestResult does with a response's fields under another status.)
template <typename T>
bool round_trip(const json& j, const char* type) {
  coap::Result<T> first = T::decode(j);
  if (!first) {
    FUZZ_CHECK(!first.error().empty(), "%s: a decode error without a sentence", type);
    return false;
  }
  const json encoded = first->encode();
  coap::Result<T> again = T::decode(encoded);
  FUZZ_CHECK(again.ok(), "%s: its own encoding %s does not decode: %s", type,
             encoded.dump().c_str(), again.ok() ? "" : again.error().c_str());
  FUZZ_CHECK(again->encode() == encoded, "%s: %s decodes to a value encoded as %s", type,
             encoded.dump().c_str(), again->encode().dump().c_str());
  coap::Result<T> third = T::decode(again->encode());
  FUZZ_CHECK(third.ok() && *third == *again, "%s: %s is not a fixed point", type,
             encoded.dump().c_str());
  return true;
}

void all_types(const json& j) {
  using namespace control;
  round_trip<LatencySummary>(j, "LatencySummary");
  round_trip<StatusResult>(j, "StatusResult");
  round_trip<StatsResult>(j, "StatsResult");
  round_trip<SessionsResult>(j, "SessionsResult");
  round_trip<EventsArgs>(j, "EventsArgs");
  round_trip<EventRecord>(j, "EventRecord");
  round_trip<EventsResult>(j, "EventsResult");
  round_trip<SecurityArgs>(j, "SecurityArgs");
  round_trip<RequestArgs>(j, "RequestArgs");
  round_trip<OptionEntry>(j, "OptionEntry");
  if (round_trip<RequestResult>(j, "RequestResult")) (void)RequestResult::decode(j)->code_class();
  round_trip<ConnectArgs>(j, "ConnectArgs");
  round_trip<ConnectResult>(j, "ConnectResult");
  round_trip<CloseArgs>(j, "CloseArgs");
  round_trip<ResourceListResult>(j, "ResourceListResult");
  round_trip<ResourceAddArgs>(j, "ResourceAddArgs");
  round_trip<ResourceSetArgs>(j, "ResourceSetArgs");
  round_trip<ResourceDeleteArgs>(j, "ResourceDeleteArgs");
  round_trip<LogLevelArgs>(j, "LogLevelArgs");
  round_trip<LogLevelResult>(j, "LogLevelResult");
  round_trip<ReloadResult>(j, "ReloadResult");
  round_trip<CaptureArgs>(j, "CaptureArgs");
  round_trip<DiscoverArgs>(j, "DiscoverArgs");
  round_trip<DiscoverResult>(j, "DiscoverResult");
  round_trip<CaptureResult>(j, "CaptureResult");
  round_trip<DebugStallArgs>(j, "DebugStallArgs");
  round_trip<TimerProbeArgs>(j, "TimerProbeArgs");
  round_trip<TimerProbeResult>(j, "TimerProbeResult");
}

// As coapd's parse_client_uri, with the TAP "coap0" as zone 3.
void client_uri(const std::string& text) {
  auto uri = coap::parse_uri(text, [](std::string_view z) { return z == "coap0" ? 3 : -1; });
  if (!uri) {
    FUZZ_CHECK(!uri.error().empty(), "URI '%s' refused without a sentence", text.c_str());
    return;
  }
  (void)uri->to_string();
}

// The answer the control server would send: serialized as it does.
void answer(const json& id, const std::string& error) {
  const json msg =
      error.empty() ? control::ok_message(id, json::object()) : control::error_message(id, error);
  const std::string line = msg.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  FUZZ_CHECK(line.find('\n') == line.size() - 1, "an answer spans lines: %s", line.c_str());
}

// The arguments of cmd, decoded as the handler does; the error it answers.
std::string dispatch(control::Command cmd, const json& req) {
  using control::Command;
  auto decoded = [&](auto r) { return r.ok() ? std::string() : "malformed request: " + r.error(); };
  switch (cmd) {
    case Command::kStatus:
    case Command::kStats:
    case Command::kSessions: return {};
    case Command::kEvents: return decoded(control::EventsArgs::decode(req));
    case Command::kRequest: {
      auto a = control::RequestArgs::decode(req);
      if (!a) return decoded(std::move(a));
      if (coap::method_from_name(a->method).is_empty()) return "unknown method '" + a->method + "'";
      client_uri(a->uri);
      return {};
    }
    case Command::kConnect: {
      auto a = control::ConnectArgs::decode(req);
      if (!a) return decoded(std::move(a));
      client_uri(a->uri);
      return {};
    }
    case Command::kClose: return decoded(control::CloseArgs::decode(req));
    case Command::kResourceList:
    case Command::kReload: return {};
    case Command::kResourceAdd: return decoded(control::ResourceAddArgs::decode(req));
    case Command::kResourceSet: return decoded(control::ResourceSetArgs::decode(req));
    case Command::kResourceDelete: return decoded(control::ResourceDeleteArgs::decode(req));
    case Command::kLogLevel: return decoded(control::LogLevelArgs::decode(req));
    case Command::kCapture: return decoded(control::CaptureArgs::decode(req));
    case Command::kCaptureStop: return {};
    case Command::kObserve: {
      auto a = control::RequestArgs::decode(req);
      if (!a) return decoded(std::move(a));
      if (a->method != "GET" && a->method != "FETCH") return "observe needs GET or FETCH";
      client_uri(a->uri);
      return {};
    }
    case Command::kObserveCancel: return decoded(control::ObserveCancelArgs::decode(req));
    case Command::kObservations: return {};
    case Command::kDiscover: return decoded(control::DiscoverArgs::decode(req));
    case Command::kDebugStall: return decoded(control::DebugStallArgs::decode(req));
    case Command::kDebugTimerProbe: return decoded(control::TimerProbeArgs::decode(req));
  }
  FUZZ_CHECK(false, "command %d has no case", static_cast<int>(cmd));
  return {};
}

// ControlServer::handle_line's checks, then the command's decode.
void handle_line(const std::string& line) {
  if (line.find_first_not_of(" \t\r") == std::string::npos) return;
  const json req = json::parse(line, nullptr, /*allow_exceptions=*/false);
  const bool object = !req.is_discarded() && req.is_object();
  const json id = object && req.contains("id") ? req["id"] : json();
  if (!object) return answer(id, "malformed request: not a JSON object");
  all_types(req);
  if (auto r = req.find("result"); r != req.end()) all_types(*r);
  if (!req.contains("v") || req["v"] != control::kProtocolVersion)
    return answer(id, "unsupported protocol version");
  auto cmd = req.find("cmd");
  if (cmd == req.end() || !cmd->is_string()) return answer(id, "malformed request: no \"cmd\"");
  const std::string name = cmd->get<std::string>();
  const std::optional<control::Command> known = control::command_from_name(name);
  if (!known) return answer(id, "unknown command '" + name + "'");
  FUZZ_CHECK(control::command_name(*known) == name, "command '%s' named '%s'", name.c_str(),
             control::command_name(*known));
  answer(id, dispatch(*known, req));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte says where the rest is split in two pieces (a stream
  // socket may split anywhere); the rest is what the socket carries.
  const std::size_t cut = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), --size);
  control::LineReader reader;
  FUZZ_CHECK(reader.feed(input.substr(0, std::min(cut, size))) &&
                 reader.feed(input.substr(std::min(cut, size))),
             "LineReader refused %zu bytes", size);
  std::string joined;
  while (std::optional<std::string> line = reader.next_line()) {
    handle_line(*line);
    joined += *line;
    joined += '\n';
  }
  joined.append(input.substr(input.size() - reader.pending_bytes()));
  // What came out, with each "\r\n" the reader turned into "\n".
  std::string expected;
  for (std::size_t i = 0; i < size; ++i)
    if (!(input[i] == '\r' && i + 1 < size && input[i + 1] == '\n')) expected += input[i];
  FUZZ_CHECK(joined == expected, "LineReader: the lines are not the input (%zu bytes, %zu out)",
             expected.size(), joined.size());
  return 0;
}
