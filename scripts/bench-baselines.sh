#!/usr/bin/env bash
# The side-by-side report of docs/benchmarks.md: every scenario and seed through our controller,
# the default setups, every baseline tuned over its grid, and the clairvoyant floor.
# Usage: scripts/bench-baselines.sh [seeds] [out-dir]   (defaults: 1-5, /tmp/redash-autoscaler-baselines)
# Writes report.txt, report.json and charts/ (summary.svg, one chart per scenario) into out-dir.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-1-5}"
out="${2:-/tmp/redash-autoscaler-baselines}"
mkdir -p "$out"
swift build -c release --product redash-autoscaler >/dev/null
bin="$(swift build -c release --show-bin-path)/redash-autoscaler"
"$bin" simulate --compare --all-scenarios --seeds "$seeds" --chart-dir "$out/charts" --json-file "$out/report.json" | tee "$out/report.txt"
echo "report: $out/report.txt, $out/report.json; charts: $out/charts" >&2
