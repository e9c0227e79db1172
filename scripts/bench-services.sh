#!/usr/bin/env bash
# Time of one `services` refresh of N services (default 50) against moto's server mode with IAM
# authentication on: the same signed requests the controller makes each tick.
# Usage: scripts/bench-services.sh [services] [rounds]    (needs scripts/bootstrap.sh's venv)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-50}
rounds=${2:-20}
swift build -c release --product autoscaler-benchmarks >/dev/null
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
INITIAL_NO_AUTH_ACTION_COUNT=4 .venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
services=$(seq -f "bench-service-%g" 1 "$count")
keys=$(.venv/bin/python Tests/AWSClientTests/Python/aws_lab.py moto-setup --endpoint "http://127.0.0.1:$port" \
  --region eu-west-1 --policy deploy/iam/controller-policy.json.tftpl --services $services)
export AWS_ACCESS_KEY_ID=$(.venv/bin/python -c 'import json,sys; print(json.loads(sys.argv[1])["controller"]["accessKeyId"])' "$keys")
export AWS_SECRET_ACCESS_KEY=$(.venv/bin/python -c 'import json,sys; print(json.loads(sys.argv[1])["controller"]["secretAccessKey"])' "$keys")
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=eu-west-1 AWS_EC2_METADATA_DISABLED=true
"$(swift build -c release --show-bin-path)/autoscaler-benchmarks" services "$count" "$rounds"
