#include "daemon/control/prometheus.h"

#include <cstdio>

namespace control {
namespace {

using nlohmann::json;

// A metric name from a JSON key: [a-z0-9_] only.
std::string name_of(const std::string& key) {
  std::string out;
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    out += ok ? c : (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : '_';
  }
  return out;
}

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

std::string number(const json& v) {
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return number(v.get<double>());
}

void header(std::string& out, const std::string& name, const std::string& type,
            const std::string& help) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void simple(std::string& out, const std::string& name, const std::string& type,
            const std::string& help, const json& value) {
  if (!value.is_number()) return;
  header(out, name, type, help);
  out += name + " " + number(value) + "\n";
}

// A latency summary with buckets (microseconds) as a histogram in seconds.
void histogram(std::string& out, const std::string& name, const json& l) {
  if (!l.is_object() || !l.contains("buckets") || !l.contains("count")) return;
  header(out, name, "histogram", "Latency in seconds (" + name + ")");
  for (const json& b : l.at("buckets"))
    out += name + "_bucket{le=\"" + number(b.at(0).get<double>() / 1e6) + "\"} " + number(b.at(1)) +
           "\n";
  out += name + "_bucket{le=\"+Inf\"} " + number(l.at("count")) + "\n";
  out += name + "_sum " + number(l.value("sum", 0.0) / 1e6) + "\n";
  out += name + "_count " + number(l.at("count")) + "\n";
}

void engine(std::string& out, const json& e) {
  for (const auto& [key, value] : e.items()) {
    const std::string name = "coapd_engine_" + name_of(key);
    if (value.is_object()) {
      std::string base = name;
      if (base.size() > 3 && base.compare(base.size() - 3, 3, "_us") == 0)
        base.resize(base.size() - 3);
      histogram(out, base + "_seconds", value);
    } else if (value.is_string()) {
      header(out, name, "gauge", "The engine's " + key + " (as a label)");
      out += name + "{" + name_of(key) + "=\"" + value.get<std::string>() + "\"} 1\n";
    } else {
      simple(out, name + "_total", "counter", "Engine " + key, value);
    }
  }
}

}  // namespace

std::string format_prometheus(const json& stats) {
  std::string out;
  if (stats.contains("version")) {
    header(out, "coapd_info", "gauge", "coapd's version (as a label)");
    out += "coapd_info{version=\"" + stats.at("version").get<std::string>() + "\"} 1\n";
  }
  simple(out, "coapd_uptime_seconds", "gauge", "Seconds since coapd started",
         stats.value("uptime_s", json()));
  simple(out, "coapd_sessions", "gauge", "CoAP sessions", stats.value("sessions", json()));
  simple(out, "coapd_observations", "gauge", "Observe registrations",
         stats.value("observations", json()));
  simple(out, "coapd_dedup_entries", "gauge", "Entries of the deduplication cache",
         stats.value("dedup_entries", json()));
  if (stats.contains("lwip") && stats.at("lwip").is_object()) {
    header(out, "coapd_lwip_pcbs", "gauge", "lwIP protocol control blocks by list");
    for (const auto& [key, value] : stats.at("lwip").items())
      out += "coapd_lwip_pcbs{list=\"" + name_of(key) + "\"} " + number(value) + "\n";
  }
  if (stats.contains("counters") && stats.at("counters").is_object())
    for (const auto& [key, value] : stats.at("counters").items())
      simple(out, "coapd_" + name_of(key) + "_total", "counter", "Counter " + key, value);
  if (stats.contains("engine") && stats.at("engine").is_object()) engine(out, stats.at("engine"));
  return out;
}

}  // namespace control
