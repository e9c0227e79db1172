#!/usr/bin/env bash
# How well the scheduled-query forecast predicts what Redash enqueues: a seeded mix of scheduled
# queries (Redash's schedule choices from every minute to weekly, daily and weekly times, some
# failing, some that never ran, copies of one text), run through the Redash-like scheduler of
# Tests/RedashMetadataTests/Python/redash_standin.py for an hour of simulated refreshes, against
# the forecast made at the start. Prints, per era, the runs per minute both ways and how often
# they agree. Usage: [WORKERS=n] scripts/bench-forecast-accuracy.sh [queries] [minutes] [seed]
# WORKERS: scheduled-queue worker processes (default 1000: no query waits for a worker).
set -euo pipefail
cd "$(dirname "$0")/.."
queries=${1:-400}; minutes=${2:-60}; seed=${3:-1}; workers=${WORKERS:-1000}
python=.venv/bin/python
[[ -x $python ]] || { echo "bench-forecast-accuracy: $python is missing: run scripts/bootstrap.sh" >&2; exit 1; }
swift build -c release --product autoscaler-benchmarks >/dev/null
bench="$(swift build -c release --show-bin-path)/autoscaler-benchmarks"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for era in v25 v10; do
  "$python" - "$dir/spec-$era.json" "$queries" "$minutes" "$seed" "$era" "$workers" <<'PY'
import json, random, sys
path, count, minutes, seed, era, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
rng = random.Random(seed)
start = 1795428007.0            # Monday 2026-11-23 10:00:07 UTC
first_refresh = 1795428030.0    # Redash refreshed at 10:00:00; next at 10:00:30
intervals = [60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200]
queries, executed = [], {}
for index in range(1, count + 1):
    kind = rng.random()
    query = {"id": index, "data_source": 1, "hash": "q%d" % index, "runtime": round(rng.uniform(0.5, 20), 1)}
    if kind < 0.12:
        query["schedule"] = {"interval": 86400, "time": "%02d:%02d" % (10 + rng.randrange(2), rng.randrange(0, 60, 5))}
        last = start - 86400 + rng.uniform(-600, 600)
    elif kind < 0.16:
        day = rng.choice(["Monday", "Tuesday"])
        query["schedule"] = {"interval": 604800, "time": "%02d:%02d" % (10, rng.randrange(0, 60, 5)), "day_of_week": day}
        last = start - 604800 + rng.uniform(-300, 300)
    else:
        interval = rng.choice(intervals)
        query["schedule"] = {"interval": interval}
        last = start - rng.uniform(0, interval * 1.2)
    roll = rng.random()
    if roll < 0.05:
        last = None                                          # never ran
    elif roll < 0.12:
        query["failures"] = rng.randint(1, 4)                # failed before, succeeds now
    elif roll < 0.15:
        query["hash"] = "copy%d" % (index % 5)                # copies of one text
    if last is not None:
        if rng.random() < 0.8:
            executed[str(index)] = last                      # sq:executed_at
        else:
            query["retrieved_at"] = last                     # only a result to go by
    queries.append(query)
json.dump({"era": era, "start": start, "first_refresh": first_refresh, "period": 30.0, "minutes": minutes,
           "workers": workers, "start_latency": 0.3, "queries": queries, "executed_at": executed}, open(path, "w"))
PY
  "$python" Tests/RedashMetadataTests/Python/redash_standin.py simulate "$dir/spec-$era.json" > "$dir/truth-$era.json"
  "$bench" forecast-accuracy "$dir/spec-$era.json" > "$dir/forecast-$era.json"
  "$python" - "$dir/spec-$era.json" "$dir/truth-$era.json" "$dir/forecast-$era.json" "$era" <<'PY'
import json, sys
spec, truth, forecast, era = (json.load(open(p)) for p in sys.argv[1:4]) + (sys.argv[4],) if False else (json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), json.load(open(sys.argv[3])), sys.argv[4])
minutes = spec["minutes"]
actual = [0] * minutes
for _, at in truth["enqueues"]:
    minute = int((at - spec["start"]) // 60)
    if 0 <= minute < minutes:
        actual[minute] += 1
predicted = forecast["perMinute"]
exact = sum(1 for a, p in zip(actual, predicted) if a == p)
absolute = sum(abs(a - p) for a, p in zip(actual, predicted))
# Within one minute: the cumulative counts never further apart than one minute's shift.
within, cum_p, cum_a = True, 0, 0
worst = 0
for minute in range(minutes):
    cum_p += predicted[minute]
    before = cum_a
    cum_a += actual[minute]
    after = cum_a + (actual[minute + 1] if minute + 1 < minutes else 0)
    if cum_p < before or cum_p > after:
        within = False
        worst = max(worst, before - cum_p, cum_p - after)
print("forecast-accuracy %s: %d scheduled queries, %d minutes of simulated refreshes (every %gs), %d worker processes" % (era, len(spec["queries"]), minutes, spec["period"], spec["workers"]))
print("forecast-accuracy %s: runs enqueued %d, forecast %d; minutes exactly right %d of %d; sum of |per-minute error| %d (%.2f a minute)"
      % (era, sum(actual), sum(predicted), exact, minutes, absolute, absolute / minutes))
print("forecast-accuracy %s: every run within one minute: %s%s; first refresh: Redash counted %d due, forecast %d; forecast built in %s ms"
      % (era, "yes" if within else "no", "" if within else " (worst cumulative gap %d runs)" % worst,
         truth["refreshes"][0][1] if truth["refreshes"] else -1, forecast["firstRefreshDue"], forecast["buildMilliseconds"]))
PY
done
