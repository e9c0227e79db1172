#!/usr/bin/env bash
# The cost of one Celery remote-control round (celery.inspect) at NODES real Celery worker nodes
# (two processes each, half of them busy with a long query) on a local redis-server.
# Usage: scripts/bench-celery-inspect.sh [nodes] [rounds] [celery4]   (needs scripts/bootstrap.sh first)
#   celery4: the nodes run Celery 4.3 (Redash v8's) instead of Celery 5.3.
set -euo pipefail
cd "$(dirname "$0")/.."
nodes=${1:-20}; rounds=${2:-100}
python=.venv/bin/python
[[ "${3:-}" == celery4 ]] && python=.venv-celery4/bin/python
[[ -x $python ]] || { echo "bench-celery-inspect: $python is missing: run scripts/bootstrap.sh" >&2; exit 1; }
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
url="redis://127.0.0.1:$port/0"
redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" >/dev/null
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
fixture=Tests/QueueProbesTests/Python/redash_queues.py
echo "starting $nodes Celery nodes ($($python -c 'import celery; print(celery.__version__)')) on 127.0.0.1:$port"
for index in $(seq "$nodes"); do
  setsid env PYTHONPATH=Tests/QueueProbesTests/Python "$python" "$fixture" celery-worker "$url" queries,scheduled_queries,celery \
    "ip-10-0-$((index / 250))-$((index % 250))" --concurrency 2 >"$dir/node-$index.log" 2>&1 &
  pids+=($!)
  disown
done
# Half the nodes busy: one ten-minute query per node for half of them.
PYTHONPATH=Tests/QueueProbesTests/Python "$python" "$fixture" celery-send "$url" queries "$((nodes / 2))" --sleep 600 >/dev/null
swift build -c release --product autoscaler-benchmarks >/dev/null
"$(swift build -c release --show-bin-path)/autoscaler-benchmarks" celery-inspect "$url" "$nodes" "$rounds"
