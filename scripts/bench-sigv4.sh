#!/usr/bin/env bash
# Signatures per second of the SigV4 signer (a DescribeServices request).
# Usage: scripts/bench-sigv4.sh [count]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product autoscaler-benchmarks >/dev/null
exec "$(swift build -c release --show-bin-path)/autoscaler-benchmarks" sigv4 "$@"
