#!/usr/bin/env bash
# Decisions per second of the pure scaling rule, and the process's peak memory.
# Usage: scripts/bench-core.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product autoscaler-benchmarks >/dev/null
exec "$(swift build -c release --show-bin-path)/autoscaler-benchmarks" core "$@"
