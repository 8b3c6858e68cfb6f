#include "daemon/status_json.h"

#include <unistd.h>

namespace coapd {

using nlohmann::json;

json status_json(const coap::Endpoint& ep, lwip_tap::Stack& stack, const lwip_tap::TapPump* pump,
                 std::chrono::steady_clock::time_point started) {
  lwip_tap::PcbCounts pcbs;
  {
    lwip_tap::CoreLock lock;
    pcbs = stack.count_pcbs();
  }
  const coap::EndpointCounters& c = ep.counters();
  const double uptime =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return json{
      {"version", kVersion},
      {"pid", ::getpid()},
      {"uptime_s", uptime},
      {"sessions", ep.session_count()},
      {"lwip",
       {{"tcp_active", pcbs.tcp_active},
        {"tcp_listen", pcbs.tcp_listen},
        {"tcp_time_wait", pcbs.tcp_time_wait},
        {"tcp_bound", pcbs.tcp_bound},
        {"udp", pcbs.udp}}},
      {"counters",
       {{"rx_frames", pump ? pump->rx_frames() : 0},
        {"rx_refused", pump ? pump->rx_refused() : 0},
        {"tx_frames", stack.tx_frames()},
        {"tx_errors", stack.tx_errors()},
        {"datagrams_in", c.datagrams_in},
        {"datagrams_out", c.datagrams_out},
        {"requests", c.requests},
        {"responses", c.responses},
        {"bad_packets", c.bad_packets},
        {"duplicates", c.duplicates},
        {"rst_sent", c.rst_sent},
        {"pings", c.pings},
        {"client_requests", c.client_requests},
        {"client_responses", c.client_responses},
        {"retransmissions", c.retransmissions},
        {"notifications", c.notifications},
        {"tcp_accepted", c.tcp_accepted},
        {"tcp_rejected", c.tcp_rejected}}},
      {"observations", ep.observation_count()},
      {"dedup_entries", ep.dedup_entries()},
  };
}

json sessions_json(const coap::Endpoint& ep, coap::TimePoint now) {
  json list = json::array();
  for (const coap::SessionInfo& s : ep.sessions(now)) {
    list.push_back({{"id", s.id},
                    {"protocol", coap::proto_name(s.proto)},
                    {"role", coap::role_name(s.role)},
                    {"state", coap::session_state_name(s.state)},
                    {"peer", s.peer.to_string()},
                    {"local_address", s.local.family == coap::Address::Family::kNone ? "" : s.local.to_string()},
                    {"age", coap::to_seconds(s.age)},
                    {"bytes_in", s.bytes_in},
                    {"bytes_out", s.bytes_out},
                    {"messages_in", s.msgs_in},
                    {"messages_out", s.msgs_out},
                    {"outgoing", s.outgoing},
                    {"call_home", s.call_home},
                    {"reconnect_attempt", s.reconnect_attempt},
                    {"queued_bytes", s.queued_bytes},
                    {"observers", s.observers}});
  }
  return list;
}

}  // namespace coapd
