#!/usr/bin/env bash
# Runs every fuzz target for a bounded time and prints executions, seconds and crashes per
# target; a crash input lands in fuzz/artifacts/TARGET/ and becomes a regression test in tests/
# (tests/fuzz_regressions.rs, inputs in tests/fixtures/fuzz-regressions/).
#
#   fuzz/run.sh [SECONDS] [TARGET...]      # default: 120 s for each of the five targets
#   RUNS=1000000 fuzz/run.sh 2400          # stop a target at 1M executions or 40 min
#   SANITIZER=address fuzz/run.sh 600      # with ASan (slower; default: none)
#   ASSERTIONS=off JOBS=2 RUNS=500000 fuzz/run.sh 5400 onnx_load
#                                          # the release build as shipped (no debug assertions
#                                          # or overflow checks: onnx_load's valid mutants
#                                          # optimise ~40x faster), two processes sharing the
#                                          # corpus, RUNS each (so 1M in all)
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
checks=(-a)
[ "${ASSERTIONS:-on}" = off ] && checks=()
jobs="${JOBS:-1}"
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
  nice -n 19 cargo fuzz build -s "$san" --release "${checks[@]}" "$t" >logs/build.log 2>&1 || { cat logs/build.log; exit 1; }
done
printf '%-14s %12s %8s %8s  %s\n' target executions seconds crashes artifacts
for t in "${targets[@]}"; do
  log="logs/$t.log"
  mkdir -p artifacts/"$t"
  before=$(ls artifacts/"$t" | wc -l)
  start=$(date +%s)
  extra=()
  [ -n "${RUNS:-}" ] && extra+=(-runs="$RUNS")
  # With JOBS > 1 libFuzzer writes one log per process (fuzz-N.log) in its working directory.
  [ "$jobs" -gt 1 ] && extra+=(-jobs="$jobs" -workers="$jobs")
  dir="logs/$t.d"
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && nice -n 19 cargo fuzz run --fuzz-dir ../.. -s "$san" --release "${checks[@]}" "$t" ../../corpus/"$t" -- \
    -artifact_prefix="../../artifacts/$t/" \
    -max_total_time="$secs" -rss_limit_mb=4096 -timeout="$(unit_timeout "$t")" -max_len="$(max_len "$t")" \
    -print_final_stats=1 "${extra[@]}" >"../$t.log" 2>&1) || true
  took=$(( $(date +%s) - start ))
  execs=0
  # With JOBS > 1 the per-process logs hold the counts (the parent's log repeats one of them).
  logs=("$log")
  [ "$jobs" -gt 1 ] && logs=("$dir"/fuzz-*.log)
  for l in "${logs[@]}"; do
    [ -f "$l" ] || continue
    n=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$l" | awk '{print $2}' | tail -1)
    # libFuzzer stops at the first crash (and then prints no final stats): take the last status line.
    [ -z "$n" ] && n=$(grep -oE '^#[0-9]+' "$l" | tr -d '#' | tail -1)
    execs=$(( execs + ${n:-0} ))
  done
  new=$(( $(ls artifacts/"$t" | wc -l) - before ))
  found=$(ls -t artifacts/"$t" | head -"$new")
  # Slow units (over 10 s, often while something else took the cores) are reported, not counted.
  crashes=$(printf '%s\n' "$found" | grep -cE '^(crash|timeout|oom|leak)-' || true)
  printf '%-14s %12s %8s %8s  %s\n' "$t" "${execs:-?}" "$took" "$crashes" "$(printf '%s ' $found)"
done
