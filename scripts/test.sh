#!/usr/bin/env bash
# Installs everything the tests need, builds coapd, and runs every test:
# unit tests and integration tests (real coapd in network namespaces against
# libcoap's tools and peers written here), then both again under
# AddressSanitizer + UndefinedBehaviorSanitizer, and the threaded parts
# (unit tests, TCP and call-home integration tests) under ThreadSanitizer.
# Needs root (network namespaces, TAP devices).
#   scripts/test.sh            everything
#   scripts/test.sh --quick    one plain build and its tests, no sanitizers
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) -eq 0 ]] || { echo "test.sh: run as root (tests create network namespaces)" >&2; exit 1; }
quick=0
[[ "${1:-}" == "--quick" ]] && quick=1

scripts/install-deps.sh
jobs=$(nproc)

build() {  # build DIR [cmake args...]
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja -DCOAPD_BUILD_TESTS=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

section() { printf '\n=== %s ===\n' "$*"; }

section "build (RelWithDebInfo)"
build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
section "unit and integration tests"
(cd build && ctest --output-on-failure)
(( quick )) && exit 0

section "build with AddressSanitizer + UndefinedBehaviorSanitizer"
build build-asan -DCMAKE_BUILD_TYPE=Debug -DCOAPD_SANITIZE=address
section "unit and integration tests under ASan+UBSan"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure)

section "build with ThreadSanitizer"
build build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOAPD_SANITIZE=thread
section "unit tests and threaded integration tests under TSan"
(cd build-tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  PYTEST_ADDOPTS='-k "tcp or callhome or client or daemon"' ctest --output-on-failure)
section "all tests passed"
