#!/usr/bin/env bash
# Cost of the Redash metadata refresh and of the per-tick forecast, on a throwaway PostgreSQL 15
# holding 20,000 scheduled queries and 1,000,000 query_results rows.
# Usage: scripts/bench-forecast.sh [scheduled-queries] [results] [rounds]   (needs postgresql-15)
set -euo pipefail
cd "$(dirname "$0")/.."
queries=${1:-20000}; results=${2:-1000000}; rounds=${3:-10}
bin=/usr/lib/postgresql/15/bin
dir=$(mktemp -d)
chmod 755 "$dir"
as_postgres=()
if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$dir"; as_postgres=(runuser -u postgres --); fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${as_postgres[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 >/dev/null
"${as_postgres[@]}" "$bin/pg_ctl" -D "$dir/data" -w -l "$dir/log" \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
trap '"${as_postgres[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1; rm -rf "$dir"' EXIT
echo "seeding $queries scheduled queries and $results query_results rows on 127.0.0.1:$port"
psql -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
  -v queries="$queries" -v results="$results" -f scripts/lab/redash_v25_bench.sql
swift build -c release --product autoscaler-benchmarks >/dev/null
"$(swift build -c release --show-bin-path)/autoscaler-benchmarks" forecast "postgresql://postgres@127.0.0.1:$port/postgres" "$rounds"
