#!/usr/bin/env bash
# Runs every cargo-fuzz target of slotkv for FUZZ_SECONDS each (default 60),
# one at a time, and prints executions and exec/s per target.
#
#   fuzz/run.sh                     # all targets, 60 s each
#   FUZZ_SECONDS=600 fuzz/run.sh converge round_trip
#
# Corpora live in fuzz/corpus/<target> (seeded from real encodings by
# `cargo run --example seeds`), crashes in fuzz/artifacts/<target>, logs in
# fuzz/artifacts/logs/<target>.log. Exits non-zero if any target found a crash.
# To see what a crash input does: cargo +nightly run --example replay -- <file> [state|delta]
set -euo pipefail
cd "$(dirname "$0")"

SECONDS_PER_TARGET="${FUZZ_SECONDS:-60}"
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(apply_state apply_delta round_trip converge)
fi
export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz

# Seeds: real states, deltas, transaction updates and versions.
cargo +nightly run --quiet --example seeds -- corpus >/dev/null
mkdir -p artifacts/logs

status=0
summary=()
for t in "${TARGETS[@]}"; do
  echo "== $t: ${SECONDS_PER_TARGET}s"
  log="artifacts/logs/$t.log"
  set +e
  cargo +nightly fuzz run "$t" "corpus/$t" -- \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  secs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corpus=$(find "corpus/$t" -type f | wc -l)
  if [ "$rc" -ne 0 ]; then
    status=1
    crash=$(grep -o "Test unit written to [^ ]*" "$log" | tail -1 | sed 's/Test unit written to //')
    echo "   CRASH (exit $rc): ${crash:-see $log}"
    grep -m3 -E "panicked at|ERROR: libFuzzer|SUMMARY" "$log" | sed 's/^/   /' || true
  fi
  line=$(printf '%-12s %8ss  %12s execs  %8s exec/s  cov %6s  corpus %5s  %s' \
    "$t" "$SECONDS_PER_TARGET" "${runs:-?}" "${secs:-?}" "${cov:-?}" "$corpus" "$([ $rc -eq 0 ] && echo ok || echo CRASH)")
  echo "   $line"
  summary+=("$line")
done
echo
echo "target        seconds      executions    exec/s   coverage  corpus  result"
printf '%s\n' "${summary[@]}"
exit $status
