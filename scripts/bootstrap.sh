#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine: the C libraries the
# Redis and PostgreSQL clients wrap (hiredis, libpq) and pkg-config to find them.
# Safe to run again; it installs only what is missing. Needs root (or sudo) for apt-get.
set -euo pipefail

packages=(pkg-config libhiredis-dev libpq-dev)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "bootstrap: swift is not on PATH (Swift 6.1 or later is needed)" >&2; exit 1; }
