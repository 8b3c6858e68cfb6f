# coapctl, the command-line client of coapd's control socket.
add_library(coapctl_lib STATIC
  coapctl_client.cc
  coapctl_commands.cc
  coapctl_format.cc
)
target_link_libraries(coapctl_lib PUBLIC coapd_control nlohmann_json::nlohmann_json)
coapd_pch(coapctl_lib <nlohmann/json.hpp>)

add_executable(coapctl coapctl.cc)
target_link_libraries(coapctl PRIVATE coapctl_lib coapd_control CLI11::CLI11
                                      nlohmann_json::nlohmann_json)
install(TARGETS coapctl)
