#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 120 s each) and prints executions and
# crashes; a crash input lands in fuzz/artifacts/TARGET/ and becomes a regression test in tests/.
#   fuzz/run.sh [SECONDS]
# Needs `cargo install cargo-fuzz`; cargo-fuzz asks for nightly features, which this stable
# toolchain grants with RUSTC_BOOTSTRAP=1.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-120}"
./seed.sh
for t in onnx_load image_decode npy_read request_parse lrp_rules; do
  log=$(mktemp)
  RUSTC_BOOTSTRAP=1 cargo fuzz run --release "$t" corpus/"$t" -- -max_total_time="$secs" -rss_limit_mb=4096 -max_len=1048576 >"$log" 2>&1 || true
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}' | tail -1)
  crashes=$(ls artifacts/"$t" 2>/dev/null | grep -c . || true)
  echo "$t: ${execs:-?} executions in ${secs}s, ${crashes} crash file(s)"
done
