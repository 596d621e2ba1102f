#!/usr/bin/env bash
# Runs every fuzz target for a bounded time and prints executions, seconds and crashes per
# target; a crash input lands in fuzz/artifacts/TARGET/ and becomes a regression test in tests/
# (tests/fuzz_regressions.rs, inputs in tests/fixtures/fuzz-regressions/).
#
#   fuzz/run.sh [SECONDS] [TARGET...]      # default: 120 s for each of the five targets
#   RUNS=1000000 fuzz/run.sh 2400          # stop a target at 1M executions or 40 min
#   SANITIZER=address fuzz/run.sh 600      # with ASan (slower; default: none)
#
# Needs `cargo install cargo-fuzz` (0.13); cargo-fuzz asks for nightly features, which this
# stable toolchain grants with RUSTC_BOOTSTRAP=1. Builds once (release, with debug assertions and
# overflow checks: `-a`), then runs one single-process fuzzer at a time under `nice -n 19`.
# Without a sanitizer, Rust panics (including overflow and debug assertions), timeouts (-timeout)
# and out-of-memory (-rss_limit_mb) are still caught; memory errors in C code would not be, but
# every dependency here is Rust.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-120}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(onnx_load image_decode npy_read request_parse lrp_rules)
san="${SANITIZER:-none}"
export RUSTC_BOOTSTRAP=1

# The longest input each target gets: onnx_load must hold the test nets (up to ~20 KB); the
# others need only headers, short strings or a small image.
max_len() {
  case "$1" in
    onnx_load) echo 65536 ;;
    image_decode) echo 16384 ;;
    npy_read) echo 16384 ;;
    request_parse) echo 4096 ;;
    lrp_rules) echo 1024 ;;
  esac
}

# Per-unit time limit: onnx_load optimizes whole models, which under debug assertions and
# overflow checks can take 20-60 s for a valid mutant that loads in 35 ms in a plain release
# build; a hang is still caught, only later. The others are bounded by their input size.
unit_timeout() {
  case "$1" in
    onnx_load) echo 120 ;;
    *) echo 20 ;;
  esac
}

./seed.sh
mkdir -p logs
for t in "${targets[@]}"; do
  nice -n 19 cargo fuzz build -s "$san" --release -a "$t" >logs/build.log 2>&1 || { cat logs/build.log; exit 1; }
done
printf '%-14s %12s %8s %8s  %s\n' target executions seconds crashes artifacts
for t in "${targets[@]}"; do
  log="logs/$t.log"
  mkdir -p artifacts/"$t"
  before=$(ls artifacts/"$t" | wc -l)
  start=$(date +%s)
  extra=()
  [ -n "${RUNS:-}" ] && extra+=(-runs="$RUNS")
  nice -n 19 cargo fuzz run -s "$san" --release -a "$t" corpus/"$t" -- \
    -max_total_time="$secs" -rss_limit_mb=4096 -timeout="$(unit_timeout "$t")" -max_len="$(max_len "$t")" \
    -print_final_stats=1 "${extra[@]}" >"$log" 2>&1 || true
  took=$(( $(date +%s) - start ))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{print $2}' | tail -1)
  # libFuzzer stops at the first crash (and then prints no final stats): take the last status line.
  [ -z "$execs" ] && execs=$(grep -oE '^#[0-9]+' "$log" | tr -d '#' | tail -1)
  new=$(( $(ls artifacts/"$t" | wc -l) - before ))
  printf '%-14s %12s %8s %8s  %s\n' "$t" "${execs:-?}" "$took" "$new" "$(ls -t artifacts/"$t" | head -"$new" | tr '\n' ' ')"
done
