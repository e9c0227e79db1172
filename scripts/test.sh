#!/usr/bin/env bash
# The whole test suite, as CI runs it: install what is missing, build, test, and smoke-test
# the command line on the shipped policy and on a broken one.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh
swift build --build-tests
# Suites that bound a time (timeouts, reconnects, shutdown grace, compressed schedules, leases)
# run after the rest, one test at a time: on two cores, a parallel run of everything starves
# them and their bounds fail for want of CPU, not for a fault. The failover tests run two
# controllers, moto, PostgreSQL and Redis per scenario and measure takeover times: last, on
# their own too (and their load does not skew the other figures).
timed='CeleryInspectTests|BusyAwareScaleInTests|ReconnectTests|ControllerLoopTests|RedisFailureTests|LiveStandinTests|ControllerStateTests|ECSStandInTests|HTTPFloodTests|ControllerLeaderTests|PostgresDeadlineTests|CallBudgetTests|ForecastIntegrationTests|FuzzSeedTests|EndpointsUnderAttackTests|BoundedReadsTests'
swift test --skip "ControllerFailoverTests|$timed"
swift test --skip-build --no-parallel --filter "$timed"
swift test --skip-build --filter ControllerFailoverTests

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
echo "smoke: --version prints the version and the revision (none in a plain build)"
"$binary" --version | tee /dev/stderr | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+ \((unknown revision|[0-9a-f]{12})\)$'

timed() {
  local started=$SECONDS
  "$@"
  echo "timing: $1 took $((SECONDS - started)) s"
}
echo "deploy: Terraform parses, checkov passes, the IAM templates render"
timed scripts/check-deploy.sh
echo "deploy: Terraform validates, and examples/basic plans, applies and destroys against moto"
timed scripts/check-terraform.sh
echo "deploy: both IAM policies against the requests the binary sends, and the read-only one under moto's IAM"
timed scripts/check-iam.sh "$binary"
# The runtime image's packages are enough for the binary, and the release (tarball and OCI
# image built from that same root) is made and checked: needs root (debootstrap, chroot).
if [[ $(id -u) -eq 0 ]]; then
  echo "deploy: the release binary runs in a Debian root with only the runtime packages"
  runtime_root=$(mktemp -d /tmp/redash-autoscaler-runtime-root.XXXXXX)
  release_dir=$(mktemp -d /tmp/redash-autoscaler-dist.XXXXXX)
  KEEP_RUNTIME_ROOT=$runtime_root timed scripts/check-runtime-rootfs.sh
  echo "deploy: scripts/release.sh makes the tarball and the OCI image from that root, and checks both"
  RUNTIME_ROOT=$runtime_root timed scripts/release.sh "$release_dir"
  rm -rf "$runtime_root" "$release_dir"
  echo "readme: the first command on a fresh Debian root with only Swift (asks for the C libraries, then builds and runs the demo)"
  timed scripts/check-fresh-machine.sh
else
  echo "deploy: runtime root-filesystem check, image, release and fresh-machine check NOT RUN (they need root): sudo scripts/check-runtime-rootfs.sh; sudo scripts/release.sh; sudo scripts/check-fresh-machine.sh"
fi
echo "smoke: ok"
