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
#   moto; .venv-rq15: rq 1.5 for Redash v10, optional; .venv-deploy: python-hcl2 and checkov).
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

# make_venv DIR REQUIREMENTS: creates or refreshes a venv when its requirements changed.
make_venv() {
  local dir=$1 requirements=$2 stamp
  stamp="$dir/.requirements.sha256"
  if [[ -x "$dir/bin/python" && -f "$stamp" ]] && sha256sum --status -c "$stamp" 2>/dev/null; then
    return 0
  fi
  echo "bootstrap: creating $dir from $requirements"
  if ! python3 -m venv "$dir" 2>/dev/null; then
    "${sudo_cmd[@]}" apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$dir"
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
