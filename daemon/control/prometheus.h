// `coapctl stats --prometheus` and coapd's --metrics-listen (GET /metrics):
// coapd's stats result in the Prometheus text
// exposition format (version 0.0.4): every counter, pcb count, session count
// and latency histogram, names prefixed coapd_, with HELP and TYPE lines.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace control {

std::string format_prometheus(const nlohmann::json& stats);

}  // namespace control
