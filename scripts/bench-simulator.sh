#!/usr/bin/env bash
# Wall time and memory to simulate a week of a 20-service deployment.
# Usage: scripts/bench-simulator.sh [days]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product autoscaler-benchmarks >/dev/null
exec "$(swift build -c release --show-bin-path)/autoscaler-benchmarks" simulator "$@"
