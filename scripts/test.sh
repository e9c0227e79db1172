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
# Resolve once, before any build, so that builds running side by side only read Package.resolved.
timed swift package resolve
source scripts/lib/background.sh
trap background_stop_all EXIT
timed swift build --build-tests
# The parallel pass: every suite but the four below, which assert real time and so do not run
# beside the parallel pass's hundreds of tests:
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
# The serial pass, in two lanes side by side and then the flood alone: the failover and the
# busy-aware lab spend their time waiting for leases, windows and workers (0.2 of a core between
# them), so they do not load each other; each lane takes its ports from its own slice
# (TEST_PORT_LANE), so that neither binds a port the other has just found free. The flood
# compares tick pace with and without it, so no other test runs beside it.
serial_lane() {
  local name=$1 filter=$2 port_lane=$3 started=$SECONDS
  if TEST_PORT_LANE=$port_lane swift test --skip-build --no-parallel --filter "$filter" >"$lanes/$name.log" 2>&1; then
    echo "timing: serial lane $name ($filter) took $((SECONDS - started)) s" >>"$lanes/$name.log"
  else
    echo "serial lane $name ($filter) FAILED after $((SECONDS - started)) s" >>"$lanes/$name.log"
    return 1
  fi
}
serial_pass() {
  lanes=$(mktemp -d /tmp/redash-autoscaler-lanes.XXXXXX)
  serial_lane busy-aware 'BusyAwareScaleInTests' 0/2 & local first=$!
  serial_lane failover 'ControllerFailoverTests|LiveStandinTests' 1/2 & local second=$!
  local failed=0
  wait $first || failed=1
  wait $second || failed=1
  cat "$lanes/busy-aware.log" "$lanes/failover.log"
  rm -rf "$lanes"
  ((failed == 0)) || return 1
  swift test --skip-build --no-parallel --filter 'HTTPUnderLoadTests'
}
# Builds that later steps need and nothing before them uses start beside the serial pass, which
# mostly waits: as root, in a CPU cgroup with the lowest share (scripts/lib/background.sh), so
# that they take only the CPU the serial pass leaves. The release's static build, and what the
# caller asks for in BUILD_BESIDE_SERIAL_PASS (.ci/run: the fuzz targets' build). Not earlier:
# beside the debug build and the parallel pass, even at the lowest share, they made the one 30 %
# slower and failed two of the other's timing bounds. Where no cgroup can be made, nothing starts
# early and each later step builds for itself.
static_beside=false extra_beside=false
if [[ $(id -u) -eq 0 ]] && background_start static-build "$(mktemp /tmp/redash-autoscaler-static-build.XXXXXX)" scripts/static-build.sh; then
  static_beside=true
fi
if [[ -n ${BUILD_BESIDE_SERIAL_PASS:-} ]] \
  && background_start beside "$(mktemp /tmp/redash-autoscaler-beside.XXXXXX)" bash -c "$BUILD_BESIDE_SERIAL_PASS"; then
  extra_beside=true
fi
timed serial_pass
# Nothing after this asserts real time: the builds beside get a normal share of the CPU.
$static_beside && background_promote static-build
$extra_beside && background_promote beside

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
  if $static_beside; then timed background_finish static-build; fi
  release_dir=$(mktemp -d /tmp/redash-autoscaler-dist.XXXXXX)
  timed scripts/release.sh "$release_dir"
  rm -rf "$release_dir"
  echo "readme: the first command on a fresh Debian root with only Swift (asks for the C libraries, then builds and runs the demo)"
  timed scripts/check-fresh-machine.sh
else
  echo "deploy: runtime root-filesystem check, image, release and fresh-machine check NOT RUN (they need root): sudo scripts/check-runtime-rootfs.sh; sudo scripts/release.sh; sudo scripts/check-fresh-machine.sh"
fi
if $extra_beside; then timed background_finish beside; fi
echo "smoke: ok"
