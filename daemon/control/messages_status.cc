// Encoding of the status, stats, sessions and events messages.
#include <utility>

#include "daemon/control/codec.h"
#include "daemon/control/messages.h"

namespace control {
namespace {

using nlohmann::json;

json counts_json(const NamedCounts& counts) {
  json j = json::object();
  for (const NamedCount& c : counts) j[c.name] = c.value;
  return j;
}

NamedCounts decode_counts(FieldReader& r, const char* key) {
  NamedCounts out;
  const json* object = r.object(key);
  if (!object) return out;
  for (const auto& [name, value] : object->items()) {
    if (!is_whole_number(value)) {
      r.fail(std::string("field \"") + key + "." + name + "\" must be a whole number");
      break;
    }
    out.push_back({name, value.get<uint64_t>()});
  }
  return out;
}

LatencySummary decode_latency(FieldReader& outer, const char* key) {
  const json* object = outer.object(key);
  if (!object) return {};
  Result<LatencySummary> l = LatencySummary::decode(*object);
  if (l) return *l;
  outer.fail(std::string(key) + ": " + l.error());
  return {};
}

void encode_snapshot(const Snapshot& s, json& j) {
  j["version"] = s.version;
  j["pid"] = s.pid;
  j["uptime_s"] = s.uptime_s;
  j["sessions"] = s.sessions;
  j["lwip"] = counts_json(s.lwip);
  j["counters"] = counts_json(s.counters);
  j["observations"] = s.observations;
  j["dedup_entries"] = s.dedup_entries;
}

Snapshot decode_snapshot(FieldReader& r) {
  Snapshot s;
  s.version = r.string("version");
  s.pid = static_cast<int64_t>(r.uint("pid", 0, INT64_MAX));
  s.uptime_s = r.number("uptime_s", 0, 0, 1e18);
  s.sessions = r.uint("sessions", 0, UINT64_MAX);
  s.lwip = decode_counts(r, "lwip");
  s.counters = decode_counts(r, "counters");
  s.observations = r.uint("observations", 0, UINT64_MAX);
  s.dedup_entries = r.uint("dedup_entries", 0, UINT64_MAX);
  return s;
}

}  // namespace

json Snapshot::encode() const {
  json j;
  encode_snapshot(*this, j);
  return j;
}

json LatencySummary::encode() const {
  json j = {{"count", count}, {"p50", p50}, {"p99", p99}, {"max", max}};
  if (!buckets.empty()) {
    j["sum"] = sum;
    json list = json::array();
    for (const auto& [le, n] : buckets) list.push_back({le, n});
    j["buckets"] = std::move(list);
  }
  return j;
}

Result<LatencySummary> LatencySummary::decode(const json& j) {
  FieldReader r(j);
  LatencySummary l;
  l.count = r.uint("count", 0, UINT64_MAX);
  l.p50 = r.number("p50", 0, 0, 1e18);
  l.p99 = r.number("p99", 0, 0, 1e18);
  l.max = r.number("max", 0, 0, 1e18);
  l.sum = r.number("sum", 0, 0, 1e30);
  if (const json* list = r.array("buckets")) {
    for (const json& b : *list) {
      if (!b.is_array() || b.size() != 2 || !b[0].is_number() || !b[1].is_number_unsigned()) {
        r.fail("buckets must be [le, count] pairs");
        break;
      }
      l.buckets.emplace_back(b[0].get<double>(), b[1].get<uint64_t>());
    }
  }
  return r.result(l);
}

json StatusResult::encode() const {
  json j;
  encode_snapshot(snapshot, j);
  j["tap"] = tap;
  j["mac"] = mac;
  json list = json::array();
  for (const AddressState& a : addresses)
    list.push_back({{"address", a.address}, {"state", a.state}});
  j["addresses"] = std::move(list);
  j["host_address"] = host_address;
  j["address_note"] = address_note;
  j["udp_port"] = udp_port;
  j["tcp_port"] = tcp_port;
  j["call_home_port"] = call_home_port;
  j["dtls_port"] = dtls_port;
  j["tls_port"] = tls_port;
  j["dtls"] = dtls_on;
  j["tls"] = tls_on;
  j["control_socket"] = control_socket;
  j["engine"] = {{"alive", engine_alive}, {"wakeups", engine_wakeups}};
  return j;
}

Result<StatusResult> StatusResult::decode(const json& j) {
  FieldReader r(j);
  StatusResult s;
  s.snapshot = decode_snapshot(r);
  s.tap = r.string("tap");
  s.mac = r.string("mac");
  if (const json* list = r.array("addresses")) {
    for (const json& a : *list) {
      FieldReader ar(a);
      s.addresses.push_back({ar.string("address"), ar.string("state")});
      if (!ar.ok()) r.fail("addresses: " + ar.status().error());
    }
  }
  s.host_address = r.string("host_address");
  s.address_note = r.string("address_note");
  s.udp_port = static_cast<uint16_t>(r.uint("udp_port", 0, 65535));
  s.tcp_port = static_cast<uint16_t>(r.uint("tcp_port", 0, 65535));
  s.call_home_port = static_cast<uint16_t>(r.uint("call_home_port", 0, 65535));
  s.dtls_port = static_cast<uint16_t>(r.uint("dtls_port", 0, 65535));
  s.tls_port = static_cast<uint16_t>(r.uint("tls_port", 0, 65535));
  s.dtls_on = r.boolean("dtls", false);
  s.tls_on = r.boolean("tls", false);
  s.control_socket = r.string("control_socket");
  if (const json* engine = r.object("engine")) {
    FieldReader er(*engine);
    s.engine_alive = er.boolean("alive", false);
    s.engine_wakeups = er.uint("wakeups", 0, UINT64_MAX);
    if (!er.ok()) r.fail("engine: " + er.status().error());
  }
  return r.result(std::move(s));
}

json StatsResult::encode() const {
  json j;
  encode_snapshot(snapshot, j);
  j["engine"] = {{"wakeups", engine.wakeups},
                 {"udp_dropped", engine.udp_dropped},
                 {"cpu_placement", engine.cpu_placement},
                 {"cpu_placement_changes", engine.cpu_placement_changes},
                 {"items", engine.items},
                 {"flushes", engine.flushes},
                 {"tap_batches", engine.tap_batches},
                 {"tap_polled_batches", engine.tap_polled_batches},
                 {"tcp_wake_latency_us", engine.tcp_wake_latency_us.encode()},
                 {"udp_wake_latency_us", engine.udp_wake_latency_us.encode()}};
  return j;
}

Result<StatsResult> StatsResult::decode(const json& j) {
  FieldReader r(j);
  StatsResult s;
  s.snapshot = decode_snapshot(r);
  if (const json* engine = r.object("engine")) {
    FieldReader er(*engine);
    Engine& e = s.engine;
    e.wakeups = er.uint("wakeups", 0, UINT64_MAX);
    e.udp_dropped = er.uint("udp_dropped", 0, UINT64_MAX);
    e.cpu_placement = er.string("cpu_placement");
    e.cpu_placement_changes = er.uint("cpu_placement_changes", 0, UINT64_MAX);
    e.items = er.uint("items", 0, UINT64_MAX);
    e.flushes = er.uint("flushes", 0, UINT64_MAX);
    e.tap_batches = er.uint("tap_batches", 0, UINT64_MAX);
    e.tap_polled_batches = er.uint("tap_polled_batches", 0, UINT64_MAX);
    e.tcp_wake_latency_us = decode_latency(er, "tcp_wake_latency_us");
    e.udp_wake_latency_us = decode_latency(er, "udp_wake_latency_us");
    if (!er.ok()) r.fail("engine: " + er.status().error());
  }
  return r.result(std::move(s));
}

json SessionsResult::encode() const {
  json list = json::array();
  for (const SessionEntry& s : sessions) {
    list.push_back({{"id", s.id},
                    {"protocol", s.protocol},
                    {"role", s.role},
                    {"state", s.state},
                    {"peer", s.peer},
                    {"local_address", s.local_address},
                    {"age", s.age},
                    {"bytes_in", s.bytes_in},
                    {"bytes_out", s.bytes_out},
                    {"messages_in", s.messages_in},
                    {"messages_out", s.messages_out},
                    {"outgoing", s.outgoing},
                    {"call_home", s.call_home},
                    {"reconnect_attempt", s.reconnect_attempt},
                    {"queued_bytes", s.queued_bytes},
                    {"observers", s.observers},
                    {"security", s.security},
                    {"peer_identity", s.peer_identity},
                    {"cipher", s.cipher}});
  }
  return {{"sessions", std::move(list)}};
}

Result<SessionsResult> SessionsResult::decode(const json& j) {
  FieldReader r(j);
  SessionsResult out;
  const json* list = r.array("sessions");
  for (std::size_t i = 0; list && i < list->size() && r.ok(); ++i) {
    FieldReader sr((*list)[i]);
    SessionEntry s;
    s.id = sr.uint("id", 0, UINT64_MAX);
    s.protocol = sr.string("protocol");
    s.role = sr.string("role");
    s.state = sr.string("state");
    s.peer = sr.string("peer");
    s.local_address = sr.string("local_address");
    s.age = sr.number("age", 0, 0, 1e18);
    s.bytes_in = sr.uint("bytes_in", 0, UINT64_MAX);
    s.bytes_out = sr.uint("bytes_out", 0, UINT64_MAX);
    s.messages_in = sr.uint("messages_in", 0, UINT64_MAX);
    s.messages_out = sr.uint("messages_out", 0, UINT64_MAX);
    s.outgoing = sr.boolean("outgoing", false);
    s.call_home = sr.boolean("call_home", false);
    s.reconnect_attempt = sr.uint("reconnect_attempt", 0, UINT64_MAX);
    s.queued_bytes = sr.uint("queued_bytes", 0, UINT64_MAX);
    s.observers = sr.uint("observers", 0, UINT64_MAX);
    s.security = sr.string("security", "none");
    s.peer_identity = sr.string("peer_identity");
    s.cipher = sr.string("cipher");
    if (!sr.ok()) r.fail("sessions: " + sr.status().error());
    out.sessions.push_back(std::move(s));
  }
  return r.result(std::move(out));
}

json EventsArgs::encode() const { return {{"follow", follow}}; }

Result<EventsArgs> EventsArgs::decode(const json& j) {
  FieldReader r(j);
  EventsArgs a;
  a.follow = r.boolean("follow", false);
  return r.result(a);
}

json EventRecord::encode() const {
  json j = {{"time", time}, {"event", event}, {"session_id", session_id}, {"peer", peer}};
  if (reason) j["reason"] = *reason;
  if (attempt) j["attempt"] = *attempt;
  if (detail) j["detail"] = *detail;
  if (security) j["security"] = *security;
  if (peer_identity) j["peer_identity"] = *peer_identity;
  if (cipher) j["cipher"] = *cipher;
  return j;
}

Result<EventRecord> EventRecord::decode(const json& j) {
  FieldReader r(j);
  EventRecord e;
  e.time = r.string("time");
  e.event = r.string("event");
  e.session_id = r.uint("session_id", 0, UINT64_MAX);
  e.peer = r.string("peer");
  e.reason = r.optional_string("reason");
  e.attempt = r.optional_uint("attempt", UINT64_MAX);
  e.detail = r.optional_string("detail");
  e.security = r.optional_string("security");
  e.peer_identity = r.optional_string("peer_identity");
  e.cipher = r.optional_string("cipher");
  return r.result(std::move(e));
}

json EventsResult::encode() const {
  json list = json::array();
  for (const EventRecord& e : events) list.push_back(e.encode());
  return {{"events", std::move(list)}};
}

Result<EventsResult> EventsResult::decode(const json& j) {
  FieldReader r(j);
  EventsResult out;
  const json* list = r.array("events");
  for (std::size_t i = 0; list && i < list->size() && r.ok(); ++i) {
    Result<EventRecord> e = EventRecord::decode((*list)[i]);
    if (!e)
      r.fail("events: " + e.error());
    else
      out.events.push_back(std::move(*e));
  }
  return r.result(std::move(out));
}

}  // namespace control
