# Runs at install time (`cmake --install build [--prefix P]`, also under
# DESTDIR), not at configure time: the prefix is only known then. Installs
# the config file and the unit, whose ExecStart and --config name the paths
# of this very install. Set by the caller: COAPD_SOURCE_DIR,
# COAPD_BINARY_DIR, COAPD_SBINDIR (relative to the prefix, or absolute),
# COAPD_UNITDIR ("" for PREFIX/lib/systemd/system).
set(prefix "${CMAKE_INSTALL_PREFIX}")
if(IS_ABSOLUTE "${COAPD_SBINDIR}")
  set(sbin "${COAPD_SBINDIR}")
else()
  set(sbin "${prefix}/${COAPD_SBINDIR}")
endif()
# As GNUInstallDirs does for the /usr prefix: its configuration lives in /etc.
if(prefix STREQUAL "/usr")
  set(etc "/etc")
else()
  set(etc "${prefix}/etc")
endif()
if(COAPD_UNITDIR)
  set(unitdir "${COAPD_UNITDIR}")
else()
  set(unitdir "${prefix}/lib/systemd/system")
endif()

file(READ "${COAPD_SOURCE_DIR}/systemd/coapd.service" unit)
string(REPLACE "/usr/local/sbin/coapd" "${sbin}/coapd" unit "${unit}")
string(REPLACE "/usr/local/etc/coapd/coapd.conf" "${etc}/coapd/coapd.conf" unit "${unit}")
file(WRITE "${COAPD_BINARY_DIR}/install-unit/coapd.service" "${unit}")
file(INSTALL "${COAPD_BINARY_DIR}/install-unit/coapd.service" DESTINATION "${unitdir}")
file(INSTALL "${COAPD_SOURCE_DIR}/config/coapd.conf" DESTINATION "${etc}/coapd")
