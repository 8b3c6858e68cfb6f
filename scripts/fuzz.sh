#!/usr/bin/env bash
# Builds the libFuzzer targets (test/fuzz) with clang in build-fuzz and runs them.
#
#   scripts/fuzz.sh [--merge] [TARGET|all] [SECONDS]
#       Runs each target for SECONDS (default 600), one at a time, on a copy
#       of its committed corpus (test/fuzz/corpus/TARGET); new inputs go to
#       build-fuzz/fuzz-out/TARGET/corpus, crashes to .../artifacts. With
#       --merge the committed corpus is then replaced by a minimal set
#       (libFuzzer -merge=1) covering the old corpus and the new inputs.
#   scripts/fuzz.sh --ci
#       For CI: every target over its committed corpus plus 20 s of fresh
#       input, two at a time; at most about 4 minutes in all including the
#       build; exit status 1 on any crash, leak, timeout or out-of-memory.
#
# Prints per target: executions, coverage (cov: and ft: of libFuzzer's final
# stats) and crashes. Installs what it needs (scripts/install-deps.sh; needs
# root the first time). A crash input replays with build-fuzz/fuzz/TARGET FILE,
# and FUZZ_TRACE=1 makes the endpoint targets tell what it does.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

targets_all=(udp_message tcp_stream uri link_format_query config_file control_request
             dtls_record differential_udp endpoint_udp endpoint_tcp)
ci=0 merge=0 target=all seconds=600
while (($#)); do
  case "$1" in
    --ci) ci=1 ;;
    --merge) merge=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    [0-9]*) seconds=$1 ;;
    *) target=$1 ;;
  esac
  shift
done
if [[ $target == all ]]; then
  targets=("${targets_all[@]}")
elif [[ " ${targets_all[*]} " == *" $target "* ]]; then
  targets=("$target")
else
  echo "fuzz.sh: unknown target '$target' (one of: ${targets_all[*]}, all)" >&2
  exit 2
fi

start=$(date +%s)
scripts/install-deps.sh
build=build-fuzz
# -O1 and line tables only, as OSS-Fuzz builds: compiles in half the time
# of -O2 -g, which matters for test.sh's fresh build.
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCOAPD_FUZZ=ON -DCOAPD_BUILD_TESTS=OFF \
  -DCOAPD_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" >/dev/null
cmake --build "$build" -j2 --target fuzzers
out=$root/$build/fuzz-out

# Runs one target: fuzz [extra libFuzzer flags...]; leaves its log in
# $out/TARGET/log and its exit status in $out/TARGET/status.
fuzz_one() {
  local t=$1 secs=$2 dir=$out/$1
  rm -rf "$dir" && mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -r "test/fuzz/corpus/$t/." "$dir/corpus/" 2>/dev/null || true
  set +e
  "$build/fuzz/$t" -max_total_time="$secs" -print_final_stats=1 -timeout=25 -rss_limit_mb=2048 \
    -artifact_prefix="$dir/artifacts/" "$dir/corpus" >"$dir/log" 2>&1
  echo $? >"$dir/status"
  set -e
}

report() {  # TARGET: one line of numbers from its log
  local t=$1 log=$out/$1/log
  local execs cov ft crashes
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  crashes=$(find "$out/$t/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' \) | wc -l)
  printf '%-18s %12s %8s %8s %8s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$crashes"
  if [[ $(cat "$out/$t/status") != 0 ]]; then
    grep -m3 -E '^\*\*\* fuzz invariant|^\*\*\* [^ N]|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error' "$log" | sed 's/^/    /'
    find "$out/$t/artifacts" -type f | sed 's/^/    input: /'
  fi
}

failed=0
if ((ci)); then
  # Two at a time; a slot is a background job.
  for t in "${targets[@]}"; do
    while (($(jobs -rp | wc -l) >= 2)); do wait -n || true; done
    fuzz_one "$t" 20 &
  done
  wait
else
  for t in "${targets[@]}"; do
    echo "fuzz.sh: $t for $seconds s" >&2
    fuzz_one "$t" "$seconds"
  done
fi

printf '\n%-18s %12s %8s %8s %8s\n' target executions cov ft crashes
for t in "${targets[@]}"; do
  report "$t"
  [[ $(cat "$out/$t/status") == 0 ]] || failed=1
done

if ((merge && !ci)); then
  for t in "${targets[@]}"; do
    [[ $(cat "$out/$t/status") == 0 ]] || { echo "fuzz.sh: $t crashed, corpus not merged" >&2; continue; }
    fresh=$out/$t/merged && rm -rf "$fresh" && mkdir -p "$fresh"
    "$build/fuzz/$t" -merge=1 "$fresh" "test/fuzz/corpus/$t" "$out/$t/corpus" >"$out/$t/merge.log" 2>&1
    [[ -n $(ls "$fresh") ]] || { echo "fuzz.sh: $t: merge produced nothing" >&2; continue; }
    rm -rf "test/fuzz/corpus/$t" && mkdir -p "test/fuzz/corpus/$t" && cp "$fresh"/* "test/fuzz/corpus/$t/"
    echo "fuzz.sh: test/fuzz/corpus/$t: $(ls "test/fuzz/corpus/$t" | wc -l) inputs" >&2
  done
fi
echo "fuzz.sh: $(($(date +%s) - start)) s$( ((failed)) && echo ', FAILED')" >&2
exit $failed
