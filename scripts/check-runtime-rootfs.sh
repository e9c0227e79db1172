#!/usr/bin/env bash
# Proves the runtime image's package list is enough for the binary, without a Docker engine:
# builds the release binary as deploy/Dockerfile does (static Swift standard library), assembles a
# minimal Debian bookworm root filesystem with only the runtime packages of the Dockerfile's
# second stage, and runs the binary inside it (chroot): `validate` on the shipped policy,
# `plan --help`, `healthcheck --help`. A missing shared library fails here, not in production.
# Needs root and Debian's archive (deb.debian.org); about 7 minutes from a clean checkout (the
# static release build is most of it). scripts/test.sh runs it when it runs as root, as CI does.
# Downloaded packages are kept in /var/cache/redash-autoscaler-debootstrap for the next run.
# With KEEP_RUNTIME_ROOT=DIR the verified root (without the binary and policy it was tested with)
# is moved to DIR, for scripts/build-image.sh: the image is built from the root checked here.
# Usage: scripts/check-runtime-rootfs.sh [mirror]   (BINARY=PATH: check that binary, build none)
set -euo pipefail
cd "$(dirname "$0")/.."
mirror=${1:-http://deb.debian.org/debian}
# Keep in step with the runtime stage of deploy/Dockerfile.
runtime_packages=libpq5,libhiredis0.14,ca-certificates,tzdata
[[ $(id -u) -eq 0 ]] || { echo "check-runtime-rootfs: needs root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null

# BINARY=PATH checks a binary built already (release.sh passes the one it ships).
if [[ -n ${BINARY:-} ]]; then
  binary=$BINARY
else
  build_log=$(mktemp)
  binary=$(scripts/static-build.sh 2>"$build_log") || { tail -40 "$build_log"; exit 1; }
  rm -f "$build_log"
fi

root=$(mktemp -d /tmp/redash-autoscaler-rootfs.XXXXXX)
trap 'umount "$root/proc" 2>/dev/null || true; rm -rf "$root"' EXIT
echo "check-runtime-rootfs: debootstrap bookworm (minbase + $runtime_packages) into $root"
cache=/var/cache/redash-autoscaler-debootstrap
mkdir -p "$cache"
# One retry: the archive is reached over the network, and a dropped download is not a finding.
for attempt in 1 2; do
  if debootstrap --variant=minbase --cache-dir="$cache" --include="$runtime_packages" bookworm "$root" "$mirror" >"$root.log" 2>&1; then
    break
  fi
  tail -20 "$root.log"
  [[ $attempt -eq 2 ]] && exit 1
  echo "check-runtime-rootfs: debootstrap failed; trying once more" >&2
  rm -rf "$root" && mkdir -p "$root"
done
rm -f "$root.log"
install -D "$binary" "$root/usr/local/bin/redash-autoscaler"
install -D policies.yaml "$root/etc/redash-autoscaler/policies.yaml"
# A container has /proc, and a statically linked Swift program reads its arguments from
# /proc/self/cmdline: without it every command would see none.
mount -t proc proc "$root/proc"

echo "check-runtime-rootfs: shared libraries the binary needs, as resolved inside the root:"
libraries=$(chroot "$root" /usr/bin/ldd /usr/local/bin/redash-autoscaler)
echo "$libraries"
if grep -q "not found" <<<"$libraries"; then
  echo "check-runtime-rootfs: a shared library is missing from the runtime packages" >&2
  exit 1
fi
summary=$(chroot "$root" /usr/local/bin/redash-autoscaler validate --policies /etc/redash-autoscaler/policies.yaml)
echo "$summary"
grep -q "redash-adhoc-worker: queries" <<<"$summary"
chroot "$root" /usr/local/bin/redash-autoscaler plan --help | grep -q "USAGE: redash-autoscaler plan"
chroot "$root" /usr/local/bin/redash-autoscaler healthcheck --help | grep -q "USAGE: redash-autoscaler healthcheck"
echo "check-runtime-rootfs: ok ($(du -shx "$root" | cut -f1) root with the runtime packages)"
if [[ -n ${KEEP_RUNTIME_ROOT:-} ]]; then
  umount "$root/proc"
  rm -f "$root/usr/local/bin/redash-autoscaler" "$root/etc/redash-autoscaler/policies.yaml"
  rmdir "$root/etc/redash-autoscaler"
  rm -rf "$KEEP_RUNTIME_ROOT"
  mv "$root" "$KEEP_RUNTIME_ROOT"
  echo "check-runtime-rootfs: the verified root is kept in $KEEP_RUNTIME_ROOT"
fi
