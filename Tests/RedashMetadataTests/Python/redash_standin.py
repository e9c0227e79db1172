#!/usr/bin/env python3
"""A stand-in for Redash's scheduler, written for these tests from what Redash is documented and
observed to do (docs/database.md), not from its code. It lets the forecast be checked against
behaviour it did not compute itself.

What it reproduces:
- `refresh` runs every PERIOD seconds. A scheduled query is due when the refresh's start is
  strictly later than its next iteration: the previous start (`sq:executed_at`, else the latest
  result's retrieval time) plus the interval, or the daily/weekly time rule, plus 2^failures
  minutes after failures. Before v25.1 a query that never ran is never due; from v25.1 it is due at
  once. Queries with the same text on the same data source count once.
- A due query is enqueued unless its lock `query_hash_job:<data source>:<hash>` points at a job
  still queued or started; a finished or failed job's lock is dropped and the query enqueued.
  Every due query that is not skipped is counted in `outdated_queries_count`, locked ones too.
- A worker writes `sq:executed_at` when it *starts* a query, releases the lock when it ends; a
  success resets the failure count, a failure adds one.

Two modes:
- `simulate`: simulated time, no Redis: prints when each query was enqueued and what each
  refresh counted.
- `serve`: the real thing against Redis with the real `rq` library: jobs with Redash's meta and
  `timeout=-1`, the lock, `redash:status`, run by a real rq worker (`standin_job` below).

Every command prints JSON lines.
"""
import argparse
import calendar
import heapq
import json
import sys
import time
from datetime import datetime, timedelta, timezone

DAYS = list(calendar.day_name)  # Monday .. Sunday


def utc(seconds):
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def next_due(previous, schedule, failures):
    """When a query whose last start was `previous` (a datetime) falls due, or None."""
    interval = schedule.get("interval")
    if interval is None:
        return None
    at_time = schedule.get("time")
    if at_time is None:
        due = previous + timedelta(seconds=int(interval))
    else:
        hour, minute = (int(part) for part in at_time.split(":"))
        same_day = previous.replace(hour=hour, minute=minute)
        base = same_day - timedelta(days=1) if same_day > previous else previous
        days = int(interval) / 86400
        shift = 0
        if schedule.get("day_of_week"):
            shift = DAYS.index(schedule["day_of_week"]) - same_day.weekday()
        due = (base + timedelta(days=days + shift)).replace(hour=hour, minute=minute)
    if failures:
        try:
            due += timedelta(minutes=2 ** failures)
        except OverflowError:
            return None
    return due


def is_due(query, previous, now, era, failures):
    schedule = query["schedule"]
    if schedule.get("disabled"):
        return False
    until = schedule.get("until")
    if until and datetime.strptime(until, "%Y-%m-%d").replace(tzinfo=timezone.utc) <= now:
        return False
    if previous is None:
        return era == "v25"
    due = next_due(previous, schedule, failures)
    return due is not None and now > due


class Scheduler:
    """The refresh rule over a set of queries, with the clock and the storage given."""

    def __init__(self, queries, era):
        self.queries = sorted(queries, key=lambda query: query["id"])
        self.era = era

    def due(self, now, executed, failures):
        """Due queries, deduplicated by text and data source (the last id wins, as in Redash)."""
        chosen = {}
        for query in self.queries:
            if query.get("paused"):
                continue
            previous = executed.get(query["id"])
            if previous is None and query.get("retrieved_at") is not None:
                previous = utc(query["retrieved_at"])
            if is_due(query, previous, now, self.era, failures.get(query["id"], 0)):
                chosen["%s:%s" % (query["hash"], query["data_source"])] = query
        return list(chosen.values())


def simulate(args):
    spec = json.load(open(args.spec))
    queries = spec["queries"]
    scheduler = Scheduler(queries, spec["era"])
    period = spec.get("period", 30.0)
    latency = spec.get("start_latency", 0.3)
    workers = spec.get("workers", 1000)
    runtime = {query["id"]: query.get("runtime", 5.0) for query in queries}
    fail_runs = {query["id"]: query.get("fail_runs", 0) for query in queries}
    executed = {int(key): utc(value) for key, value in spec.get("executed_at", {}).items()}
    failures = {query["id"]: query.get("failures", 0) for query in queries}
    # Jobs still queued or running at the start, by query id: their locks hold.
    locked = {int(key): value for key, value in spec.get("locked", {}).items()}
    end = spec["start"] + spec["minutes"] * 60
    refresh_at = spec["first_refresh"]
    free = workers
    waiting = []  # FIFO of query ids
    events = []  # (time, order, kind, query id)
    order = 0
    active = set()  # queries whose job is queued or started: their lock holds
    enqueues, refreshes = [], []

    def push(at, kind, query_id):
        nonlocal order
        order += 1
        heapq.heappush(events, (at, order, kind, query_id))

    for query_id, state in locked.items():
        active.add(query_id)
        if state == "waiting":
            waiting.append(query_id)
        else:
            free -= 1
            push(spec["start"] + state.get("ends_in", 0.0), "finish", query_id)

    def dispatch(now):
        nonlocal free
        while free > 0 and waiting:
            query_id = waiting.pop(0)
            free -= 1
            push(now + latency, "start", query_id)

    dispatch(spec["start"])
    while True:
        next_event = events[0][0] if events else float("inf")
        if refresh_at <= next_event:
            if refresh_at >= end:
                break
            now = utc(refresh_at)
            counted = 0
            for query in scheduler.due(now, executed, failures):
                counted += 1
                if query["id"] in active:
                    continue  # its lock points at a job still queued or started
                active.add(query["id"])
                waiting.append(query["id"])
                if refresh_at >= spec["start"]:
                    enqueues.append([query["id"], refresh_at])
            if refresh_at >= spec["start"]:
                refreshes.append([refresh_at, counted])
            dispatch(refresh_at)
            refresh_at += period
            continue
        at, _, kind, query_id = heapq.heappop(events)
        if kind == "start":
            executed[query_id] = utc(at)
            push(at + runtime[query_id], "finish", query_id)
        else:
            active.discard(query_id)
            # The new result becomes the latest result of every query with the same text.
            finished = next(query for query in queries if query["id"] == query_id)
            for query in queries:
                if query["hash"] == finished["hash"] and query["data_source"] == finished["data_source"]:
                    query["retrieved_at"] = at
            if fail_runs.get(query_id, 0) > 0:
                fail_runs[query_id] -= 1
                failures[query_id] = failures.get(query_id, 0) + 1
            else:
                failures[query_id] = 0
            free += 1
            dispatch(at)
    print(json.dumps({"enqueues": enqueues, "refreshes": refreshes}))


# --- the real thing, with rq ---------------------------------------------------------------

def standin_job(query_id, lock_key, seconds, redis_url):
    """What Redash's worker does around a scheduled query: record the start, run, unlock."""
    from redis import Redis

    redis = Redis.from_url(redis_url)
    redis.hset("sq:executed_at", str(query_id), str(time.time()))
    time.sleep(seconds)
    redis.delete(lock_key)
    return seconds


def serve(args):
    from redis import Redis
    from rq import Queue
    from rq.job import Job
    from rq.exceptions import NoSuchJobError

    spec = json.load(open(args.spec))
    redis = Redis.from_url(args.url)
    queue = Queue(spec.get("queue", "scheduled_queries"), connection=redis)
    scheduler = Scheduler(spec["queries"], spec["era"])
    period = spec.get("period", 30.0)
    stop_at = time.time() + args.seconds
    while time.time() < stop_at:
        started = time.time()
        now = utc(started)
        executed = {int(key): utc(float(value)) for key, value in redis.hgetall("sq:executed_at").items()}
        counted, ids = 0, []
        for query in scheduler.due(now, executed, {}):
            lock = "query_hash_job:%s:%s" % (query["data_source"], query["hash"])
            counted += 1
            ids.append(query["id"])
            job_id = redis.get(lock)
            if job_id:
                try:
                    status = Job.fetch(job_id.decode(), connection=redis).get_status()
                except NoSuchJobError:
                    status = None
                if status in ("queued", "started", "deferred", "scheduled"):
                    continue
                redis.delete(lock)
            job = queue.enqueue(
                "redash_standin.standin_job", query["id"], lock, query.get("runtime", 1.0), args.url,
                job_timeout=-1,
                meta={"query_id": query["id"], "data_source_id": query["data_source"], "scheduled": True, "user_id": 1, "org_id": 1})
            redis.set(lock, job.id, ex=43200)
            print(json.dumps({"enqueued": query["id"], "at": started}), flush=True)
        redis.hset("redash:status", mapping={
            "started_at": str(started), "last_refresh_at": str(time.time()), "outdated_queries_count": str(counted),
            "query_ids": json.dumps(ids)})
        print(json.dumps({"refresh": started, "counted": counted}), flush=True)
        # Re-armed from the time it ran, as rq-scheduler does.
        time.sleep(max(0.0, started + period - time.time()))


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("simulate")
    command.add_argument("spec")
    command.set_defaults(run=simulate)
    command = commands.add_parser("serve")
    command.add_argument("url"); command.add_argument("spec"); command.add_argument("--seconds", type=float, default=60)
    command.set_defaults(run=serve)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    sys.exit(main())
