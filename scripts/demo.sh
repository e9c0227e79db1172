#!/usr/bin/env bash
# The README's first command: the demo on a simulated day (no AWS, no Redash, no network).
# The one executable links hiredis and libpq, so before the first build this checks that their
# headers are installed. When they are not, it prints the one command that installs exactly what
# is missing (apt-get on Debian/Ubuntu, Homebrew on macOS) and stops, instead of failing after
# minutes of compiling with "hiredis/hiredis.h file not found". Then it is `swift run`.
# Arguments go to the demo: scripts/demo.sh --seed 2, scripts/demo.sh --help.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v swift >/dev/null || { echo "swift is not on PATH: install Swift 6.1 or later from https://www.swift.org/install" >&2; exit 1; }

swift_flags=()
case "$(uname -s)" in
  Darwin)
    if ! command -v brew >/dev/null; then
      echo "the demo needs hiredis, libpq and pkg-config; with Homebrew (https://brew.sh): brew install hiredis libpq pkg-config" >&2
      exit 1
    fi
    prefix=$(brew --prefix)
    missing=()
    [[ -f $prefix/include/hiredis/hiredis.h ]] || missing+=(hiredis)
    [[ -d $(brew --prefix libpq 2>/dev/null)/lib/pkgconfig ]] || missing+=(libpq)
    command -v pkg-config >/dev/null || missing+=(pkg-config)
    if ((${#missing[@]})); then
      echo "brew install ${missing[*]}" >&2
      exit 1
    fi
    # libpq is keg-only, and Homebrew's include and lib folders are not on the default paths.
    export PKG_CONFIG_PATH="$(brew --prefix libpq)/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    swift_flags=(-Xcc "-I$prefix/include" -Xlinker "-L$prefix/lib")
    ;;
  Linux)
    missing=()
    [[ -f /usr/include/hiredis/hiredis.h ]] || missing+=(libhiredis-dev)
    [[ -f /usr/include/postgresql/libpq-fe.h ]] || missing+=(libpq-dev)
    command -v pkg-config >/dev/null || missing+=(pkg-config)
    if ((${#missing[@]})); then
      if command -v apt-get >/dev/null; then
        sudo=""
        [[ $(id -u) -eq 0 ]] || sudo="sudo "
        echo "${sudo}apt-get install -y ${missing[*]}" >&2
      else
        echo "the demo needs the development files of hiredis and libpq, and pkg-config (Debian/Ubuntu: ${missing[*]}); install them with your package manager" >&2
      fi
      exit 1
    fi
    ;;
esac

exec swift run ${swift_flags[@]+"${swift_flags[@]}"} redash-autoscaler demo "$@"
