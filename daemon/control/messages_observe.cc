// Encoding of the observe, observe_cancel and observations messages.
#include "daemon/control/messages_observe.h"

#include <utility>

#include "daemon/control/codec.h"
#include "daemon/control/messages.h"

namespace control {
namespace {

using nlohmann::json;

}  // namespace

json NotificationRecord::encode() const {
  return {{"observation", observation},
          {"seq", seq},
          {"code", code},
          {"content_format", content_format ? json(*content_format) : json(nullptr)},
          {"payload_b64", base64_encode(payload)},
          {"time", time},
          {"session", session}};
}

Result<NotificationRecord> NotificationRecord::decode(const json& j) {
  FieldReader r(j);
  NotificationRecord n;
  n.observation = r.uint("observation", 0, UINT64_MAX);
  n.seq = static_cast<uint32_t>(r.uint("seq", 0, 0xffffff));
  n.code = r.string("code");
  if (auto ct = j.is_object() ? j.find("content_format") : j.end(); ct != j.end() && !ct->is_null())
    if (auto v = r.optional_uint("content_format", 65535)) n.content_format = *v;
  if (auto b64 = r.optional_string("payload_b64")) {
    auto bytes = base64_decode(*b64);
    if (!bytes)
      r.fail("coapd sent a notification payload that is not valid base64");
    else
      n.payload = std::move(*bytes);
  }
  n.time = r.string("time");
  n.session = r.uint("session", 0, UINT64_MAX);
  return r.result(std::move(n));
}

json ObserveResult::encode() const {
  json j = response.encode();
  j["observation"] = observation;
  j["notifications"] = notifications;
  return j;
}

Result<ObserveResult> ObserveResult::decode(const json& j) {
  Result<RequestResult> response = RequestResult::decode(j);
  if (!response) return std::move(response).take_error();
  FieldReader r(j);
  ObserveResult o;
  o.response = std::move(*response);
  o.observation = r.uint("observation", 0, UINT64_MAX);
  o.notifications = r.uint("notifications", 0, UINT64_MAX);
  return r.result(std::move(o));
}

json ObserveCancelArgs::encode() const {
  json j = json::object();
  if (observation) j["observation"] = *observation;
  return j;
}

Result<ObserveCancelArgs> ObserveCancelArgs::decode(const json& j) {
  FieldReader r(j);
  ObserveCancelArgs a;
  a.observation = r.optional_uint("observation", UINT64_MAX);
  return r.result(a);
}

json ObserveCancelResult::encode() const { return {{"cancelled", cancelled}}; }

Result<ObserveCancelResult> ObserveCancelResult::decode(const json& j) {
  FieldReader r(j);
  ObserveCancelResult c;
  const json* list = r.array("cancelled");
  for (std::size_t i = 0; list && i < list->size() && r.ok(); ++i) {
    if (!is_whole_number((*list)[i])) {
      r.fail("field \"cancelled\" must hold observation ids");
      break;
    }
    c.cancelled.push_back((*list)[i].get<uint64_t>());
  }
  return r.result(std::move(c));
}

json ObservationsResult::encode() const {
  json list = json::array();
  for (const ObservationEntry& e : observations)
    list.push_back({{"id", e.id},
                    {"uri", e.uri},
                    {"session_id", e.session_id},
                    {"token", e.token},
                    {"notifications", e.notifications},
                    {"last_seq", e.last_seq},
                    {"registered", e.registered},
                    {"deregistering", e.deregistering}});
  return {{"observations", std::move(list)}};
}

Result<ObservationsResult> ObservationsResult::decode(const json& j) {
  FieldReader r(j);
  ObservationsResult out;
  const json* list = r.array("observations");
  for (std::size_t i = 0; list && i < list->size() && r.ok(); ++i) {
    FieldReader e((*list)[i]);
    ObservationEntry o;
    o.id = e.uint("id", 0, UINT64_MAX);
    o.uri = e.string("uri");
    o.session_id = e.uint("session_id", 0, UINT64_MAX);
    o.token = e.string("token");
    o.notifications = e.uint("notifications", 0, UINT64_MAX);
    o.last_seq = static_cast<uint32_t>(e.uint("last_seq", 0, 0xffffff));
    o.registered = e.boolean("registered", false);
    o.deregistering = e.boolean("deregistering", false);
    if (!e.ok()) r.fail("observations: " + e.status().error());
    out.observations.push_back(std::move(o));
  }
  return r.result(std::move(out));
}

}  // namespace control
