#include "daemon/coapctl/format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

namespace coapctl {
namespace {

using nlohmann::json;

// Rows of cells rendered with columns padded to their widest cell.
class Table {
 public:
  explicit Table(std::vector<bool> right_aligned) : right_(std::move(right_aligned)) {}

  void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }

  // Columns separated by `gap`, each line prefixed by `indent`; no trailing blanks.
  std::string render(const std::string& indent = "", const std::string& gap = "  ") const {
    std::vector<std::size_t> width(right_.size(), 0);
    for (const auto& row : rows_)
      for (std::size_t c = 0; c < row.size() && c < width.size(); ++c)
        width[c] = std::max(width[c], row[c].size());
    std::string out;
    for (const auto& row : rows_) {
      std::string line = indent;
      for (std::size_t c = 0; c < row.size() && c < width.size(); ++c) {
        if (c > 0) line += gap;
        std::string pad(width[c] - row[c].size(), ' ');
        line += right_[c] ? pad + row[c] : row[c] + pad;
      }
      while (line.size() > indent.size() && line.back() == ' ') line.pop_back();
      out += line;
      out += '\n';
    }
    return out;
  }

 private:
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

// A JSON value as event-line text: strings unquoted, anything else as JSON,
// "-" for a missing, null or empty value.
std::string field_text(const nlohmann::json& event, const char* key) {
  auto it = event.find(key);
  if (it == event.end() || it->is_null()) return "-";
  if (it->is_string())
    return it->get_ref<const std::string&>().empty() ? "-" : it->get<std::string>();
  return it->dump();
}

std::string member_text(const json& object, const char* key) {
  if (!object.is_object()) return "-";
  auto it = object.find(key);
  return it == object.end() ? "-" : value_text(*it);
}

// The keys of object: `preferred` first (those present), then the rest in
// the object's own order.
std::vector<std::string> ordered_keys(const json& object,
                                      std::initializer_list<const char*> preferred) {
  std::vector<std::string> keys;
  if (!object.is_object()) return keys;
  for (const char* k : preferred)
    if (object.contains(k)) keys.emplace_back(k);
  for (const auto& item : object.items())
    if (std::find(keys.begin(), keys.end(), item.key()) == keys.end()) keys.push_back(item.key());
  return keys;
}

std::string engine_text(const json& engine) {
  if (!engine.is_object()) return value_text(engine);
  std::string text;
  if (auto alive = engine.find("alive"); alive != engine.end() && alive->is_boolean())
    text = alive->get<bool>() ? "alive" : "NOT RESPONDING";
  for (const auto& item : engine.items()) {
    if (item.key() == "alive") continue;
    if (!text.empty()) text += ", ";
    text += item.key() + " " + value_text(item.value());
  }
  return text.empty() ? "-" : text;
}

}  // namespace

std::string value_text(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return "-";
    case json::value_t::string: return value.get<std::string>();
    case json::value_t::boolean: return value.get<bool>() ? "yes" : "no";
    case json::value_t::array: {
      std::string text;
      for (const auto& element : value) {
        if (!text.empty()) text += ", ";
        text += value_text(element);
      }
      return text.empty() ? "-" : text;
    }
    case json::value_t::object: {
      std::string text;
      for (const auto& item : value.items()) {
        if (!text.empty()) text += ", ";
        text += item.key() + "=" + value_text(item.value());
      }
      return text.empty() ? "-" : text;
    }
    default: return value.dump();
  }
}

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) return "-";
  auto s = static_cast<unsigned long long>(seconds);
  char buf[48];
  if (s < 60)
    std::snprintf(buf, sizeof(buf), "%llus", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof(buf), "%llum%02llus", s / 60, s % 60);
  else if (s < 86400)
    std::snprintf(buf, sizeof(buf), "%lluh%02llum", s / 3600, s % 3600 / 60);
  else
    std::snprintf(buf, sizeof(buf), "%llud%02lluh", s / 86400, s % 86400 / 3600);
  return buf;
}

std::string format_status(const json& result) {
  static const std::pair<const char*, const char*> kLabels[] = {
      {"version", "Version"},
      {"pid", "PID"},
      {"uptime_s", "Uptime"},
      {"tap", "TAP device"},
      {"mac", "MAC address"},
      {"addresses", "Addresses"},
      {"host_address", "Host side"},
      {"address_note", "Address note"},
      {"udp_port", "UDP port"},
      {"tcp_port", "TCP port"},
      {"dtls_port", "DTLS port"},
      {"tls_port", "TLS port"},
      {"call_home_port", "Call-home port"},
      {"control_socket", "Control socket"},
      {"sessions", "Sessions"},
      {"engine", "Engine"},
  };
  Table table({false, false});
  std::vector<std::string> shown;
  for (const auto& [key, label] : kLabels) {
    if (!result.contains(key)) continue;
    const json& value = result.at(key);
    shown.emplace_back(key);
    // Only there when coapd left its default subnet.
    if (std::string_view(key) == "address_note" && value == "") continue;
    std::string text;
    if (std::string_view(key) == "uptime_s" && value.is_number())
      text = format_duration(value.get<double>());
    else if (std::string_view(key) == "engine")
      text = engine_text(value);
    else
      text = value_text(value);
    // The DTLS and TLS ports with whether they listen ("dtls": true).
    if (const std::string_view k(key); k == "dtls_port" || k == "tls_port") {
      const std::string on_key(k.substr(0, k.find('_')));
      if (const auto on = result.find(on_key); on != result.end() && on->is_boolean()) {
        text += on->get<bool>() ? " (on)" : " (off: no credentials, or port 0)";
        shown.push_back(on_key);
      }
    }
    table.add_row({std::string(label) + ":", text});
  }
  if (result.is_object()) {
    for (const auto& item : result.items()) {
      if (std::find(shown.begin(), shown.end(), item.key()) != shown.end()) continue;
      table.add_row({item.key() + ":", value_text(item.value())});
    }
  }
  return table.render();
}

std::string format_stats(const json& result) {
  struct Section {
    std::string title;
    std::vector<std::pair<std::string, std::string>> rows;
  };
  std::vector<Section> sections;
  std::vector<std::pair<std::string, std::string>> scalars;

  auto add_section = [&](const std::string& title, const json& object,
                         std::initializer_list<const char*> preferred) {
    Section section{title, {}};
    for (const auto& key : ordered_keys(object, preferred))
      section.rows.emplace_back(key, value_text(object.at(key)));
    sections.push_back(std::move(section));
  };
  if (result.contains("lwip"))
    add_section("lwIP pcbs:", result.at("lwip"),
                {"tcp_active", "tcp_listen", "tcp_time_wait", "tcp_bound", "udp"});
  if (result.contains("counters"))
    add_section("Counters:", result.at("counters"),
                {"rx_frames", "tx_frames", "requests", "responses", "bad_packets"});
  for (const auto& key : ordered_keys(result, {"sessions"})) {
    if (key == "lwip" || key == "counters") continue;
    const json& value = result.at(key);
    if (value.is_object())
      add_section(key + ":", value, {});
    else
      scalars.emplace_back(key == "sessions" ? "Sessions:" : key + ":", value_text(value));
  }

  // One name width and one value width across all sections, so the numbers
  // line up down the whole output.
  std::size_t name_width = 0;
  std::size_t value_width = 0;
  for (const auto& section : sections)
    for (const auto& [name, value] : section.rows) {
      name_width = std::max(name_width, name.size());
      value_width = std::max(value_width, value.size());
    }
  std::string out;
  for (const auto& section : sections) {
    if (!out.empty()) out += '\n';
    out += section.title + '\n';
    for (const auto& [name, value] : section.rows) {
      out += "  " + name + std::string(name_width - name.size(), ' ') + "  ";
      out += std::string(value_width > value.size() ? value_width - value.size() : 0, ' ');
      out += value + '\n';
    }
  }
  if (!scalars.empty()) {
    if (!out.empty()) out += '\n';
    Table table({false, false});
    for (auto& [label, value] : scalars) table.add_row({label, value});
    out += table.render();
  }
  return out;
}

std::string format_sessions(const json& result) {
  Table table({true, false, false, false, false, false, true, true, true, true, true});
  table.add_row({"ID", "PROTO", "ROLE", "STATE", "PEER", "LOCAL", "AGE", "IN(B)", "OUT(B)",
                 "IN(MSG)", "OUT(MSG)"});
  auto sessions = result.find("sessions");
  if (sessions != result.end() && sessions->is_array()) {
    for (const json& s : *sessions) {
      std::string age = "-";
      if (auto a = s.find("age"); a != s.end() && a->is_number())
        age = format_duration(a->get<double>());
      table.add_row({member_text(s, "id"), member_text(s, "protocol"), member_text(s, "role"),
                     member_text(s, "state"), member_text(s, "peer"),
                     member_text(s, "local_address"), age, member_text(s, "bytes_in"),
                     member_text(s, "bytes_out"), member_text(s, "messages_in"),
                     member_text(s, "messages_out")});
    }
  }
  return table.render();
}

std::string format_resources(const json& result) {
  Table table({false, false, true, false, false, true, true, false});
  table.add_row({"PATH", "SOURCE", "CT", "METHODS", "OBS", "OBSERVERS", "SIZE", "ETAG"});
  auto list = result.find("resources");
  if (list != result.end() && list->is_array()) {
    for (const json& r : *list) {
      std::string etag = member_text(r, "etag");
      if (etag.empty()) etag = "-";
      table.add_row({member_text(r, "path"), member_text(r, "source"), member_text(r, "ct"),
                     member_text(r, "methods"), member_text(r, "observable"),
                     member_text(r, "observers"), member_text(r, "size"), etag});
    }
  }
  return table.render();
}

std::string format_response_head(const control::RequestResult& result) {
  std::string out = result.code.empty() ? "-" : result.code;
  if (!result.code_name.empty()) out += " " + result.code_name;
  out += '\n';
  for (const control::OptionEntry& option : result.options) {
    const std::string name =
        option.name.empty() ? "Option " + std::to_string(option.number) : option.name;
    out += name + ": " + option.text() + '\n';
  }
  out += '\n';
  return out;
}

std::string format_event_line(const nlohmann::json& event) {
  std::string line = field_text(event, "time");
  line += ' ';
  line += field_text(event, "event");
  line += " session=";
  line += field_text(event, "session_id");
  line += " peer=";
  line += field_text(event, "peer");
  if (event.contains("reason")) {
    line += " reason=";
    line += field_text(event, "reason");
  }
  if (event.contains("attempt")) {
    line += " attempt=";
    line += field_text(event, "attempt");
  }
  return line;
}

std::string format_timer_probe(const control::TimerProbeResult& r) {
  return "timers:    " + std::to_string(r.count) + " x " + std::to_string(r.interval_ms) + " ms\n" +
         "early:     " + std::to_string(r.early) + "\n" + "lateness:  min " +
         std::to_string(r.min_lateness_us) + " us, p50 " + std::to_string(r.lateness_us.p50) +
         " us, p99 " + std::to_string(r.lateness_us.p99) + " us, max " +
         std::to_string(r.lateness_us.max) + " us\n";
}

}  // namespace coapctl
