#!/usr/bin/env bash
# IAM scoping tested, not only rendered. Runs the IAM evaluator's own cases, records the AWS
# requests the real binary sends (queues, services, plan, forecast, run --dry-run, and a live
# run that scales and protects tasks), evaluates both shipped policies against exactly those
# requests (scripts/iam/check_iam.py), then runs the read-only commands under moto's IAM
# authentication with only the read-only policy (scripts/iam/check_dry_run_moto.py).
# Usage: scripts/check-iam.sh [BINARY]   (default: the debug build's redash-autoscaler)
# Needs the .venv of scripts/bootstrap.sh and redis-server. Run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-$(swift build --show-bin-path)/redash-autoscaler}
python=.venv/bin/python
[[ -x $python ]] || { echo "check-iam: $python is missing: run scripts/bootstrap.sh" >&2; exit 1; }
[[ -x $binary ]] || { echo "check-iam: no binary at $binary: build it first" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "check-iam: redis-server is not installed: run scripts/bootstrap.sh" >&2; exit 1; }

echo "check-iam: the evaluator's own cases"
(cd scripts/iam && ../../"$python" -m unittest test_iam_eval 2>&1 | tail -3)
recording=$(mktemp /tmp/redash-autoscaler-iam-calls.XXXXXX.json)
trap 'rm -f "$recording"' EXIT
"$python" scripts/iam/record_calls.py "$binary" "$recording"
"$python" scripts/iam/check_iam.py "$recording"
"$python" scripts/iam/check_dry_run_moto.py "$binary"
