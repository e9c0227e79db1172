#!/usr/bin/env bash
# The whole test suite, as CI runs it: install what is missing, build, test, and smoke-test
# the command line on the shipped policy and on a broken one.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh
swift build --build-tests
swift test

binary="$(swift build --show-bin-path)/redash-autoscaler"
echo "smoke: validate the shipped policies.yaml (Celery, Redash v7–v8) and the RQ example (v10, v25+)"
"$binary" validate --policies policies.yaml
"$binary" validate --policies examples/policies-rq.yaml
RQ_REDIS_URL=redis://rq-cache:6379/1 REDASH_REDIS_URL=redis://cache:6379/0 "$binary" validate --policies examples/policies-rq.yaml \
  | grep -q "redis: redis://rq-cache:6379/1 (layout rq), Redash's own keys on redis://cache:6379/0"
echo "smoke: a broken policy is rejected with its position"
if "$binary" validate --policies Tests/PolicyFileTests/Fixtures/min-greater-than-max.yaml 2>/tmp/validate.err; then
  echo "smoke: the broken policy was accepted" >&2
  exit 1
fi
grep -q "min-greater-than-max.yaml:7:15: error: services.redash-adhoc-worker.maxTasks" /tmp/validate.err
echo "smoke: the README's main command (demo) runs and writes its chart"
demo_dir=$(mktemp -d)
(cd "$demo_dir" && "$binary" demo --fast --chart "$demo_dir/demo.svg") | tail -n 12
grep -q "<svg" "$demo_dir/demo.svg"
rm -rf "$demo_dir"
echo "deploy: Terraform parses, checkov passes, the IAM template renders"
scripts/check-deploy.sh
# The runtime image's packages are enough for the binary: needs root (debootstrap, chroot).
if [[ $(id -u) -eq 0 ]]; then
  echo "deploy: the release binary runs in a Debian root with only the runtime packages"
  scripts/check-runtime-rootfs.sh
else
  echo "deploy: runtime root-filesystem check NOT RUN (needs root): sudo scripts/check-runtime-rootfs.sh"
fi
echo "smoke: ok"
