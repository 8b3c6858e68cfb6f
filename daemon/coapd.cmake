# The coapd daemon.
add_library(coapd_daemon STATIC
  control_server.cc
  daemon.cc
  engine.cc
  event_log.cc
  loop_poster.cc
  placement.cc
  status_json.cc
)
target_link_libraries(coapd_daemon PUBLIC coap_core lwip_tap coapd_config coapd_control coapd_stats
  PkgConfig::SYSTEMD PkgConfig::LIBUV spdlog::spdlog nlohmann_json::nlohmann_json)
coapd_pch(coapd_daemon <nlohmann/json.hpp> <spdlog/spdlog.h> <functional> <string> <vector>)
add_executable(coapd main.cc)
target_link_libraries(coapd PRIVATE coapd_daemon)
install(TARGETS coapd RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
