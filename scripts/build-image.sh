#!/usr/bin/env bash
# Builds the controller's OCI image without Docker: the Debian runtime root that
# scripts/check-runtime-rootfs.sh debootstrapped and verified is the first layer, the static
# release binary, the example policy and the non-root user are the second. The result is an OCI
# image archive (`oci-archive:` to skopeo), which `skopeo copy` pushes to ECR (deploy/README.md).
# The layers and the config are normalised (file times, owners, the build's own logs and caches
# removed, created = the commit's time), so the same root and binary give the same digest.
#
# Usage: scripts/build-image.sh ROOT BINARY OUTPUT.tar
#   ROOT    the kept root of `KEEP_RUNTIME_ROOT=ROOT scripts/check-runtime-rootfs.sh`
#   BINARY  the static release binary (scripts/release.sh builds it with the revision stamped)
# Environment: IMAGE_SOURCE (the org.opencontainers.image.source label; default: the git
# remote's URL), SOURCE_DATE_EPOCH (default: the commit's time).
# Needs root (files owned by root in the layers) and umoci (apt-get install umoci).
# Prints the image's digest last.
set -euo pipefail
cd "$(dirname "$0")/.."
(($# == 3)) || { sed -n '9,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
root=$1 binary=$2 output=$3
[[ $(id -u) -eq 0 ]] || { echo "build-image: needs root (the layers' files are owned by root)" >&2; exit 1; }
command -v umoci >/dev/null || { echo "build-image: umoci is not installed (apt-get install umoci)" >&2; exit 1; }
[[ -x $root/usr/bin/ldd && -d $root/var/lib/dpkg ]] || { echo "build-image: $root is not a runtime root from check-runtime-rootfs.sh" >&2; exit 1; }
[[ -x $binary ]] || { echo "build-image: no binary at $binary" >&2; exit 1; }

version_line=$("$binary" --version)
version=${version_line%% *}
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
[[ $version_line == *"(unknown revision)"* ]] && echo "build-image: warning: the binary has no revision stamped (scripts/release.sh stamps it)" >&2
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
source=${IMAGE_SOURCE:-$(git remote get-url origin 2>/dev/null || echo unknown)}
case $(uname -m) in x86_64) architecture=amd64 ;; aarch64) architecture=arm64 ;; *) architecture=$(uname -m) ;; esac

work=$(mktemp -d /tmp/redash-autoscaler-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
layout=$work/layout bundle=$work/bundle
umoci init --layout "$layout"
umoci new --image "$layout:build"
umoci unpack --image "$layout:build" "$bundle" >/dev/null

# Sets every file's time to the commit's, so that the layers do not depend on when they were built.
normalise_times() {
  find "$1" -xdev -exec touch --no-dereference --date="@$epoch" {} +
}

# Layer 1: the verified runtime root, without what only the build or a shell session needs.
cp -a "$root/." "$bundle/rootfs/"
# The kept root is a mktemp directory (0700): "/" of the image must be 0755, or UID 10001 can
# run nothing.
chmod 0755 "$bundle/rootfs"
(
  cd "$bundle/rootfs"
  rm -rf proc/* sys/* dev/* tmp/* run/* var/tmp/* var/log/* var/cache/apt/* var/lib/apt/lists/* \
    var/cache/ldconfig/aux-cache var/cache/debconf/*-old var/lib/dpkg/*-old etc/machine-id etc/hostname \
    etc/resolv.conf etc/hosts
  # Documentation and manuals are not needed to run; the licences stay (usr/share/doc/*/copyright).
  find usr/share/doc -type f ! -name copyright -delete 2>/dev/null || true
  rm -rf usr/share/man/* usr/share/info/* usr/share/locale/*
)
normalise_times "$bundle/rootfs"
umoci repack --image "$layout:build" --history.created "$created" \
  --history.created_by "debootstrap --variant=minbase bookworm + libpq5 libhiredis0.14 ca-certificates tzdata (scripts/check-runtime-rootfs.sh)" "$bundle"

# Layer 2: the controller, its example policy and its user (UID 10001, as deploy/Dockerfile).
# A fresh unpack of the image so far: a second repack of the same bundle would be based on the
# empty image it was unpacked from, and drop layer 1.
rm -rf "$bundle"
umoci unpack --image "$layout:build" "$bundle" >/dev/null
install -D -m 0755 "$binary" "$bundle/rootfs/usr/local/bin/redash-autoscaler"
install -D -m 0644 policies.yaml "$bundle/rootfs/etc/redash-autoscaler/policies.yaml"
install -D -m 0644 LICENSE "$bundle/rootfs/usr/share/doc/redash-autoscaler/LICENSE"
grep -q '^autoscaler:' "$bundle/rootfs/etc/passwd" || echo 'autoscaler:x:10001:10001:redash-autoscaler:/nonexistent:/usr/sbin/nologin' >>"$bundle/rootfs/etc/passwd"
grep -q '^autoscaler:' "$bundle/rootfs/etc/group" || echo 'autoscaler:x:10001:' >>"$bundle/rootfs/etc/group"
normalise_times "$bundle/rootfs"
umoci repack --image "$layout:build" --history.created "$created" --history.created_by "redash-autoscaler $version_line" "$bundle"

umoci config --image "$layout:build" --tag "$version" --no-history \
  --created "$created" --os linux --architecture "$architecture" \
  --config.entrypoint /usr/local/bin/redash-autoscaler --config.cmd run \
  --config.user 10001:10001 --config.workingdir / --config.exposedports 8080/tcp \
  --config.env PATH=/usr/local/bin:/usr/bin:/bin \
  --config.env REDASH_AUTOSCALER_POLICIES=/etc/redash-autoscaler/policies.yaml \
  --config.env REDASH_AUTOSCALER_LISTEN=0.0.0.0:8080 \
  --config.label "org.opencontainers.image.title=redash-autoscaler" \
  --config.label "org.opencontainers.image.description=Queue-driven autoscaler for Redash on AWS ECS" \
  --config.label "org.opencontainers.image.version=$version" \
  --config.label "org.opencontainers.image.revision=$revision" \
  --config.label "org.opencontainers.image.source=$source" \
  --config.label "org.opencontainers.image.licenses=Apache-2.0" \
  --config.label "org.opencontainers.image.created=$created" \
  --config.label "org.opencontainers.image.base.name=debian:bookworm (debootstrap minbase)"
umoci rm --image "$layout:build"
umoci gc --layout "$layout"

# An OCI archive is the layout in a tar file; written in a fixed order with fixed owners and times.
find "$layout" -exec touch --no-dereference --date="@$epoch" {} +
mkdir -p "$(dirname "$output")"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" --format=posix \
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -C "$layout" -cf "$output" .
digest=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$layout/index.json")
echo "build-image: $output: redash-autoscaler:$version ($architecture), revision $revision, $(du -h "$output" | cut -f1)"
echo "$digest"
