#!/usr/bin/env bash
# Per-tick cost of the RQ probe on a local redis-server holding 200 queues and 1,000,000 jobs.
# Usage: scripts/bench-probe.sh [queues] [total-jobs] [ticks]   (needs scripts/bootstrap.sh first)
set -euo pipefail
cd "$(dirname "$0")/.."
queues=${1:-200}; jobs=${2:-1000000}; ticks=${3:-200}
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" >/dev/null
trap 'kill "$(cat "$dir/redis.pid")" 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
echo "filling $queues queues with $jobs jobs on 127.0.0.1:$port"
.venv/bin/python scripts/lab/fill_rq_queues.py "redis://127.0.0.1:$port/0" "$queues" "$jobs"
swift build -c release --product autoscaler-benchmarks >/dev/null
"$(swift build -c release --show-bin-path)/autoscaler-benchmarks" probe "redis://127.0.0.1:$port/0" "$queues" "$ticks"
