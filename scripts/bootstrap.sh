#!/usr/bin/env bash
# The test machine's script (CI runs it through scripts/test.sh): installs what building and
# testing need on a fresh Debian machine, and nothing that is there. To build and run the
# controller on a laptop you need only Swift and two C libraries: docs/getting-started.md.
# - the C libraries the Redis and PostgreSQL clients wrap (hiredis, libpq) and pkg-config;
# - the servers the integration tests start on 127.0.0.1 (redis-server, PostgreSQL 15) and openssl for their
#   throwaway TLS certificates; debootstrap for the runtime root-filesystem check; chromium for
#   the status page test in a real browser; umoci and
#   skopeo to build and read the OCI image (scripts/build-image.sh, scripts/check-image.sh);
# - Python venvs with the real queue libraries Redash uses and moto (.venv: rq 1.16, celery,
#   moto; .venv-rq15: rq 1.5 for Redash v10; .venv-celery4: Celery 4.3 for Redash v8, on pyenv's
#   Python 3.7; .venv-deploy: python-hcl2 and checkov).
# Terraform and its AWS provider are not Debian packages: scripts/check-terraform.sh expects
# terraform on PATH and the provider in a filesystem mirror (TF_PLUGIN_MIRROR, default
# /opt/tf-plugins), and says so when either is missing.
# Safe to run again. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(pkg-config libhiredis-dev libpq-dev redis-server redis-tools openssl postgresql-15 debootstrap umoci skopeo chromium)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian packages start a redis-server on 6379 and a PostgreSQL on 5432; the tests start their
# own on free ports.

command -v swift >/dev/null || { echo "bootstrap: swift is not on PATH (Swift 6.1 or later is needed)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bootstrap: python3 is not on PATH" >&2; exit 1; }

# Venvs are kept outside the checkout, one per requirements file and interpreter, in
# $REDASH_AUTOSCALER_VENV_CACHE (default /var/cache/redash-autoscaler/venvs when it can be
# written; empty: inside the checkout), and the checkout's .venv* link to them: a clean clone on
# a machine that ran the suite before installs nothing again. A changed requirements file is a
# new venv.
venv_cache=${REDASH_AUTOSCALER_VENV_CACHE-/var/cache/redash-autoscaler/venvs}
if [[ -n $venv_cache ]] && ! mkdir -p "$venv_cache" 2>/dev/null; then venv_cache=""; fi

# make_venv DIR REQUIREMENTS [PYTHON]: creates or refreshes a venv when its requirements changed.
make_venv() {
  local dir=$1 requirements=$2 python=${3:-python3} stamp
  if [[ -n $venv_cache ]]; then
    local key
    key=$( (sha256sum "$requirements" | cut -c1-16; "$python" -c 'import sys; print(sys.version)') | sha256sum | cut -c1-16)
    local cached="$venv_cache/${dir#.}-$key"
    # Made where it lives (a venv's scripts name their own path); its stamp is written last, so a
    # venv cut short is made again.
    make_venv_in "$cached" "$requirements" "$python"
    if [[ ! -L $dir && -e $dir ]]; then rm -rf "$dir"; fi
    ln -sfn "$cached" "$dir"
    return 0
  fi
  make_venv_in "$dir" "$requirements" "$python"
}

make_venv_in() {
  local dir=$1 requirements=$2 python=${3:-python3} stamp
  stamp="$dir/.requirements.sha256"
  if [[ -x "$dir/bin/python" && -f "$stamp" ]] && sha256sum --status -c "$stamp" 2>/dev/null; then
    return 0
  fi
  echo "bootstrap: creating $dir from $requirements"
  if ! "$python" -m venv "$dir" 2>/dev/null; then
    "${sudo_cmd[@]}" apt-get install -y -qq python3-venv >/dev/null
    "$python" -m venv "$dir"
  fi
  "$dir/bin/pip" install -q --disable-pip-version-check -r "$requirements"
  sha256sum "$requirements" > "$stamp"
}

make_venv .venv scripts/requirements-test.txt
# Terraform parsing and checkov for scripts/check-deploy.sh, apart from the test venv.
make_venv .venv-deploy scripts/requirements-deploy.txt
# RQ 1.5 is Redash v10's: its tests (the +inf started registry, the v10 forecast rules) need it,
# so a failed install fails the bootstrap rather than skipping them.
make_venv .venv-rq15 scripts/requirements-rq15.txt
# Celery 4.3 is Redash v8's; it installs on Python 3.7 at the newest, which pyenv provides. The
# Celery 4 remote-control tests need it, so its absence fails the bootstrap, plainly.
python37=""
for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.7*/bin/python3.7 "$(command -v python3.7 || true)"; do
  [[ -n "$candidate" && -x "$candidate" ]] && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 7)' 2>/dev/null && { python37=$candidate; break; }
done
if [[ -z "$python37" ]]; then
  echo "bootstrap: Python 3.7 is missing (for Celery 4.3, Redash v8's): install it with pyenv (pyenv install 3.7) or your package manager" >&2
  exit 1
fi
make_venv .venv-celery4 scripts/requirements-celery4.txt "$python37"
