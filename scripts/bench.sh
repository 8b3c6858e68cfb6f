#!/usr/bin/env bash
# Benchmarks coapd against Debian's libcoap servers (libcoap3-bin) with the
# coap_load generator, side by side in the same run, and prints medians, the
# ratio coapd / peer and each scenario's goal: plain CoAP against
# coap-server-notls, DTLS and TLS (PSK) against coap-server-openssl.
#
#   scripts/bench.sh [--quick] [--duration S] [--warmup S] [--runs N]
#                    [--scenarios udp_1x32,udp_4x32,tcp_1x32,tcp_8x32,churn,churn_drain,
#                                 udp_1x1,tcp_1x1,ceiling,dtls_1x32,dtls_churn,tls_1x32]
#                    [--only GROUP[,GROUP...]] [--ciphersuite NAME]
#                    [--peer-only] [--no-build] [--out FILE] [--pin]
#
#   --quick       smoke test: 0.5 s runs after 0.2 s warmup (default 5 s + 1 s)
#   --runs N      runs per server and scenario (default 3)
#   --only G,...  only the scenarios of these groups: udp, tcp, churn (the
#                 plain ones), latency (udp_1x1, tcp_1x1: p50 at one request
#                 in flight), ceiling (coapd against tap_reflector, a
#                 stackless echo on the same TAP), dtls, tls (the secure
#                 ones), engine (coapd's
#                 timer and wake-up measurements, otherwise run after the
#                 scenarios), scale (coapd alone holding 10,000 idle TCP
#                 sessions and 100,000 UDP peers: RSS per session, a new
#                 client's p99, 1x32 with and without them; test/bench/scale.py);
#                 e.g. --only dtls,tls
#   --ciphersuite NAME  the one cipher suite the secure scenarios' client
#                 offers (mbedTLS name; default TLS-PSK-WITH-AES-128-CCM-8,
#                 see Method); "default" offers all of mbedTLS's PSK suites
#   --peer-only   measure the libcoap servers only (coapd not needed)
#   --no-build    use the binaries already in BUILD_DIR (nothing installed either)
#   --out FILE    also write the per-run coap_load JSON lines to FILE
#   --pin         pin the server to CPU 0 and the load generator to CPU 1
#                 (taskset), so that both servers get exactly one core
#
# Environment: BUILD_DIR (default: build-bench, a Release build of its own with
#              the bench tools; never the build/ that run.sh or test.sh use),
#              CMAKE_ARGS (extra cmake arguments), CMAKE_BUILD_PARALLEL_LEVEL
#              (build jobs),
#              COAPD_ARGS (extra coapd arguments), CHURN_CLOSE (eof: the
#              client half-closes and reads to the server's FIN, the default;
#              drain: it reads what is there and closes).
#
# Method (see /work/shared/TESTING_NOTES.md: single runs vary by up to ~30%):
#   - for each scenario, runs alternate A B B A A B ... (A = coapd,
#     B = coap-server-notls), N runs of each, and the table shows medians;
#   - every run gets a fresh network namespace of its own (lo up, local port
#     range widened), with the server and the load generator inside it; it is
#     deleted after the run and, whatever happens, on exit. No packet leaves it.
#     A fresh namespace per run also matters for churn: lwIP sends no TCP
#     timestamps, so the client's TIME_WAIT sockets cannot be reused and the
#     local ports of one run are gone for 60 s.
#   - coapd serves on its own lwIP stack behind TAP coap0 (192.0.2.2, kernel
#     side 192.0.2.1); the peer listens on 127.0.0.1. Both serve /time.
#   - churn and churn_drain: a new connection per request, the client sending
#     its GET only after the server's CSM arrived (coap_load --wait-csm, as
#     libcoap's client does) and closing first: churn half-closes and reads
#     to the server's FIN (CHURN_CLOSE=drain makes it churn_drain's), churn_drain
#     reads the response and closes.
#   - ceiling: UDP 1x32 against coapd and against build-bench/bin/tap_reflector
#     on the same TAP (one read and one write per request, no stack): the
#     ratio is coapd's fraction of what any server behind this TAP can do.
#   - udp_1x1, tcp_1x1: p50 latency with one request in flight; the ratio is
#     coapd / peer, and the goal is below 1 (lower is better).
#   - Secure scenarios (dtls_*, tls_*): both servers have the same PSK
#     (identity coapd-bench; coapd from a --psk-file, coap-server-openssl
#     with -k and -h) on port 5684, and coap_load runs coapd's own
#     coap::SecureChannel (mbedTLS) as the client of both, offering one suite
#     only, so that both negotiate the same; the table prints what each
#     negotiated. The default is RFC 7925's PSK suite, TLS_PSK_WITH_AES_128_CCM_8
#     (no ECDHE: a handshake is symmetric crypto only). Offering all of
#     mbedTLS's PSK suites (--ciphersuite default), both servers pick
#     TLS-ECDHE-PSK-WITH-CHACHA20-POLY1305-SHA256, the client's first.
#   - Every coap_load run is bounded by timeout(1); only the PIDs this script
#     started are ever killed.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
  exit "${1:-0}"
}

# ---------------------------------------------------------------- options --
DURATION=5
WARMUP=1
RUNS=3
QUICK=0
PEER_ONLY=0
BUILD=1
OUT=""
PIN=0
SCENARIOS="udp_1x32,udp_4x32,tcp_1x32,tcp_8x32,churn,churn_drain,udp_1x1,tcp_1x1,ceiling,dtls_1x32,dtls_churn,tls_1x32"
ONLY=""
CIPHERSUITE="TLS-PSK-WITH-AES-128-CCM-8"
DURATION_SET=0
WARMUP_SET=0
RUNS_SET=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --duration) DURATION="$2"; DURATION_SET=1; shift ;;
    --warmup) WARMUP="$2"; WARMUP_SET=1; shift ;;
    --runs) RUNS="$2"; RUNS_SET=1; shift ;;
    --scenarios) SCENARIOS="$2"; shift ;;
    --only) ONLY="$2"; shift ;;
    --ciphersuite) CIPHERSUITE="$2"; shift ;;
    --peer-only) PEER_ONLY=1 ;;
    --no-build) BUILD=0 ;;
    --out) OUT="$2"; shift ;;
    --pin) PIN=1 ;;
    -h|--help) usage 0 ;;
    *) echo "bench.sh: unknown option $1" >&2; usage 2 ;;
  esac
  shift
done
if [[ $QUICK == 1 ]]; then
  [[ $DURATION_SET == 1 ]] || DURATION=0.5
  [[ $WARMUP_SET == 1 ]] || WARMUP=0.2
  [[ $RUNS_SET == 1 ]] || RUNS=3
fi

cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR="${BUILD_DIR:-build-bench}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
BIN="$BUILD_DIR/bin"

PEER_SERVER=coap-server-notls
SECURE_PEER_SERVER=coap-server-openssl
PEER_ADDR=127.0.0.1
COAPD_ADDR=192.0.2.2
COAPD_HOST_ADDR=192.0.2.1
PORT=5683
SECURE_PORT=5684   # DTLS and TLS, on both servers (libcoap: PORT + 1)
PSK_ID=coapd-bench
PSK_KEY=bench-secret
PSK_HINT=coapd-bench
RESOURCE=/time
# Extra local addresses the churn client connects from, round-robin: each adds
# ~64k local ports, which a churn run against lwIP (no TIME_WAIT reuse) needs.
# The peer gets the same number of loopback addresses so the client does the
# same work on both sides.
COAPD_CHURN_SOURCES="192.0.2.11,192.0.2.12,192.0.2.13,192.0.2.14"
PEER_CHURN_SOURCES="127.0.0.11,127.0.0.12,127.0.0.13,127.0.0.14"

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root (ip netns)"
if [[ $BUILD == 1 ]]; then
  # What the build and the runs need: the build packages, and the peer.
  "$ROOT/scripts/install-deps.sh" --runtime-only
  dpkg-query -W -f='${Status}' libcoap3-bin 2>/dev/null | grep -q "install ok installed" ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libcoap3-bin
fi
command -v ip >/dev/null || die "ip (iproute2) not found"
command -v "$PEER_SERVER" >/dev/null ||
  die "$PEER_SERVER not found: apt-get install libcoap3-bin"
command -v "$SECURE_PEER_SERVER" >/dev/null ||
  die "$SECURE_PEER_SERVER not found: apt-get install libcoap3-bin"
command -v timeout >/dev/null || die "timeout (coreutils) not found"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer"
SERVER_CPU=()
LOAD_CPU=()
if [[ $PIN == 1 ]]; then
  command -v taskset >/dev/null || die "--pin needs taskset (util-linux)"
  [[ $(nproc) -ge 2 ]] || die "--pin needs two CPUs"
  SERVER_CPU=(taskset -c 0)
  LOAD_CPU=(taskset -c 1)
fi

# ---------------------------------------------------- cleanup, namespaces --
TMP_DIR=$(mktemp -d /tmp/coapd-bench.XXXXXX)
NAMESPACES=()   # created by this script, deleted on exit
SERVER_PID=""   # the one server of the current run
LOAD_PID=""     # the load generator of the current run

stop_server() {
  local pid="$SERVER_PID"
  SERVER_PID=""
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Deletes namespace $1 if this script created it.
ns_delete() {
  local ns="$1" i
  for i in "${!NAMESPACES[@]}"; do
    if [[ "${NAMESPACES[$i]}" == "$ns" ]]; then
      ip netns del "$ns" 2>/dev/null || true
      unset "NAMESPACES[$i]"
    fi
  done
  return 0
}

cleanup() {
  local ns
  if [[ -n "$LOAD_PID" ]]; then
    kill -TERM "$LOAD_PID" 2>/dev/null || true
    wait "$LOAD_PID" 2>/dev/null || true
  fi
  stop_server
  for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  NAMESPACES=()
  rm -rf "$TMP_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Creates a fresh namespace with lo up and sets NS to its name. (Functions
# here set globals instead of printing: a $(...) subshell would lose
# NAMESPACES and SERVER_PID, and with them the cleanup.)
NS=""
ns_create() {
  NS="coapd-bench-$$-$RANDOM"
  ip netns add "$NS" || return 1
  NAMESPACES+=("$NS")
  ip -n "$NS" link set lo up || return 1
  # Per namespace: more local ports for churn.
  ip netns exec "$NS" sysctl -q -w net.ipv4.ip_local_port_range="1024 65535" || return 1
}

# ---------------------------------------------------------------- build ----
if [[ $BUILD == 1 ]]; then
  log "building in $BUILD_DIR"
  # shellcheck disable=SC2086  # CMAKE_ARGS is a list of words
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOAPD_BUILD_TESTS=OFF \
    -DCOAPD_BUILD_BENCH=ON ${CMAKE_ARGS:-} >/dev/null
  targets=(coap_load tap_reflector)
  if [[ $PEER_ONLY == 0 ]]; then
    targets+=(coapd coapctl)
  fi
  cmake --build "$BUILD_DIR" --target "${targets[@]}"  # CMAKE_BUILD_PARALLEL_LEVEL applies
fi
[[ -x "$BIN/coap_load" ]] || die "$BIN/coap_load missing (build it, or set BUILD_DIR)"
if [[ $PEER_ONLY == 0 && ! -x "$BIN/coapd" ]]; then
  die "$BIN/coapd missing; use --peer-only to measure coap-server-notls alone"
fi

# ------------------------------------------------------------- servers -----
# The secure scenarios' PSK, the same for both servers.
PSK_FILE="$TMP_DIR/psk"
echo "$PSK_ID $PSK_KEY" >"$PSK_FILE"
chmod 600 "$PSK_FILE"
SECURE_ARGS=(--psk-identity "$PSK_ID" --psk-key "$PSK_KEY")
[[ $CIPHERSUITE == default ]] || SECURE_ARGS+=(--ciphersuite "$CIPHERSUITE")

is_secure() { [[ $1 == dtls_* || $1 == tls_* ]]; }

# coap_load bounded in time: its own run is warmup + duration; a hang (a
# bug) ends after 30 s more.
coap_load_in() {  # namespace, coap_load arguments...
  local ns="$1"
  shift
  local limit
  limit=$(awk -v d="$DURATION" -v w="$WARMUP" 'BEGIN { printf "%d\n", d + w + 30 }')
  ip netns exec "$ns" timeout -k 5 "$limit" "${LOAD_CPU[@]}" "$BIN/coap_load" "$@"
}

# Polls until the server at $2 answers a CoAP GET (coap_load exits 0 only
# when it got a response), or the server process died, or ~10 s passed. With
# $3 (dtls or tls), over that instead (a handshake, then the GET).
wait_coap_ready() {
  local ns="$1" target="$2" mode="${3:-udp}" _ extra=()
  [[ $mode == udp ]] || extra=("${SECURE_ARGS[@]}" --handshake-timeout 1)
  for _ in $(seq 50); do
    kill -0 "$SERVER_PID" 2>/dev/null || return 1
    if ip netns exec "$ns" timeout -k 1 5 "$BIN/coap_load" "$mode" --target "$target" \
        --path "$RESOURCE" --window 1 --warmup 0 --duration 0.1 --timeout 0.1 "${extra[@]}" \
        >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# Starts coapd in namespace $1; with $2 = 1 with the PSK (DTLS and TLS on
# SECURE_PORT). Sets TARGET_ADDR.
start_coapd() {
  local ns="$1" secure="$2" log_file="$TMP_DIR/coapd.log" sock="$TMP_DIR/coapd-$1.sock" _
  local extra=()
  [[ $secure == 1 ]] && extra=(--psk-file "$PSK_FILE" --dtls-port "$SECURE_PORT" --tls-port "$SECURE_PORT")
  # shellcheck disable=SC2086  # COAPD_ARGS is a list of words
  ip netns exec "$ns" "${SERVER_CPU[@]}" "$BIN/coapd" --tap coap0 \
    --address "$COAPD_ADDR/24" --host-address "$COAPD_HOST_ADDR/24" \
    --control-socket "$sock" --log-level warn "${extra[@]}" ${COAPD_ARGS:-} >"$log_file" 2>&1 &
  SERVER_PID=$!
  # Readiness: coapctl status when it exists, then a CoAP GET either way.
  if [[ -x "$BIN/coapctl" ]]; then
    for _ in $(seq 100); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      ip netns exec "$ns" "$BIN/coapctl" --socket "$sock" status >/dev/null 2>&1 && break
      sleep 0.1
    done
  fi
  if ! wait_coap_ready "$ns" "$COAPD_ADDR:$PORT"; then
    log "coapd did not become ready; its log:"; tail -n 20 "$log_file" >&2; return 1
  fi
  # Source addresses for churn, on the kernel side of the TAP.
  local a
  for a in ${COAPD_CHURN_SOURCES//,/ }; do
    ip -n "$ns" addr add "$a/24" dev coap0 || return 1
  done
  TARGET_ADDR="$COAPD_ADDR"
}

# Starts the peer for scenario $2 in namespace $1: coap-server-notls, or for
# the secure ones coap-server-openssl with the PSK. Sets TARGET_ADDR.
start_peer() {
  local ns="$1" scenario="$2" server="$PEER_SERVER" extra=()
  if is_secure "$scenario"; then
    server="$SECURE_PEER_SERVER"
    extra=(-k "$PSK_KEY" -h "$PSK_HINT")
  fi
  local log_file="$TMP_DIR/$server.log"
  ip netns exec "$ns" "${SERVER_CPU[@]}" "$server" -A "$PEER_ADDR" -p "$PORT" "${extra[@]}" \
    >"$log_file" 2>&1 &
  SERVER_PID=$!
  if ! wait_coap_ready "$ns" "$PEER_ADDR:$PORT"; then
    log "$server did not become ready; its log:"; tail -n 20 "$log_file" >&2; return 1
  fi
  TARGET_ADDR="$PEER_ADDR"
}

# The ceiling's "peer": tap_reflector on TAP coap0 in namespace $1, with the
# kernel side addressed as for coapd. Sets TARGET_ADDR.
start_reflector() {
  local ns="$1" log_file="$TMP_DIR/tap_reflector.log" _
  [[ -x "$BIN/tap_reflector" ]] || { log "$BIN/tap_reflector missing"; return 1; }
  ip netns exec "$ns" "${SERVER_CPU[@]}" "$BIN/tap_reflector" --tap coap0 \
    --address "$COAPD_ADDR" --port "$PORT" >"$log_file" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 50); do
    ip -n "$ns" link show coap0 >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  ip -n "$ns" addr add "$COAPD_HOST_ADDR/24" dev coap0 && ip -n "$ns" link set coap0 up || {
    log "tap_reflector: no TAP coap0; its log:"; tail -n 5 "$log_file" >&2; return 1; }
  if ! wait_coap_ready "$ns" "$COAPD_ADDR:$PORT"; then
    log "tap_reflector did not answer; its log:"; tail -n 5 "$log_file" >&2; return 1
  fi
  TARGET_ADDR="$COAPD_ADDR"
}

# Starts a server ("coapd" or "peer") for scenario $3 in namespace $2, waits
# until it answers (secure scenarios: a handshake and a GET on SECURE_PORT)
# and sets TARGET to the IP:PORT for the load generator.
TARGET=""
TARGET_ADDR=""
start_server() {
  local which="$1" ns="$2" scenario="$3" secure=0 port="$PORT"
  is_secure "$scenario" && secure=1 && port="$SECURE_PORT"
  if [[ $which == coapd ]]; then
    start_coapd "$ns" "$secure" || return 1
  else
    if [[ $scenario == ceiling ]]; then
      start_reflector "$ns" || return 1
    else
      start_peer "$ns" "$scenario" || return 1
    fi
  fi
  TARGET="$TARGET_ADDR:$port"
  if [[ $secure == 1 ]] && ! wait_coap_ready "$ns" "$TARGET" "${scenario%%_*}"; then
    log "$which: no ${scenario%%_*} handshake and GET at $TARGET"; return 1
  fi
}

# ------------------------------------------------------------- scenarios ---
scenario_args() {
  case "$1" in
    udp_1x32) echo "udp --sockets 1 --window 32" ;;
    tcp_1x32) echo "tcp --conns 1 --window 32" ;;
    tcp_8x32) echo "tcp --conns 8 --window 32" ;;
    churn) echo "churn --conns 1 --wait-csm --close ${CHURN_CLOSE:-eof}" ;;
    churn_drain) echo "churn --conns 1 --wait-csm --close drain" ;;
    udp_4x32) echo "udp --sockets 4 --window 32" ;;
    udp_1x1) echo "udp --sockets 1 --window 1" ;;
    tcp_1x1) echo "tcp --conns 1 --window 1" ;;
    ceiling) echo "udp --sockets 1 --window 32" ;;
    dtls_1x32) echo "dtls --conns 1 --window 32" ;;
    dtls_churn) echo "dtls_churn --conns 1" ;;
    tls_1x32) echo "tls --conns 1 --window 32" ;;
    *) return 1 ;;
  esac
}
scenario_metric() {
  case "$1" in
    *churn*) echo conn_per_s ;;
    *_1x1) echo p50_us ;;
    *) echo req_per_s ;;
  esac
}
# The goal for coapd / peer (issue 14: the plain ones; issue 9: the secure
# ones); "<1" for the latency ones, where lower is better.
scenario_goal() {
  case "$1" in
    udp_1x32|udp_4x32) echo 2.0 ;;
    tcp_1x32) echo 2.5 ;;
    tcp_8x32) echo 4.0 ;;
    churn|churn_drain) echo 1.5 ;;
    udp_1x1|tcp_1x1) echo "<1" ;;
    ceiling) echo 0.7 ;;
    dtls_churn) echo 1.0 ;;
    dtls_1x32) echo 1.3 ;;
    *) echo 1.5 ;;
  esac
}
scenario_peer() {
  if is_secure "$1"; then echo "$SECURE_PEER_SERVER"
  elif [[ $1 == ceiling ]]; then echo tap_reflector
  else echo "$PEER_SERVER"; fi
}
# The group --only selects by: udp, tcp, churn, latency, ceiling, dtls, tls.
scenario_group() {
  case "$1" in
    churn*) echo churn ;;
    *_1x1) echo latency ;;
    ceiling) echo ceiling ;;
    dtls_*) echo dtls ;;
    *) echo "${1%%_*}" ;;
  esac
}

RESULTS="$TMP_DIR/results.jsonl"   # one line per run: {"scenario","server",...coap_load JSON}
: >"$RESULTS"
FAILED=0

# One measured run: fresh namespace, server, load, teardown.
run_one() {
  local scenario="$1" which="$2" ns args sources json rc=0 secure_args=()
  args=$(scenario_args "$scenario")
  ns_create || { log "cannot set up a namespace"; ns_delete "$NS"; return 1; }
  ns="$NS"
  if ! start_server "$which" "$ns" "$scenario"; then
    stop_server; ns_delete "$ns"; return 1
  fi
  sources=""
  if [[ $scenario == churn* ]]; then
    [[ $which == coapd ]] && sources="--source $COAPD_CHURN_SOURCES" ||
      sources="--source $PEER_CHURN_SOURCES"
  fi
  is_secure "$scenario" && secure_args=("${SECURE_ARGS[@]}")
  # In the background and waited for, so that a signal to this script is
  # handled at once rather than after the run.
  # shellcheck disable=SC2086  # args and sources are lists of words
  coap_load_in "$ns" $args $sources "${secure_args[@]}" --target "$TARGET" \
    --path "$RESOURCE" --duration "$DURATION" --warmup "$WARMUP" --json \
    >"$TMP_DIR/load.out" 2>"$TMP_DIR/load.err" &
  LOAD_PID=$!
  wait "$LOAD_PID" || rc=$?
  LOAD_PID=""
  json=$(cat "$TMP_DIR/load.out")
  stop_server
  ns_delete "$ns"
  # coap_load prints a human line, then the JSON line.
  log "  $which: $(echo "$json" | head -n 1)"
  if [[ $rc != 0 ]]; then
    log "  $which: coap_load failed (exit $rc$([[ $rc == 124 ]] && echo ": timed out"))"
    cat "$TMP_DIR/load.err" >&2
    return 1
  fi
  echo "{\"scenario\":\"$scenario\",\"server\":\"$which\",\"result\":$(echo "$json" | tail -n 1)}" \
    >>"$RESULTS"
}

# A B B A A B ... for RUNS runs of each; only B with --peer-only.
run_order() {
  local i order=()
  if [[ $PEER_ONLY == 1 ]]; then
    for ((i = 0; i < RUNS; i++)); do order+=(peer); done
  else
    for ((i = 0; i < RUNS; i++)); do
      if ((i % 2 == 0)); then order+=(coapd peer); else order+=(peer coapd); fi
    done
  fi
  echo "${order[@]}"
}

# --only: the scenarios of the groups named (and the engine measurements
# only when "engine" is one of them).
ENGINE=1
SCALE=1
if [[ -n $ONLY ]]; then
  ENGINE=0
  SCALE=0
  selected=()
  for g in ${ONLY//,/ }; do
    case "$g" in
      udp|tcp|churn|latency|ceiling|dtls|tls) ;;
      engine) ENGINE=1 ;;
      scale) SCALE=1 ;;
      *) die "--only: unknown group $g (udp, tcp, churn, latency, ceiling, dtls, tls, engine, scale)" ;;
    esac
  done
  for scenario in ${SCENARIOS//,/ }; do
    g=$(scenario_group "$scenario")
    [[ ",$ONLY," == *",$g,"* ]] && selected+=("$scenario")
  done
  SCENARIOS=$(IFS=,; echo "${selected[*]}")
fi

for scenario in ${SCENARIOS//,/ }; do
  scenario_args "$scenario" >/dev/null || die "unknown scenario $scenario"
  log "$scenario: $(scenario_args "$scenario") against $(scenario_peer "$scenario"), ${DURATION}s + ${WARMUP}s warmup, $RUNS runs each"
  for which in $(run_order); do
    run_one "$scenario" "$which" || FAILED=$((FAILED + 1))
  done
done

# ------------------------------------------------- engine measurements -----
# Inside coapd, each in a fresh namespace:
#  - timer accuracy: 50 ms timers on the engine's own wait (debug timer-probe),
#    idle, and with a CoAP ping arriving every 7 ms so that most waits are
#    interrupted by an event before the timer is due;
#  - wake latency: from the io thread reading a TCP segment off the TAP to
#    the engine handling it, with one request in flight (1x1) and under load
#    (1x32); coapd keeps the histogram, `coapctl stats` reports it.
ENGINE_LINES="$TMP_DIR/engine.txt"
: >"$ENGINE_LINES"
engine_coapd() {  # starts coapd with debug commands in a fresh namespace; sets NS, SOCK
  ns_create || return 1
  SOCK="$TMP_DIR/engine-$NS.sock"
  # shellcheck disable=SC2086
  ip netns exec "$NS" "${SERVER_CPU[@]}" "$BIN/coapd" --tap coap0 \
    --address "$COAPD_ADDR/24" --host-address "$COAPD_HOST_ADDR/24" --debug-commands \
    --control-socket "$SOCK" --log-level warn ${COAPD_ARGS:-} >"$TMP_DIR/engine-coapd.log" 2>&1 &
  SERVER_PID=$!
  wait_coap_ready "$NS" "$COAPD_ADDR:$PORT"
}
json_field() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"; }
probe_line() {  # label, coapctl json
  echo "$2" | /usr/bin/python3 -c "
import json,sys
d=json.load(sys.stdin); l=d['lateness_us']
ok = d['early'] == 0 and l['p99'] <= 2000
print(f\"{sys.argv[1]:<34} {l['p50']/1000:8.3f} {l['p99']/1000:8.3f} {l['max']/1000:8.3f} ms late   early {d['early']}  {'PASS' if ok else 'FAIL'} (50..52 ms at p99)\")" "$1"
}
wake_line() {  # label, stats json
  echo "$2" | /usr/bin/python3 -c "
import json,sys
w=json.load(sys.stdin)['engine']['tcp_wake_latency_us']
print(f\"{sys.argv[1]:<34} {w['p50']:8.1f} {w['p99']:8.1f} {w['max']:8.1f} us       ({w['count']} segments)\")" "$1"
}
engine_measurements() {
  local probe count=$(( QUICK == 1 ? 20 : 100 ))
  engine_coapd || return 1
  probe=$(ip netns exec "$NS" "$BIN/coapctl" --socket "$SOCK" --json debug timer-probe --count "$count") || return 1
  probe_line "timer 50 ms, idle" "$probe" >>"$ENGINE_LINES"
  ip netns exec "$NS" /usr/bin/python3 -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.time() + $count * 0.05 + 2
mid = 0
while time.time() < end:
    s.sendto(bytes([0x40, 0, (mid >> 8) & 255, mid & 255]), ('$COAPD_ADDR', $PORT))
    mid = (mid + 1) & 0xffff
    time.sleep(0.007)
" &
  LOAD_PID=$!
  probe=$(ip netns exec "$NS" "$BIN/coapctl" --socket "$SOCK" --json debug timer-probe --count "$count") || return 1
  kill "$LOAD_PID" 2>/dev/null; wait "$LOAD_PID" 2>/dev/null; LOAD_PID=""
  probe_line "timer 50 ms, ping every 7 ms" "$probe" >>"$ENGINE_LINES"
  stop_server; ns_delete "$NS"
  local w
  for w in 1 32; do
    engine_coapd || return 1
    ip netns exec "$NS" "${LOAD_CPU[@]}" "$BIN/coap_load" tcp --conns 1 --window "$w" \
      --target "$COAPD_ADDR:$PORT" --path "$RESOURCE" --duration "$DURATION" --warmup 0 >/dev/null || return 1
    wake_line "tcp wake latency, 1x$w" \
      "$(ip netns exec "$NS" "$BIN/coapctl" --socket "$SOCK" --json stats)" >>"$ENGINE_LINES"
    stop_server; ns_delete "$NS"
  done
}
if [[ $PEER_ONLY == 0 && $ENGINE == 1 ]]; then
  log "engine: timer accuracy and wake latency"
  engine_measurements || { log "engine measurements failed"; FAILED=$((FAILED + 1)); stop_server; }
fi

# ----------------------------------------------------------------- scale ---
# coapd alone (test/bench/scale.py, in a namespace of its own): 10,000 idle
# TCP sessions and 100,000 UDP peers held; RSS per session, a new client's
# p99, and UDP/TCP 1x32 with and without the idle sessions.
SCALE_LINES="$TMP_DIR/scale.txt"
if [[ $PEER_ONLY == 0 && $SCALE == 1 ]]; then
  scale_args=(--bin "$BIN" --duration "$DURATION" --warmup "$WARMUP" --runs "$RUNS")
  [[ $QUICK == 1 ]] && scale_args+=(--tcp-sessions 500 --udp-peers 2000 --clients 50)
  [[ -n "$OUT" ]] && scale_args+=(--json "$OUT.scale.json")
  log "scale: idle TCP sessions and UDP peers held by one coapd"
  COAPD_BUILD_DIR="$BUILD_DIR" /usr/bin/python3 "$ROOT/test/bench/scale.py" "${scale_args[@]}" \
    >"$SCALE_LINES" || { log "scale scenario failed"; FAILED=$((FAILED + 1)); }
fi

# ----------------------------------------------------------------- table ---
# Field $2 of the coap_load JSON inside the result lines for scenario $1 and
# server $3, one value per line.
values() {
  { grep "\"scenario\":\"$1\",\"server\":\"$3\"" "$RESULTS" || true; } |
    sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p"
}
median() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "-"; exit }
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'
}
fmt() { awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else printf "%.0f\n", v }'; }
fmt1() { awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else printf "%.1f\n", v }'; }

# The suites the runs of scenario $1 on server $2 negotiated ("a/b" when they
# differed), from coap_load's "cipher".
ciphers() {
  { grep "\"scenario\":\"$1\",\"server\":\"$2\"" "$RESULTS" || true; } |
    sed -n 's/.*"cipher":"\([^"]*\)".*/\1/p' | sort -u | paste -sd/ - | sed 's/^$/-/'
}
goal_met() {  # ratio, goal ("<N": the ratio must be below N)
  awk -v r="$1" -v g="$2" 'BEGIN {
    if (r == "-") { print "-"; exit }
    if (substr(g, 1, 1) == "<") ok = r + 0 < substr(g, 2) + 0; else ok = r + 0 >= g + 0
    print ok ? "MET" : "NOT MET" }'
}

echo
echo "coapd vs libcoap: medians of $RUNS runs, ${DURATION}s each (+${WARMUP}s warmup), $(date -u +%F), $(nproc) CPUs"
printf '%-11s %-11s %12s %12s %7s %5s %-7s   %10s %10s   %s\n' \
  scenario metric coapd peer ratio goal "" "p99 coapd" "p99 peer" "errors coapd/peer"
secure_rows=()
for scenario in ${SCENARIOS//,/ }; do
  metric=$(scenario_metric "$scenario")
  a=$(values "$scenario" "$metric" coapd | median)
  b=$(values "$scenario" "$metric" peer | median)
  pa=$(values "$scenario" p99_us coapd | median)
  pb=$(values "$scenario" p99_us peer | median)
  ea=$(values "$scenario" errors coapd | awk '{ s += $1 } END { print NR ? s : "-" }')
  eb=$(values "$scenario" errors peer | awk '{ s += $1 } END { print NR ? s : "-" }')
  r=$(ratio "$a" "$b")
  goal=$(scenario_goal "$scenario")
  [[ $metric == p50_us ]] && fa=$(fmt1 "$a") fb=$(fmt1 "$b") || fa=$(fmt "$a") fb=$(fmt "$b")
  printf '%-11s %-11s %12s %12s %7s %5s %-7s   %10s %10s   %s\n' "$scenario" "$metric" \
    "$fa" "$fb" "$r" "$goal" "$(goal_met "$r" "$goal")" \
    "$(fmt1 "$pa")" "$(fmt1 "$pb")" "$ea/$eb"
  if is_secure "$scenario"; then
    secure_rows+=("$(printf '%-10s coapd %s, %s %s' "$scenario" "$(ciphers "$scenario" coapd)" \
      "$SECURE_PEER_SERVER" "$(ciphers "$scenario" peer)")")
  fi
done
echo "(ratio = coapd / peer: $PEER_SERVER, for dtls_* and tls_* $SECURE_PEER_SERVER with PSK,"
echo " for ceiling tap_reflector (no stack); *_1x1: p50 latency in us, lower is better;"
echo " p99 in us: request latency, churn: whole cycle)"
if [[ ${#secure_rows[@]} -gt 0 ]]; then
  offered="$CIPHERSUITE"
  [[ $offered == default ]] && offered="all of mbedTLS's PSK suites"
  echo "negotiated cipher suites (the client offered $offered):"
  printf '  %s\n' "${secure_rows[@]}"
fi
if [[ -s "$ENGINE_LINES" ]]; then
  echo
  printf '%-34s %8s %8s %8s\n' "coapd engine" p50 p99 max
  cat "$ENGINE_LINES"
fi
if [[ -s "$SCALE_LINES" ]]; then
  echo
  cat "$SCALE_LINES"
fi

if [[ -n "$OUT" ]]; then
  cp "$RESULTS" "$OUT"
  log "per-run results: $OUT"
fi
if [[ $FAILED != 0 ]]; then
  log "$FAILED run(s) failed"
  exit 1
fi
