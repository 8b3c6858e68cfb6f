#!/usr/bin/env bash
# Installs everything the tests need, builds coapd, and runs every test:
#  1. unit tests and integration tests (the real coapd in network namespaces
#     against libcoap's tools, kernel-socket peers and a second coapd);
#  2. the libFuzzer targets (test/fuzz) over their corpora plus fresh input
#     (scripts/fuzz.sh --ci, about 3 minutes);
#  3. the unit tests, and the integration tests but the slow ones (churn,
#     floods, soak: marked slow), under AddressSanitizer + UBSan;
#  4. the lwIP unit tests and the integration tests but the slow ones under
#     ThreadSanitizer (coapd, and lwIP with its tcpip_thread, are the
#     threaded parts).
# Needs root (network namespaces, TAP devices). About 25 minutes on 2 cores,
# most of it building four times.
#   scripts/test.sh            everything
#   scripts/test.sh --quick    step 1 only
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) -eq 0 ]] || { echo "test.sh: run as root (tests create network namespaces)" >&2; exit 1; }
quick=0
[[ "${1:-}" == "--quick" ]] && quick=1

scripts/install-deps.sh
root=$(pwd)
section() { printf '\n=== %s (%s) ===\n' "$*" "$(date +%T)"; }
configure() {  # DIR [cmake args...]
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
}
integration() {  # BUILD_DIR [pytest args...]: the integration suite against that build
  local dir=$1; shift
  (cd test/integration && COAPD_BUILD_DIR="$root/$dir" /usr/bin/python3 -m pytest -q "$@" .)
}

section "shape: clang-format, file and function sizes"
scripts/check_shape.py
clang-format --dry-run --Werror $(git ls-files '*.cc' '*.h' 2>/dev/null || find coap config daemon lwip_tap test -name '*.cc' -o -name '*.h')

section "build"
configure build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOAPD_BUILD_TESTS=ON
cmake --build build
section "unit and integration tests"
(cd build && ctest --output-on-failure)
(( quick )) && { section "all tests passed (quick)"; exit 0; }

section "fuzz targets: corpora plus fresh input (scripts/fuzz.sh --ci)"
scripts/fuzz.sh --ci

section "build with AddressSanitizer + UndefinedBehaviorSanitizer"
configure build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g1" \
  -DCOAPD_SANITIZE=address -DCOAPD_BUILD_TESTS=ON -DCOAPD_BUILD_BENCH=OFF
cmake --build build-asan
section "unit and integration tests (not slow) under ASan+UBSan"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -L unit)
integration build-asan -m "not slow"
unset ASAN_OPTIONS UBSAN_OPTIONS

# clang, so that this build also checks the lock annotations
# (-Wthread-safety, an error like every warning).
section "build coapd and the lwIP unit tests with clang: ThreadSanitizer and -Wthread-safety"
CC=clang CXX=clang++ configure build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCOAPD_SANITIZE=thread -DCOAPD_BUILD_TESTS=ON \
  -DCOAPD_BUILD_BENCH=OFF
cmake --build build-tsan --target coapd coapctl manpages lwip_tap_unit_tests daemon_unit_tests
section "lwIP unit tests and integration tests (not slow) under TSan"
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
build-tsan/bin/lwip_tap_unit_tests  # lwIP's tcpip_thread and the test thread
integration build-tsan -m "not slow"
unset TSAN_OPTIONS

section "all tests passed"
