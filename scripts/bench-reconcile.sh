#!/usr/bin/env bash
# Per-tick cost of the whole reconcile and memory over an hour of ticks (720 at 5 s):
# 3 and 200 services (3 queues each) on a local redis-server holding RQ queues, first against an
# in-memory ECS (the controller's own cost), then against ECS's JSON API in memory with three tasks
# per service, each holding a busy worker (the ECS requests per tick at 200 busy services: the real
# client, signer and cluster view), then against moto with IAM auth (signed HTTP calls).
# With ONLY=cadence, instead: Redis commands and ECS requests a minute at interval 5 s, interval
# 1 s, and interval 5 s with the queue watch every second (reactInterval 1s), at 3 and 200
# services, over [ticks] simulated minutes (default 10), against ECS's API in memory.
# Usage: scripts/bench-reconcile.sh [ticks]   (needs scripts/bootstrap.sh first)
set -euo pipefail
cd "$(dirname "$0")/.."
ticks=${1:-720}
free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
dir=$(mktemp -d)
redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" >/dev/null
moto_pid=
trap 'kill "$(cat "$dir/redis.pid")" 2>/dev/null; [[ -n $moto_pid ]] && kill $moto_pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
.venv/bin/python scripts/lab/fill_rq_queues.py "redis://127.0.0.1:$port/0" 600 60000 >/dev/null
swift build -c release --product autoscaler-benchmarks >/dev/null
bench="$(swift build -c release --show-bin-path)/autoscaler-benchmarks"
if [[ ${ONLY:-} == cadence ]]; then
  "$bench" cadence "redis://127.0.0.1:$port/0" 3 "${1:-10}"
  "$bench" cadence "redis://127.0.0.1:$port/0" 200 "${1:-10}"
  exit 0
fi
"$bench" reconcile "redis://127.0.0.1:$port/0" 3 "$ticks"
"$bench" reconcile "redis://127.0.0.1:$port/0" 200 "$ticks"
"$bench" reconcile "redis://127.0.0.1:$port/0" 200 "$ticks" api

moto_port=$(free_port)
INITIAL_NO_AUTH_ACTION_COUNT=4 MOTO_ECS_SERVICE_RUNNING=100 .venv/bin/moto_server -H 127.0.0.1 -p "$moto_port" >"$dir/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$moto_port") 2>/dev/null && break; sleep 0.1; done
keys=$(.venv/bin/python Tests/AWSClientTests/Python/aws_lab.py moto-setup --endpoint "http://127.0.0.1:$moto_port" \
  --region eu-west-1 --policy deploy/iam/controller-policy.json.tftpl --services $(seq -f "bench-service-%g" 1 200))
export AWS_ACCESS_KEY_ID=$(.venv/bin/python -c 'import json,sys; print(json.loads(sys.argv[1])["controller"]["accessKeyId"])' "$keys")
export AWS_SECRET_ACCESS_KEY=$(.venv/bin/python -c 'import json,sys; print(json.loads(sys.argv[1])["controller"]["secretAccessKey"])' "$keys")
export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port" AWS_REGION=eu-west-1 AWS_EC2_METADATA_DISABLED=true
"$bench" reconcile "redis://127.0.0.1:$port/0" 3 120
"$bench" reconcile "redis://127.0.0.1:$port/0" 200 120
