// Encoding of the request, connect, close and debug messages.
#include <cmath>
#include <utility>

#include "daemon/control/codec.h"
#include "daemon/control/messages.h"

namespace control {
namespace {

using nlohmann::json;

// Whole seconds travel as JSON integers, fractions as floats.
json seconds_json(double seconds) {
  if (std::floor(seconds) == seconds && std::fabs(seconds) < 1e15)
    return static_cast<int64_t>(seconds);
  return seconds;
}

}  // namespace

json SecurityArgs::encode() const {
  json j = json::object();
  if (psk_identity) j["psk_identity"] = *psk_identity;
  if (psk_key) j["psk_key_b64"] = base64_encode(*psk_key);
  if (!cert_pem.empty()) j["cert_pem"] = cert_pem;
  if (!key_pem.empty()) j["key_pem"] = key_pem;
  if (!ca_pem.empty()) j["ca_pem"] = ca_pem;
  if (insecure) j["insecure"] = true;
  return j;
}

Result<SecurityArgs> SecurityArgs::decode(const json& j) {
  FieldReader r(j);
  SecurityArgs a;
  a.psk_identity = r.optional_string("psk_identity");
  a.psk_key = r.optional_bytes("psk_key_b64");
  a.cert_pem = r.string("cert_pem");
  a.key_pem = r.string("key_pem");
  a.ca_pem = r.string("ca_pem");
  a.insecure = r.boolean("insecure", false);
  if (r.ok() && a.psk_identity.has_value() != a.psk_key.has_value())
    r.fail("security: psk_identity and psk_key_b64 go together");
  return r.result(std::move(a));
}

// The "security" member, when there is one.
static SecurityArgs decode_security(FieldReader& r) {
  const json* sec = r.object("security");
  if (!sec) return {};
  Result<SecurityArgs> s = SecurityArgs::decode(*sec);
  if (!s) r.fail(s.error());
  return s ? std::move(*s) : SecurityArgs{};
}

json RequestArgs::encode() const {
  json j = {{"method", method}, {"uri", uri}, {"timeout", seconds_json(timeout)}};
  if (payload) j["payload_b64"] = base64_encode(*payload);
  if (content_format) j["content_format"] = *content_format;
  if (accept) j["accept"] = *accept;
  if (session) j["session"] = *session;
  if (!security.empty()) j["security"] = security.encode();
  if (non) j["non"] = true;
  if (!options.empty()) {
    json list = json::array();
    for (const RequestOption& o : options)
      list.push_back({{"number", o.number}, {"value_hex", hex_encode(o.value)}});
    j["options"] = std::move(list);
  }
  if (token) j["token_hex"] = hex_encode(*token);
  if (block_size) j["block_size"] = *block_size;
  return j;
}

// The "options" member of a request, when there is one.
static std::vector<RequestOption> decode_request_options(FieldReader& r) {
  std::vector<RequestOption> out;
  const json* list = r.array("options");
  if (!list) return out;
  for (const json& item : *list) {
    FieldReader o(item);
    RequestOption opt;
    opt.number = static_cast<uint16_t>(o.uint("number", 0, 65535));
    auto value = hex_decode(o.string("value_hex"));
    if (o.ok() && (opt.number == 0 || !value))
      o.fail("an option needs a \"number\" 1..65535 and a hex \"value_hex\"");
    if (!o.ok()) {
      r.fail("options: " + o.status().error());
      return {};
    }
    opt.value = std::move(*value);
    out.push_back(std::move(opt));
  }
  return out;
}

Result<RequestArgs> RequestArgs::decode(const json& j) {
  FieldReader r(j);
  RequestArgs a;
  a.method = r.string("method", "GET");
  a.uri = r.string("uri");
  a.payload = r.optional_bytes("payload_b64");
  if (auto cf = r.optional_uint("content_format", 65535)) a.content_format = *cf;
  if (auto ac = r.optional_uint("accept", 65535)) a.accept = *ac;
  a.timeout = r.number("timeout", 30.0, 0.001, kMaxSeconds);
  a.session = r.optional_uint("session", UINT64_MAX);
  a.security = decode_security(r);
  a.non = r.boolean("non", false);
  a.options = decode_request_options(r);
  if (auto token = r.optional_string("token_hex")) {
    a.token = hex_decode(*token);
    if (!a.token || a.token->size() > 8) r.fail("field \"token_hex\" must be 0 to 8 bytes of hex");
  }
  if (auto bs = r.optional_uint("block_size", kMaxBertBytes)) {
    if (!valid_block_size(*bs))
      r.fail(
          "field \"block_size\" must be 16, 32, 64, 128, 256, 512 or 1024, or for BERT a "
          "multiple of 1024 up to " +
          std::to_string(kMaxBertBytes));
    a.block_size = static_cast<uint32_t>(*bs);
  }
  return r.result(std::move(a));
}

json OptionEntry::encode() const {
  json j = {{"number", number}, {"name", name}, {"format", format}};
  if (const uint64_t* n = std::get_if<uint64_t>(&value)) {
    j["value"] = *n;
  } else {
    j["value"] = std::get<std::string>(value);
  }
  return j;
}

Result<OptionEntry> OptionEntry::decode(const json& j) {
  FieldReader r(j);
  OptionEntry o;
  o.number = static_cast<uint16_t>(r.uint("number", 0, 65535));
  o.name = r.string("name");
  o.format = r.string("format");
  if (auto v = j.find("value"); j.is_object() && v != j.end()) {
    if (is_whole_number(*v)) {
      o.value = v->get<uint64_t>();
    } else if (v->is_string()) {
      o.value = v->get<std::string>();
    } else {
      r.fail("field \"value\" of option " + std::to_string(o.number) +
             " must be a number or a string");
    }
  } else {
    o.value = std::string();
  }
  return r.result(std::move(o));
}

std::string OptionEntry::text() const {
  if (const uint64_t* n = std::get_if<uint64_t>(&value)) return std::to_string(*n);
  return std::get<std::string>(value);
}

json RequestResult::encode() const {
  json j = {{"status", status}, {"session", session}};
  if (status != "response") {
    j["error"] = error;
    return j;
  }
  j["code"] = code;
  j["code_name"] = code_name;
  json opts = json::array();
  for (const OptionEntry& o : options) opts.push_back(o.encode());
  j["options"] = std::move(opts);
  j["payload_b64"] = base64_encode(payload);
  return j;
}

Result<RequestResult> RequestResult::decode(const json& j) {
  FieldReader r(j);
  RequestResult out;
  out.status = r.string("status");
  if (r.ok() && out.status != "response" && out.status != "timeout" && out.status != "cancelled" &&
      out.status != "error" && out.status != "deregistered")
    r.fail("coapd sent an unknown request status '" + out.status + "'");
  out.session = r.uint("session", 0, UINT64_MAX);
  out.code = r.string("code");
  out.code_name = r.string("code_name");
  out.error = r.string("error");
  const json* opts = r.array("options");
  for (std::size_t i = 0; opts && i < opts->size() && r.ok(); ++i) {
    Result<OptionEntry> o = OptionEntry::decode((*opts)[i]);
    if (!o)
      r.fail(o.error());
    else
      out.options.push_back(std::move(*o));
  }
  if (std::optional<std::string> b64 = r.optional_string("payload_b64")) {
    auto bytes = base64_decode(*b64);
    if (!bytes)
      r.fail("coapd sent a response payload that is not valid base64");
    else
      out.payload = std::move(*bytes);
  }
  return r.result(std::move(out));
}

int RequestResult::code_class() const {
  if (code.size() < 3 || code[1] != '.' || code[0] < '0' || code[0] > '7') return -1;
  return code[0] - '0';
}

json ConnectArgs::encode() const {
  json j = {{"uri", uri}};
  if (call_home) j["call_home"] = true;
  if (reconnect_interval) j["reconnect_interval"] = seconds_json(*reconnect_interval);
  if (reconnect_max_interval) j["reconnect_max_interval"] = seconds_json(*reconnect_max_interval);
  if (reconnect_attempts) j["reconnect_attempts"] = *reconnect_attempts;
  if (keepalive) j["keepalive"] = seconds_json(*keepalive);
  if (!security.empty()) j["security"] = security.encode();
  return j;
}

Result<ConnectArgs> ConnectArgs::decode(const json& j) {
  FieldReader r(j);
  ConnectArgs a;
  a.uri = r.string("uri");
  a.call_home = r.boolean("call_home", false);
  a.reconnect_interval = r.optional_number("reconnect_interval", 0.001, kMaxSeconds);
  a.reconnect_max_interval = r.optional_number("reconnect_max_interval", 0, kMaxSeconds);
  if (auto n = r.optional_uint("reconnect_attempts", UINT32_MAX)) a.reconnect_attempts = *n;
  a.keepalive = r.optional_number("keepalive", 0, kMaxSeconds);
  a.security = decode_security(r);
  return r.result(std::move(a));
}

json ConnectResult::encode() const { return {{"session", session}, {"existing", existing}}; }

Result<ConnectResult> ConnectResult::decode(const json& j) {
  FieldReader r(j);
  ConnectResult c;
  if (!r.has("session")) r.fail("the connect result has no \"session\"");
  c.session = r.uint("session", 0, UINT64_MAX);
  c.existing = r.boolean("existing", false);
  return r.result(c);
}

json CloseArgs::encode() const { return {{"session", session}}; }

Result<CloseArgs> CloseArgs::decode(const json& j) {
  FieldReader r(j);
  CloseArgs a;
  if (!r.has("session")) r.fail("close needs a session id");
  a.session = r.uint("session", 0, UINT64_MAX);
  return r.result(a);
}

json DebugStallArgs::encode() const { return {{"seconds", seconds_json(seconds)}}; }

Result<DebugStallArgs> DebugStallArgs::decode(const json& j) {
  FieldReader r(j);
  DebugStallArgs a;
  a.seconds = r.number("seconds", 1.0, 0, 3600);
  return r.result(a);
}

json TimerProbeArgs::encode() const { return {{"interval_ms", interval_ms}, {"count", count}}; }

Result<TimerProbeArgs> TimerProbeArgs::decode(const json& j) {
  FieldReader r(j);
  TimerProbeArgs a;
  a.interval_ms = r.number("interval_ms", 50.0, 0.001, 60000);
  a.count = static_cast<uint32_t>(r.uint("count", 100, 100000));
  if (r.ok() && a.count == 0) r.fail("debug_timer_probe needs at least one timer");
  return r.result(a);
}

json TimerProbeResult::encode() const {
  return {{"interval_ms", interval_ms},
          {"count", count},
          {"early", early},
          {"lateness_us", lateness_us.encode()},
          {"min_lateness_us", min_lateness_us}};
}

Result<TimerProbeResult> TimerProbeResult::decode(const json& j) {
  FieldReader r(j);
  TimerProbeResult t;
  t.interval_ms = r.number("interval_ms", 0, 0, 1e18);
  t.count = r.uint("count", 0, UINT64_MAX);
  t.early = r.uint("early", 0, UINT64_MAX);
  if (const json* l = r.object("lateness_us")) {
    Result<LatencySummary> lateness = LatencySummary::decode(*l);
    if (lateness)
      t.lateness_us = *lateness;
    else
      r.fail("lateness_us: " + lateness.error());
  }
  t.min_lateness_us = r.number("min_lateness_us", 0, 0, 1e18);
  return r.result(t);
}

}  // namespace control
