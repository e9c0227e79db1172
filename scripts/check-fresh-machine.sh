#!/usr/bin/env bash
# Proves the README's first command on a fresh machine: a Debian bookworm root (debootstrap)
# with what Swift itself needs and nothing else (no hiredis, no libpq, no pkg-config), this
# machine's Swift toolchain bound in read only, and a clean clone of this repository. Then, as a
# new user would:
#   1. the README's first command, copied from the README, must stop before any build with
#      exactly one line: the install command for what is missing;
#   2. that line is run as printed;
#   3. the README's first command again must build and end with the demo's comparison table.
# Needs root (debootstrap, chroot, mount) and Debian's archive; about 8 minutes, most of it the
# debug build inside the root. scripts/test.sh runs it when it runs as root, as CI does.
# Downloaded packages are kept in /var/cache/redash-autoscaler-debootstrap for the next run.
# Usage: scripts/check-fresh-machine.sh [mirror]
set -euo pipefail
cd "$(dirname "$0")/.."
mirror=${1:-http://deb.debian.org/debian}
toolchain=${SWIFT_TOOLCHAIN:-/opt/swift}
[[ $(id -u) -eq 0 ]] || { echo "check-fresh-machine: needs root (debootstrap, chroot)" >&2; exit 1; }
[[ -x $toolchain/usr/bin/swift ]] || { echo "check-fresh-machine: no Swift toolchain at $toolchain (set SWIFT_TOOLCHAIN)" >&2; exit 1; }
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null

# What swift.org lists for Swift on Debian 12, less pkg-config (which the check wants missing),
# plus git and certificates for SwiftPM. Nothing of this project's.
swift_packages=binutils,gcc,libc6-dev,libgcc-12-dev,libstdc++-12-dev,libcurl4-openssl-dev,libedit2,libncurses6,libsqlite3-0,libxml2-dev,libpython3.11,uuid-dev,zlib1g-dev,tzdata,git,ca-certificates

# The first command of the README's "Two commands" section, exactly as written there.
first_command=$(awk '/^## Two commands/ { section = 1 } section && /^```sh/ { getline; print; exit }' README.md)
[[ -n $first_command ]] || { echo "check-fresh-machine: no command block under '## Two commands' in README.md" >&2; exit 1; }
echo "check-fresh-machine: the README's first command: $first_command"

root=$(mktemp -d /tmp/redash-autoscaler-fresh.XXXXXX)
cleanup() {
  for mount in proc dev opt/swift opt/swift-packages; do umount "$root/$mount" 2>/dev/null || true; done
  rm -rf "$root"
}
trap cleanup EXIT
cache=/var/cache/redash-autoscaler-debootstrap
mkdir -p "$cache"
echo "check-fresh-machine: debootstrap bookworm (minbase + Swift's own dependencies) into $root"
for attempt in 1 2; do
  if debootstrap --variant=minbase --cache-dir="$cache" --include="$swift_packages" bookworm "$root" "$mirror" >"$root.log" 2>&1; then
    break
  fi
  tail -20 "$root.log"
  [[ $attempt -eq 2 ]] && exit 1
  echo "check-fresh-machine: debootstrap failed; trying once more" >&2
  rm -rf "$root" && mkdir -p "$root"
done
rm -f "$root.log"

mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mkdir -p "$root/opt/swift"
mount --bind "$toolchain" "$root/opt/swift" && mount -o remount,bind,ro "$root/opt/swift"
# This machine serves Swift packages from a local mirror (git's url.insteadOf in /etc/gitconfig);
# a fresh machine with network reaches github.com instead. Either way SwiftPM fetches them.
if [[ -d /opt/swift-packages ]]; then
  mkdir -p "$root/opt/swift-packages"
  mount --bind /opt/swift-packages "$root/opt/swift-packages" && mount -o remount,bind,ro "$root/opt/swift-packages"
  git config --system --get-regexp '^url\..*\.insteadof$' | while read -r key value; do
    git config --file "$root/etc/gitconfig" --add "$key" "$value"
  done
fi
cp /etc/resolv.conf "$root/etc/resolv.conf"
git clone -q "$PWD" "$root/src"
# A machine that has been used has package lists; a debootstrapped root has none yet.
chroot "$root" apt-get update -qq

in_root() {
  chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb PATH=/opt/swift/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "cd /src && $1"
}

echo "check-fresh-machine: 1. without the C libraries"
set +e
first=$(in_root "$first_command" 2>&1)
status=$?
set -e
echo "$first" | sed 's/^/  | /'
if [[ $status -eq 0 ]]; then echo "check-fresh-machine: the first command succeeded without hiredis and libpq" >&2; exit 1; fi
if [[ $(wc -l <<<"$first") -ne 1 ]]; then echo "check-fresh-machine: expected exactly one line (the install command)" >&2; exit 1; fi
grep -Eq "^(sudo )?apt-get install -y " <<<"$first" || { echo "check-fresh-machine: the line is not an apt-get install command" >&2; exit 1; }
for package in libhiredis-dev libpq-dev pkg-config; do
  grep -q "$package" <<<"$first" || { echo "check-fresh-machine: the install line does not name $package" >&2; exit 1; }
done
[[ ! -e $root/src/.build ]] || { echo "check-fresh-machine: a build started before the install line" >&2; exit 1; }

echo "check-fresh-machine: 2. the install line, as printed"
in_root "DEBIAN_FRONTEND=noninteractive $first" >/dev/null

echo "check-fresh-machine: 3. the README's first command again (a full debug build)"
started=$SECONDS
output=$(in_root "$first_command" 2>&1) || { echo "$output" | tail -40; echo "check-fresh-machine: the first command failed after the install" >&2; exit 1; }
echo "$output" | tail -9 | sed 's/^/  | /'
grep -q "^autoscaler .*adhoc wait mean .*p50 .*p95" <<<"$output" || { echo "check-fresh-machine: no comparison table" >&2; exit 1; }
grep -q "^vs target tracking" <<<"$output" || { echo "check-fresh-machine: no comparison lines" >&2; exit 1; }
echo "check-fresh-machine: ok (build and demo took $((SECONDS - started)) s inside the fresh root)"
