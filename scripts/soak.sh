#!/usr/bin/env bash
# A soak of the real controller binary: 200 services at `interval: 1s` against redis-server and
# moto (IAM auth on) for hours, Redis restarted empty at 1 h and 2 h 30 m, moto (cluster, services
# and the controller's keys recreated) at 1 h 30 m and 3 h 15 m, while the queues move, the status
# page, /status and /metrics are read as a browser and a scraper would, and the controller's RSS,
# peak RSS and open descriptors are sampled every minute. The status page keeps 3 hours of history,
# so memory may grow until 3 h: what counts is the slope after 3 h 05 m (the issue: ≤ 1 MiB/h).
# What it does, and what lands in the results: scripts/lab/soak.py.
# Usage: scripts/soak.sh [hours=4] [binary]   (needs scripts/bootstrap.sh first; without a binary
#        it builds the release one)
#        SOAK_OUT=DIR        results there (default: a new temporary directory, printed)
#        SOAK_MINUTES=N      the whole 4-hour schedule compressed into N minutes: a trial of the
#                            machinery, whose memory figures say nothing about the 3-hour window
set -euo pipefail
cd "$(dirname "$0")/.."
hours=${1:-4}
binary=${2:-}
if [[ -z $binary ]]; then
  swift build -c release --product redash-autoscaler >/dev/null
  binary="$(swift build -c release --show-bin-path)/redash-autoscaler"
fi
out=${SOAK_OUT:-$(mktemp -d)}
mkdir -p "$out"
echo "results in $out; $(df -h --output=avail "$out" | tail -1 | tr -d ' ') free there"
# exec: the Python process owns the servers and the controller and stops them however it ends
# (its children also die with it when it is killed outright).
exec .venv/bin/python scripts/lab/soak.py run --binary "$(realpath "$binary")" --hours "$hours" --out "$out" \
  ${SOAK_MINUTES:+--minutes "$SOAK_MINUTES"}
