#!/usr/bin/env bash
# The busy-aware scale-in comparison in the local ECS lab (Tests/ControllerTests/Python/ecs_lab.py):
# the same seeded Redash-like workload through (a) our controller with busy-aware scale-in,
# (b) our controller with it off, (c) KEDA's Redis list-length rule with HPA's scale-down
# window. Time is compressed about 4x: a 30 s scale-down window for the controller stands for
# its 2 min default, 75 s for HPA's 300 s. Every task is real RQ workers (2 per task, as
# Redash's adhoc worker), started after 5 s, stopped with SIGTERM then SIGKILL after 30 s.
# Usage: scripts/lab-compare.sh [workload-seconds] [seed]   (about 3 x (workload + 3 min))
#        ONLY=protected|unprotected|keda scripts/lab-compare.sh …   (one variant)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-240}; seed=${2:-1}
python=.venv/bin/python
lab=Tests/ControllerTests/Python/ecs_lab.py
swift build --product redash-autoscaler >/dev/null
binary="$(swift build --show-bin-path)/redash-autoscaler"
free_port() { "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; sleep 1; rm -rf "$work"; }
trap cleanup EXIT

run_variant() {
  local key=$1 name=$2 mode=$3
  [[ -z ${ONLY:-} || ${ONLY} == "$key" ]] || return 0
  local redis_port lab_port
  redis_port=$(free_port); lab_port=$(free_port)
  redis-server --bind 127.0.0.1 --protected-mode no --port "$redis_port" --save "" --appendonly no --dir "$work" \
    --daemonize yes --pidfile "$work/redis-$key.pid" >/dev/null
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  local url="redis://127.0.0.1:$redis_port/0"
  "$python" "$lab" serve --port "$lab_port" --redis "$url" --service redash-adhoc-worker:queries:2 \
    --start-delay 5 --stop-timeout 30 --seed "$seed" >"$work/lab-$key.log" 2>&1 &
  local lab_pid=$!; pids+=("$lab_pid")
  for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$lab_port") 2>/dev/null && break; sleep 0.1; done
  local scaler_pid
  if [[ $mode == keda ]]; then
    "$python" "$lab" keda "$url" queries "http://127.0.0.1:$lab_port/" redash-adhoc-worker --target 2 --max 8 --window 75 &
    scaler_pid=$!
  else
    cat >"$work/policy-$key.yaml" <<POLICY
cluster: redash
interval: 2s
redis:
  url: $url
  layout: rq
services:
  redash-adhoc-worker:
    queues: [queries]
    minTasks: 1
    maxTasks: 8
    workersPerTask: 2
    protectBusyTasks: $mode
    scaleDown: {stabilizationWindow: 30s, maxStep: 4, cooldown: 10s}
POLICY
    AWS_ACCESS_KEY_ID=AKIALAB AWS_SECRET_ACCESS_KEY=lab AWS_REGION=eu-west-1 AWS_ENDPOINT_URL="http://127.0.0.1:$lab_port" \
      AWS_EC2_METADATA_DISABLED=true "$binary" run --policies "$work/policy-$key.yaml" --listen 127.0.0.1:0 --log-format json \
      >"$work/controller-$key.log" 2>&1 &
    scaler_pid=$!
  fi
  pids+=("$scaler_pid")
  "$python" "$lab" workload "$url" queries --duration "$duration" --seed "$seed" >"$work/workload-$key.json"
  # Let the last queries finish and the service scale back in.
  local report=""
  for _ in $(seq 360); do
    report=$(curl -s "http://127.0.0.1:$lab_port/_report")
    if "$python" -c 'import json,sys; s=json.loads(sys.argv[1])["services"]["redash-adhoc-worker"]; sys.exit(0 if s["jobsWaiting"]==0 and s["jobsRunning"]==0 and s["desired"]==1 else 1)' "$report"; then break; fi
    sleep 1
  done
  kill "$scaler_pid" 2>/dev/null || true
  kill "$lab_pid" 2>/dev/null || true
  kill "$(cat "$work/redis-$key.pid")" 2>/dev/null || true
  "$python" - "$name" "$report" <<'PY'
import json, sys
name, report = sys.argv[1], json.loads(sys.argv[2])["services"]["redash-adhoc-worker"]
print("%-34s%9d%8d%9.1f%9.1f%9.1f%13.0f%9d" % (name, report["jobsFinished"], report["jobsKilled"], report["waitP50"] or 0,
      report["waitP95"] or 0, report["waitP99"] or 0, report["taskSeconds"], report["scaleActions"]))
PY
}

echo "workload: ${duration}s, seed $seed; 2 workers per task, 5 s task start, max 8 tasks"
printf "%-34s%9s%8s%9s%9s%9s%13s%9s\n" autoscaler finished killed "wait p50" p95 p99 task-seconds actions
run_variant protected "redash-autoscaler, busy-aware" true
run_variant unprotected "redash-autoscaler, busy-aware off" false
run_variant keda "KEDA list length (2/task), HPA 75s" keda
