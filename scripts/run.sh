#!/usr/bin/env bash
# Installs what coapd needs, builds it, and runs it in the foreground on its
# embedded defaults (TAP coap0: coapd at 192.0.2.2, the host at 192.0.2.1).
# Extra arguments go to coapd (see build/bin/coapd --help). Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) -eq 0 ]] || { echo "run.sh: run as root (coapd creates a TAP interface)" >&2; exit 1; }
scripts/install-deps.sh --runtime-only
# libcoap's tools, to talk to coapd from the host: coap-client-notls.
dpkg-query -W -f='${Status}' libcoap3-bin 2>/dev/null | grep -q "install ok installed" ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libcoap3-bin
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOAPD_BUILD_TESTS=OFF >/dev/null
cmake --build build --target coapd coapctl
mkdir -p /run/coapd
echo "run.sh: starting coapd; from another terminal: coap-client-notls coap://192.0.2.2/.well-known/core"
exec build/bin/coapd "$@"
