#!/usr/bin/env bash
# Checks an OCI image archive from scripts/build-image.sh without Docker: skopeo reads it as a
# registry would (digest, labels, user, entrypoint), then umoci unpacks it and the binary runs
# from the unpacked root, as UID 10001 like the ECS task: `--version` and `validate` on the
# policy the image carries.
# Usage: scripts/check-image.sh ARCHIVE.tar [EXPECTED_VERSION]
# Needs root (chroot), skopeo and umoci (apt-get install skopeo umoci).
set -euo pipefail
cd "$(dirname "$0")/.."
archive=$1 expected=${2:-}
[[ $(id -u) -eq 0 ]] || { echo "check-image: needs root (chroot into the unpacked image)" >&2; exit 1; }
for tool in skopeo umoci; do
  command -v $tool >/dev/null || { echo "check-image: $tool is not installed (apt-get install $tool)" >&2; exit 1; }
done
tag=$(tar -xOf "$archive" ./index.json | python3 -c 'import json, sys; print(json.load(sys.stdin)["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"])')
inspect=$(skopeo inspect "oci-archive:$archive:$tag")
config=$(skopeo inspect --config "oci-archive:$archive:$tag")
python3 - "$inspect" "$config" "$expected" <<'PY'
import json, sys
inspect, config, expected = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
labels = inspect["Labels"]
problems = []
for key in ["version", "revision", "source", "licenses"]:
    if not labels.get(f"org.opencontainers.image.{key}"):
        problems.append(f"label org.opencontainers.image.{key} is missing")
if labels.get("org.opencontainers.image.licenses") != "Apache-2.0":
    problems.append(f"licenses label {labels.get('org.opencontainers.image.licenses')}")
if expected and labels.get("org.opencontainers.image.version") != expected:
    problems.append(f"version label {labels.get('org.opencontainers.image.version')}, expected {expected}")
runtime = config["config"]
if runtime.get("User") != "10001:10001":
    problems.append(f"user {runtime.get('User')!r}, not the non-root 10001")
if runtime.get("Entrypoint") != ["/usr/local/bin/redash-autoscaler"] or runtime.get("Cmd") != ["run"]:
    problems.append(f"entrypoint {runtime.get('Entrypoint')} {runtime.get('Cmd')}")
if len(inspect["Layers"]) != 2:
    problems.append(f"{len(inspect['Layers'])} layers, expected the runtime root and the controller")
for problem in problems:
    print(f"check-image: FAIL: {problem}")
if problems:
    sys.exit(1)
print(f"check-image: {inspect['Digest']} {inspect['Os']}/{inspect['Architecture']}, {len(inspect['Layers'])} layers, user {runtime['User']}, "
      f"entrypoint {runtime['Entrypoint'][0]} {' '.join(runtime['Cmd'])}, version {labels['org.opencontainers.image.version']}, "
      f"revision {labels['org.opencontainers.image.revision'][:12]}, source {labels['org.opencontainers.image.source']}")
PY

work=$(mktemp -d /tmp/redash-autoscaler-check-image.XXXXXX)
trap 'umount "$work/bundle/rootfs/proc" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir "$work/layout"
tar -xf "$archive" -C "$work/layout"
umoci unpack --image "$work/layout:$tag" "$work/bundle" >/dev/null
rootfs=$work/bundle/rootfs
mount -t proc proc "$rootfs/proc"
run() { chroot --userspec=10001:10001 "$rootfs" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin \
  REDASH_AUTOSCALER_POLICIES=/etc/redash-autoscaler/policies.yaml /usr/local/bin/redash-autoscaler "$@"; }
version=$(run --version)
echo "check-image: from the unpacked root, as UID 10001: --version: $version"
[[ -z $expected || $version == "$expected "* ]] || { echo "check-image: FAIL: --version says $version, expected $expected" >&2; exit 1; }
summary=$(run validate)
echo "$summary" | sed 's/^/check-image:   /'
grep -q "redash-adhoc-worker: queries" <<<"$summary"
run healthcheck --help | grep -q "USAGE: redash-autoscaler healthcheck"
echo "check-image: ok"
