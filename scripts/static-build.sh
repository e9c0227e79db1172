#!/usr/bin/env bash
# The release build, in one place for check-runtime-rootfs.sh and release.sh (so they share one
# build folder): the static Swift runtime (as deploy/Dockerfile), in .build-static, with the
# checkout's path mapped to /src in #file strings, debug information and C assertion messages,
# so that the binary holds no path of the machine that built it. Two clones at different paths
# still differ in the .swift_modhash section (17 KB of module hashes) and so in the build id.
# Usage: scripts/static-build.sh            builds, then prints the binary's path
set -euo pipefail
cd "$(dirname "$0")/.."
flags=(-c release --static-swift-stdlib --scratch-path .build-static
  -Xswiftc -file-prefix-map -Xswiftc "$PWD=/src" -Xcc "-ffile-prefix-map=$PWD=/src")
swift build "${flags[@]}" --product redash-autoscaler >&2
echo "$(swift build "${flags[@]}" --show-bin-path)/redash-autoscaler"
