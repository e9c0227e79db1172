#!/usr/bin/env bash
# The whole test suite, as CI runs it: install what is missing, build, test, and smoke-test
# the command line on the shipped policy and on a broken one. Every step says how long it took
# (`timing:` lines), so that the run's time can be accounted for.
set -euo pipefail
cd "$(dirname "$0")/.."

timed() {
  local started=$SECONDS
  "$@"
  echo "timing: $* took $((SECONDS - started)) s"
}

timed scripts/bootstrap.sh
timed swift build --build-tests
# The parallel pass: every suite but the four below, which assert real time under load that
# no other test may share the machine with:
# - ControllerFailoverTests: two real controllers, moto, PostgreSQL and Redis per scenario;
#   takeover is measured against PostgreSQL's own clock and published in docs/benchmarks.md.
# - BusyAwareScaleInTests: real RQ and Celery workers racing a 4 s scale-in window in the ECS
#   lab; CPU taken by another test changes which tasks are busy when ECS picks one to stop.
# - HTTPUnderLoadTests: the reconcile pace and every health probe during a flood of the HTTP
#   port; another test's CPU use is indistinguishable from the flood's.
# - LiveStandinTests: real rq workers and a Redash-like scheduler on a 10x compressed clock,
#   judged per 6 s "minute"; process wake-ups and rq's fork per job shift enqueues.
serial='ControllerFailoverTests|BusyAwareScaleInTests|HTTPUnderLoadTests|LiveStandinTests'
timed swift test --skip-build --skip "$serial"
timed swift test --skip-build --no-parallel --filter "$serial"

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

echo "deploy: Terraform parses, checkov passes, the IAM templates render"
timed scripts/check-deploy.sh
echo "deploy: Terraform validates, and examples/basic plans, applies and destroys against moto"
timed scripts/check-terraform.sh
echo "deploy: both IAM policies against the requests the binary sends, and the read-only one under moto's IAM"
timed scripts/check-iam.sh "$binary"
# The runtime image's packages are enough for the binary, and the release (tarball and OCI
# image built from that same root) is made and checked: needs root (debootstrap, chroot).
if [[ $(id -u) -eq 0 ]]; then
  echo "deploy: scripts/release.sh builds the static binary once, checks it in a Debian root with only the runtime packages, and makes and checks the tarball and the OCI image from that root"
  release_dir=$(mktemp -d /tmp/redash-autoscaler-dist.XXXXXX)
  timed scripts/release.sh "$release_dir"
  rm -rf "$release_dir"
  echo "readme: the first command on a fresh Debian root with only Swift (asks for the C libraries, then builds and runs the demo)"
  timed scripts/check-fresh-machine.sh
else
  echo "deploy: runtime root-filesystem check, image, release and fresh-machine check NOT RUN (they need root): sudo scripts/check-runtime-rootfs.sh; sudo scripts/release.sh; sudo scripts/check-fresh-machine.sh"
fi
echo "smoke: ok"
