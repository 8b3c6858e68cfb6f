#!/usr/bin/env bash
# Call-home soak test (see test/integration/soak.py for the scenario).
#   scripts/soak.sh DURATION_SECONDS [--min-cycles N] [--cycle-ms MS]
#   scripts/soak.sh --cycles N [--cycle-ms MS]
# --cycle-ms scales every pause of a cycle and coapd's reconnect interval and
# connect timeout (default 300; 100 runs 100,000 cycles in about 3 hours).
# Installs what it needs (scripts/install-deps.sh: nftables, libcoap's tools,
# ...; a no-op when all is there) and builds coapd in BUILD_DIR
# (COAPD_BUILD_DIR, default build) when needed. Runs inside its own network
# namespace, removed at the end. Needs root. Exit status 0 when the soak passed.
set -euo pipefail
cd "$(dirname "$0")/.."
usage() {
  echo "usage: scripts/soak.sh DURATION_SECONDS [--min-cycles N] [--cycle-ms MS]" >&2
  echo "       scripts/soak.sh --cycles N [--cycle-ms MS]" >&2
  exit 2
}
[[ $# -ge 1 ]] || usage
args=()
if [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
  args=(--duration "$1")
  shift
fi
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cycles|--min-cycles|--cycle-ms)
      [[ $# -ge 2 ]] || usage
      args+=("$1" "$2")
      shift 2
      ;;
    --json) args+=("$1"); shift ;;
    *) usage ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "soak.sh: run as root (network namespaces, TAP)" >&2; exit 1; }
# Always: the binaries may be there while a tool the soak needs (nft) is not.
scripts/install-deps.sh
BUILD_DIR=${COAPD_BUILD_DIR:-build}
[[ -f $BUILD_DIR/CMakeCache.txt ]] ||
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" --target coapd coapctl
COAPD_BUILD_DIR=$(realpath "$BUILD_DIR") exec /usr/bin/python3 test/integration/soak.py "${args[@]}"
