#!/usr/bin/env bash
# Call-home soak test (see test/integration/soak.py for the scenario).
#   scripts/soak.sh DURATION_SECONDS [--min-cycles N]
# Builds coapd if needed; runs inside its own network namespace, removed at
# the end. Needs root. Exit status 0 when the soak passed.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 1 ]] || { echo "usage: scripts/soak.sh DURATION_SECONDS [--min-cycles N]" >&2; exit 2; }
duration=$1; shift
[[ $(id -u) -eq 0 ]] || { echo "soak.sh: run as root (network namespaces, TAP)" >&2; exit 1; }
BUILD_DIR=${COAPD_BUILD_DIR:-build}
if [[ ! -x $BUILD_DIR/bin/coapd || ! -x $BUILD_DIR/bin/coapctl ]]; then
  scripts/install-deps.sh
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD_DIR" --target coapd coapctl
fi
COAPD_BUILD_DIR=$(realpath "$BUILD_DIR") exec /usr/bin/python3 test/integration/soak.py --duration "$duration" "$@"
