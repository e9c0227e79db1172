#!/usr/bin/env bash
# Makes a release from a clean checkout: the static Linux binary with the version and git
# revision built in, a tarball of it with LICENSE, README.md, CHANGELOG.md, the example policy
# and the IAM policies with scripts/render-iam-policy.sh, the OCI image archive (scripts/build-image.sh), a SHA256SUMS file for both, and the
# release notes (this version's section of CHANGELOG.md). Then it checks what it made: the
# tarball's binary prints the version and revision, the image passes scripts/check-image.sh.
#
# Usage: sudo scripts/release.sh [OUTPUT_DIR]     (default: dist/)
# Environment: RUNTIME_ROOT=DIR reuses a root kept by check-runtime-rootfs.sh (KEEP_RUNTIME_ROOT)
# instead of debootstrapping and checking one with the release binary; IMAGE_SOURCE sets the
# image's source label.
# Needs root (debootstrap and the image's layers), Swift 6.1+, umoci and skopeo.
set -euo pipefail
cd "$(dirname "$0")/.."
output=${1:-dist}
[[ $(id -u) -eq 0 ]] || { echo "release: needs root (the runtime root and the image's layers)" >&2; exit 1; }
version_file=Sources/AutoscalerCLI/BuildVersion.swift
version=$(sed -n 's/^ *static let version = "\(.*\)"$/\1/p' "$version_file")
[[ -n $version ]] || { echo "release: no version in $version_file" >&2; exit 1; }
grep -q "^## $version\b" CHANGELOG.md || { echo "release: CHANGELOG.md has no section \"## $version\": write the release notes first" >&2; exit 1; }
[[ -z $(git status --porcelain --untracked-files=no) ]] || { echo "release: the work tree has changes; a release is made from a commit" >&2; git status --short >&2; exit 1; }
revision=$(git rev-parse HEAD)
export SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
case $(uname -m) in x86_64) arch=x86_64 ;; aarch64) arch=aarch64 ;; *) arch=$(uname -m) ;; esac
name=redash-autoscaler-$version-linux-$arch
mkdir -p "$output"
output=$(cd "$output" && pwd)

work=$(mktemp -d /tmp/redash-autoscaler-release.XXXXXX)
restore() { git checkout -q -- "$version_file"; rm -rf "$work"; }
trap restore EXIT

echo "release: building $version (${revision:0:12}), static Swift runtime"
sed -i "s/^\( *static let revision: String? = \)nil$/\1\"${revision:0:12}\"/" "$version_file"
grep -q "\"${revision:0:12}\"" "$version_file" || { echo "release: could not stamp the revision into $version_file" >&2; exit 1; }
built=$(scripts/static-build.sh 2>"$work/build.log") || { tail -40 "$work/build.log"; exit 1; }
git checkout -q -- "$version_file"

# The runtime root is checked with the very binary that ships (one static build, not two).
root=${RUNTIME_ROOT:-}
if [[ -z $root ]]; then
  root=$work/runtime-root
  echo "release: debootstrapping and checking the runtime root with it (scripts/check-runtime-rootfs.sh)"
  BINARY=$built KEEP_RUNTIME_ROOT=$root scripts/check-runtime-rootfs.sh >"$work/rootfs.log" 2>&1 || { cat "$work/rootfs.log"; exit 1; }
fi

# Debug information is most of the binary's size; the symbols stay, so crash backtraces name
# their functions.
mkdir -p "$work/$name"
strip --strip-debug -o "$work/$name/redash-autoscaler" "$built"
reported=$("$work/$name/redash-autoscaler" --version)
[[ $reported == "$version (${revision:0:12})" ]] || { echo "release: the binary says \"$reported\", expected \"$version (${revision:0:12})\"" >&2; exit 1; }
cp LICENSE README.md CHANGELOG.md policies.yaml "$work/$name/"
# What getting-started needs beside the binary: the read-only policy and the script rendering it.
cp --parents deploy/iam/controller-policy.json.tftpl deploy/iam/dry-run-policy.json.tftpl scripts/render-iam-policy.sh "$work/$name/"
find "$work/$name" -exec touch --date="@$SOURCE_DATE_EPOCH" {} +
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" -C "$work" -cf - "$name" | gzip -n -9 >"$output/$name.tar.gz"

scripts/build-image.sh "$root" "$work/$name/redash-autoscaler" "$output/redash-autoscaler-$version-oci.tar" >"$work/image.log"
digest=$(tail -1 "$work/image.log")
scripts/check-image.sh "$output/redash-autoscaler-$version-oci.tar" "$version"

(cd "$output" && sha256sum "$name.tar.gz" "redash-autoscaler-$version-oci.tar" >SHA256SUMS)
awk -v heading="## $version" '$0 ~ "^## " { keep = index($0, heading) == 1 } keep' CHANGELOG.md >"$output/RELEASE-NOTES-$version.md"
echo "$digest" >"$output/redash-autoscaler-$version-oci.digest"

echo "release: $version (${revision:0:12}) in $output:"
(cd "$output" && ls -l "$name.tar.gz" "redash-autoscaler-$version-oci.tar" SHA256SUMS "RELEASE-NOTES-$version.md" | awk '{print "release:   " $5 "\t" $9}')
sed 's/^/release:   sha256 /' "$output/SHA256SUMS"
echo "release:   image digest $digest (pin it: image = \"<registry>/redash-autoscaler@$digest\")"
