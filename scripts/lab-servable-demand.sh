#!/usr/bin/env bash
# Before and after, on real workers: a Redash v8 worker node (Celery 4.3, kombu 4.6.3, started as
# Redash's docker-entrypoint starts it) is stopped as ECS stops a task at stopTimeout (SIGTERM,
# then SIGKILL) while it runs two queries and holds one more message; the message stays in
# kombu's `unacked`, where no live node takes it until the visibility timeout. A fresh idle node
# runs beside it, and the adhoc service is at 2 tasks in moto's ECS. Then `plan` twice:
#   before: celery.inspect off, the controller cannot tell who holds the message and counts it as
#           waiting (the old behaviour): a third task for work no task can take;
#   after:  celery.inspect on, the message is stranded, not demand: 2 tasks, and the note says
#           when kombu gives it back.
# The message is dated 534 s back (8m54s, as in the run on Redash v8 that found the case).
# Usage: scripts/lab-servable-demand.sh [BINARY]   (default: .build/debug/redash-autoscaler)
# Needs what scripts/bootstrap.sh makes (.venv with moto, .venv-celery4) and redis-server.
# Starts its own redis-server and moto server on free ports, and stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-.build/debug/redash-autoscaler}
python=.venv/bin/python
fixture=Tests/QueueProbesTests/Python/servable_demand.py

missing=()
[[ -x $binary ]] || missing+=("the redash-autoscaler binary at $binary (build it with swift build, or pass its path)")
[[ -x $python ]] || missing+=("$python (run scripts/bootstrap.sh)")
[[ -x .venv/bin/moto_server ]] || missing+=(".venv/bin/moto_server (run scripts/bootstrap.sh)")
[[ -x .venv-celery4/bin/python ]] || missing+=(".venv-celery4/bin/python, Celery 4.3 as Redash v8 pins it (run scripts/bootstrap.sh)")
command -v redis-server >/dev/null || missing+=("redis-server (apt-get install redis-server)")
if ((${#missing[@]})); then
  echo "lab-servable-demand: cannot run, missing:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi

work=$(mktemp -d /tmp/lab-servable-demand.XXXXXX)
redis_pid= moto_pid= groups=()
cleanup() {
  # Only what this script started: the fixture's worker groups, moto, redis-server.
  for group in "${groups[@]}"; do kill -KILL -- "-$group" 2>/dev/null || true; done
  [[ -n $moto_pid ]] && kill "$moto_pid" 2>/dev/null || true
  [[ -n $redis_pid ]] && kill "$redis_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
listening() { (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() {
  local port=$1 name=$2 log=$3
  for _ in $(seq 150); do listening "$port" && return 0; sleep 0.1; done
  echo "lab-servable-demand: $name did not listen on 127.0.0.1:$port within 15 s; its log:" >&2
  tail -20 "$log" >&2
  exit 1
}
# json TEXT KEY…: the value at that path.
json() { "$python" -c 'import functools,json,sys; print(functools.reduce(lambda v, k: v[k], sys.argv[2:], json.loads(sys.argv[1])))' "$@"; }

redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
redis_pid=$!
wait_for "$redis_port" redis-server "$work/redis.log"
redis_url="redis://127.0.0.1:$redis_port/0"

moto_port=$(free_port)
INITIAL_NO_AUTH_ACTION_COUNT=4 MOTO_ECS_SERVICE_RUNNING=100 .venv/bin/moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
moto_pid=$!
wait_for "$moto_port" "moto" "$work/moto.log"
endpoint="http://127.0.0.1:$moto_port"
keys=$("$python" Tests/AWSClientTests/Python/aws_lab.py moto-setup --endpoint "$endpoint" --region eu-west-1 \
  --policy deploy/iam/controller-policy.json.tftpl --services redash-adhoc-worker | tail -1)

echo "== the stranded message (Celery 4.3, kombu 4.6.3)"
echo "\$ servable_demand.py celery-stranded --redis $redis_url --version 4 --fresh-node --enqueued-ago 534"
if ! report=$(PYTHONPATH=Tests/QueueProbesTests/Python "$python" "$fixture" celery-stranded --redis "$redis_url" \
  --version 4 --fresh-node --enqueued-ago 534 --logs "$work"); then
  echo "lab-servable-demand: the fixture failed (its reason is above)" >&2
  exit 1
fi
report=$(printf '%s\n' "$report" | grep '^{' | tail -1)
read -r -a groups <<<"$(json "$report" pgids | tr -d '[],')"
"$python" - "$report" <<'PY'
import json, sys
from datetime import datetime, timezone
r = json.loads(sys.argv[1])
at = lambda t: datetime.fromtimestamp(t, timezone.utc).strftime("%H:%M:%S")
dead, s = r["dead_node"], r["stranded"][0]
print(f"{dead['name']} (-c{dead['concurrency']}): 2 queries running, 1 message prefetched; SIGTERM at {at(dead['sigterm_at'])}, SIGKILL at {at(dead['sigkill_at'])}")
print(f"stranded in unacked: task {s['task_id']}, fetched at {at(s['score'])}, enqueue_time {at(s['enqueue_time'])}")
print(f"{r['fresh_node']['name']} is up and idle and did not take it; kombu's visibility timeout {r['visibility_timeout']} s: "
      f"back on the queue from {at(r['returns_not_before'])} (unacked_mutex TTL {r['unacked_mutex_ttl']} s)")
PY

# The service runs 2 tasks, as when the node was killed by a deployment that replaced its task.
"$python" - "$endpoint" "$(json "$keys" admin accessKeyId)" "$(json "$keys" admin secretAccessKey)" <<'PY'
import sys, boto3
ecs = boto3.client("ecs", endpoint_url=sys.argv[1], region_name="eu-west-1", aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
ecs.update_service(cluster="redash", service="redash-adhoc-worker", desiredCount=2)
PY

policy() {
  cat <<POLICY
cluster: redash
redis:
  url: $redis_url
  layout: celery
celery:
  inspect: $1
services:
  redash-adhoc-worker:
    queues: [queries]
    minTasks: 1
    maxTasks: 8
    workersPerTask: 2
POLICY
}

plan() {
  policy "$1" >"$work/policy-$1.yaml"
  AWS_ACCESS_KEY_ID=$(json "$keys" controller accessKeyId) AWS_SECRET_ACCESS_KEY=$(json "$keys" controller secretAccessKey) \
    AWS_REGION=eu-west-1 AWS_ENDPOINT_URL="$endpoint" AWS_EC2_METADATA_DISABLED=true HOME="$work" \
    "$binary" plan --policies "$work/policy-$1.yaml" --log-level error "${@:2}"
}

proposed() { "$python" -c 'import json,sys; t=sys.stdin.read(); o=json.loads(t[t.index("{"):]); print([s["proposed"] for s in o["services"] if s["name"]=="redash-adhoc-worker"][0])'; }

declare -A counts
for inspect in false true; do
  echo
  if [[ $inspect == false ]]; then echo "== before: celery.inspect false (the holder is unknown)"; else echo "== after: celery.inspect true"; fi
  echo "\$ redash-autoscaler plan   # redash-adhoc-worker: queues [queries], 1–8 tasks of 2 workers, desiredCount 2"
  plan "$inspect"
  counts[$inspect]=$(plan "$inspect" --json | proposed)
done

echo
echo "proposed: before ${counts[false]}, after ${counts[true]}"
if [[ ${counts[false]} != 3 || ${counts[true]} != 2 ]]; then
  echo "lab-servable-demand: expected 3 before and 2 after" >&2
  exit 1
fi
