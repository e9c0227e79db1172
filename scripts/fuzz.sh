#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, through `swift build --sanitize=fuzzer`, with
# AddressSanitizer and its leak checker) of everything that reads bytes from outside: the RESP
# codec, the RQ and Celery probes' reading of replies, the policy loader, AWS's answers.
#
#   scripts/fuzz.sh [TARGET...] [SECONDS] [--merge] [--no-build]
#
# Builds Fuzz/ (a package of its own, in .build-fuzz, release; ~4 min the first time on 2 cores,
# seconds after), then runs each target for SECONDS (default 60) from its committed corpus
# Fuzz/Corpus/<target>/ with its dictionary Fuzz/Dictionaries/<target>.dict, and prints its
# executions and executions per second. New inputs go to .build-fuzz/corpus/<target>/; with
# --merge, those that add coverage are merged into the committed corpus (commit them). A crash
# or a broken promise stops that target, is saved under .build-fuzz/artifacts/<target>/, and
# makes the script exit 1: fix it, copy the input into the corpus as crash-<what>, and add a
# named test (docs/testing.md). A toolchain without libFuzzer (Xcode's, for one) makes it exit
# 3 with a message saying so: nothing is fuzzed, and that is not a pass.
# Targets: resp-decoding probe-replies policy-text aws-answers (default: all, one after the other).
# --no-build runs what .build-fuzz holds (build it under a build lock, fuzz outside it, niced).
# FUZZ_JOBS=N runs N fuzzing processes per target (libFuzzer's -fork); the default 1 leaves the
# machine's other core to others.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
merge=false
build_first=true
targets=()
for argument in "$@"; do
  case $argument in
    --merge) merge=true ;;
    --no-build) build_first=false ;;
    ''|*[!0-9]*) targets+=("$argument") ;;
    *) seconds=$argument ;;
  esac
done
all=(resp-decoding probe-replies policy-text aws-answers)
((${#targets[@]})) || targets=("${all[@]}")
for target in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $target "* ]] || { echo "fuzz: unknown target $target (known: ${all[*]})" >&2; exit 2; }
done

# libFuzzer comes with the swift.org toolchains for Linux, not with Xcode's: ask the compiler
# for a fuzzer before the four-minute build, and say so plainly when it has none.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
cat >"$probe/probe.swift" <<'SWIFT'
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 { 0 }
SWIFT
if ! swiftc -sanitize=fuzzer -parse-as-library "$probe/probe.swift" -o "$probe/probe" >"$probe/log" 2>&1 \
  || ! "$probe/probe" -runs=1 >>"$probe/log" 2>&1; then
  echo "fuzz: this toolchain has no libFuzzer ('swiftc -sanitize=fuzzer' failed; $(swiftc --version 2>&1 | head -1)):" >&2
  sed 's/^/fuzz:   /' "$probe/log" | head -5 >&2
  echo "fuzz: nothing was fuzzed. Use a swift.org toolchain for Linux (the project's CI machine has one)." >&2
  exit 3
fi

# SwiftPM passes each --sanitize to swiftc as its own -sanitize= flag, in no fixed order, and
# swiftc keeps only the last one: without the joined flag, a build had either coverage (and no
# AddressSanitizer) or AddressSanitizer (and no coverage of any Swift code), changing from one
# clean build to the next.
build=(swift build --package-path Fuzz --scratch-path .build-fuzz -c release --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address)
started=$SECONDS
if $build_first; then
  mkdir -p .build-fuzz
  if ! "${build[@]}" 2>&1 | tee .build-fuzz/build.log; then
    # SwiftPM keeps the plan of a path dependency's sources: a file removed from the main
    # package since the last build fails it with "missing inputs" until the plan is made anew.
    grep -q "because of missing inputs" .build-fuzz/build.log || exit 1
    echo "fuzz: a source file of the main package is gone since the last build; planning the build again"
    rm -f .build-fuzz/release.yaml .build-fuzz/build.db
    "${build[@]}"
  fi
  echo "fuzz: built in $((SECONDS - started)) s"
fi
bin=$("${build[@]}" --show-bin-path)

# Swift's own crash backtracer would race libFuzzer's; libFuzzer prints the stack.
export SWIFT_BACKTRACE=enable=no
failed=()
for target in "${targets[@]}"; do
  corpus=Fuzz/Corpus/$target
  fresh=.build-fuzz/corpus/$target
  artifacts=.build-fuzz/artifacts/$target
  log=.build-fuzz/$target.log
  mkdir -p "$fresh" "$artifacts"
  echo "fuzz: $target for $seconds s ($(ls "$corpus" | wc -l) committed inputs)"
  options=(
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1
    -dict=Fuzz/Dictionaries/$target.dict -artifact_prefix="$artifacts/"
  )
  # The JSON client's tasks are released just after each input returns, which makes libFuzzer run
  # a full leak scan after every input (47 inputs/s instead of ~500); that code has no C memory.
  [[ $target == aws-answers ]] && options+=(-detect_leaks=0)
  jobs=${FUZZ_JOBS:-1}
  ((jobs > 1)) && options+=(-fork="$jobs" -ignore_crashes=0)
  if "$bin/fuzz-$target" "${options[@]}" "$fresh" "$corpus" >"$log" 2>&1; then
    stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
    # The last status line (libFuzzer ends with DONE, or with the last NEW/REDUCE/pulse).
    coverage=$(grep -E "^#[0-9]+.*cov: " "$log" | tail -1 | sed -E 's/.*(cov: [0-9]+ ft: [0-9]+ corp: [^ ]+).*/\1/' || true)
    echo "fuzz: $target: $(stat number_of_executed_units) executions in $seconds s ($(stat average_exec_per_sec)/s)," \
      "$(stat new_units_added) new inputs, peak RSS $(stat peak_rss_mb) MB; $coverage"
  else
    failed+=("$target")
    echo "fuzz: $target FAILED; the input is in $artifacts/, the log in $log:" >&2
    grep -E "Fatal error|ERROR: |SUMMARY|a promise broke" -A3 "$log" | head -40 >&2
    continue
  fi
  if $merge; then
    before=$(ls "$corpus" | wc -l)
    "$bin/fuzz-$target" -merge=1 -max_len=16384 "$corpus" "$fresh" >>"$log" 2>&1
    echo "fuzz: $target: merged $(($(ls "$corpus" | wc -l) - before)) new input(s) into $corpus"
  fi
done
echo "fuzz: done in $((SECONDS - started)) s"
if ((${#failed[@]})); then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
