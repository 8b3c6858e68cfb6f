#!/usr/bin/env bash
# Installs what coapd needs, builds it, and runs it in the foreground on its
# embedded defaults (TAP coap0: coapd at 192.0.2.2, the host at 192.0.2.1;
# if the host already uses 192.0.2.0/24, coapd takes 198.51.100.0/24 or
# 203.0.113.0/24 instead) and prints the address to use once it serves.
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
sock=/run/coapd/coapd.sock
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
    --control-socket) sock=${args[i + 1]:-$sock} ;;
    --control-socket=*) sock=${args[i]#*=} ;;
  esac
done
echo "run.sh: starting coapd (Ctrl-C stops it)"
build/bin/coapd "$@" &
coapd=$!
# Ctrl-C reaches coapd itself (same process group); a TERM to this script is
# passed on.
trap 'kill -TERM $coapd 2>/dev/null' TERM
trap ':' INT
# The address coapd chose (it says why in its ready line if not 192.0.2.2).
for _ in $(seq 100); do
  kill -0 $coapd 2>/dev/null || break
  addr=$(build/bin/coapctl --socket "$sock" status 2>/dev/null |
    sed -n 's/^Addresses: *\(address=\)\{0,1\}\([0-9.]*\)\/.*/\2/p') || true
  if [[ -n $addr ]]; then
    echo "run.sh: coapd serves CoAP at $addr; from another terminal:"
    echo "    coap-client-notls coap://$addr/.well-known/core"
    break
  fi
  sleep 0.1
done
rc=0
wait $coapd || rc=$?
# After Ctrl-C the first wait returns early; wait for coapd itself.
kill -0 $coapd 2>/dev/null && { wait $coapd || rc=$?; }
exit $rc
