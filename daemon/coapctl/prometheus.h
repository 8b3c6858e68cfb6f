// `coapctl stats --prometheus`: coapd's stats result in the Prometheus text
// exposition format (version 0.0.4): every counter, pcb count, session count
// and latency histogram, names prefixed coapd_, with HELP and TYPE lines.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace coapctl {

std::string format_prometheus(const nlohmann::json& stats);

}  // namespace coapctl
