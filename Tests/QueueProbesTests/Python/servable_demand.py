#!/usr/bin/env python3
"""Servable-demand situations (issue 26) put into a real Redis by the real celery and rq
libraries, with real worker processes: work a new task could take, and work it could not
(held behind a busy node, stranded by a killed node, waiting in a queue nobody consumes,
blocked by a lock on a dead job).

Every situation command prints ONE JSON line saying what it set up: task ids, delivery tags,
`unacked_index` scores, node and worker names, lock keys, timestamps, and under `pgids` every
process group still running, which the caller must SIGKILL (`kill -KILL -- -PGID`) when done.
Worker processes run in sessions of their own (so stopping the fixture's own process group
does not reach them) and write their output to files under `logs`. A fixture that fails stops
everything it started and exits 1 with the reason and the workers' last log lines on stderr.

  celery-stranded      --redis URL --version 4|5 [--grace S] [--held N] [--fresh-node]
  celery-held          --redis URL --version 4|5 [--held N] [--extra M]
  celery-lock-blocked  --redis URL --version 4|5 [--grace S] [--fresh-node]
  rq-unconsumed        --redis URL [--worker-queues A] [--queue B] [--count N]
  rq-lock-unconsumed   --redis URL [--worker-queues A] [--queue B]

Celery nodes run as Redash v8.0.2's `bin/docker-entrypoint` runs them (`celery worker -c$N
-Q$QUEUES -linfo --max-tasks-per-child=10 -Ofair`; heartbeat, gossip and mingle on, remote
control on), named `celery@<host>` as ECS names them; the app is configured as
`redash/worker.py` configures it (broker and result backend on the same Redis, prefetch
multiplier 1, JSON, results kept 4 h, `execute_query` with `track_started`, acks early, no
visibility timeout so kombu's 3,600 s applies). `--version 4` is Celery 4.3 / kombu 4.6.3 on
Python 3.7 (Redash v8's pins, `.venv-celery4`), `--version 5` Celery 5.3 (`.venv`); when the
Python running this file has the other one, the file runs itself again with that venv's Python.
Queries are enqueued as Redash's own `enqueue_query` does (v8: `argsrepr` with `enqueue_time`,
the lock `query_hash_job:<data source>:<hash>` = task id for 12 h; v10/v25+: the rq job with
Redash's meta, `timeout -1`, and the same lock). The lock is Redash's key, not a library's:
there is no Redash here to write it, so it is written as Redash writes it.

A stop is what ECS does to a container (`docker stop`): SIGTERM to the node's main process
only (a Celery warm shutdown: it leaves remote control at once, keeps running its queries and
gives its prefetched messages back only after they end), then, after `--grace` seconds (the
task's stopTimeout, short here), SIGKILL to the whole process group.

This file keeps to Python 3.7 (the Celery 4.3 venv runs it).
"""
import argparse
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPOSITORY = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
CELERY_VENVS = {"4": ".venv-celery4", "5": ".venv"}
EXECUTE_QUERY = "redash.tasks.execute_query"
JOB_EXPIRY_TIME = 43200              # Redash's lock TTL (settings.JOB_EXPIRY_TIME, 12 h)
CELERY_RESULT_EXPIRES = 4 * 3600     # Redash v8's settings.CELERY_RESULT_EXPIRES
KOMBU_VISIBILITY_TIMEOUT = 3600      # kombu's default; Redash v8 sets none
COMMENTS = re.compile(r"/\*.*?\*/")
LAUNCHED = time.time()               # (after a re-exec: when the venv's Python started)
STARTED = []                         # every process this run started: stopped on failure
DELIBERATELY_STOPPED = set()         # process groups this run killed on purpose


class FixtureError(Exception):
    pass


# --- Redash's query hash and lock ---------------------------------------------------------

def query_hash(sql, era):
    """Redash's gen_query_hash: comments and whitespace stripped; lower-cased up to v10 (Redash
    hashes case-sensitively since 23.09, #4254)."""
    sql = "".join(COMMENTS.sub("", sql).split())
    if era in ("v8", "v10"):
        sql = sql.lower()
    return hashlib.md5(sql.encode("utf-8")).hexdigest()


def lock_key(data_source_id, hash):
    return "query_hash_job:%s:%s" % (data_source_id, hash)


# --- the Celery side (Redash v8) ----------------------------------------------------------

def celery_app(url):
    """Redash v8's Celery app (redash/worker.py and its settings' defaults) and its
    execute_query: runs `metadata["sleep"]` seconds, then drops the query's lock as
    QueryExecutor.run does."""
    from celery import Celery

    app = Celery("redash", broker=url, backend=url)
    app.conf.update(worker_prefetch_multiplier=1, accept_content=["json"], task_serializer="json",
                    result_serializer="json", result_expires=CELERY_RESULT_EXPIRES, timezone="UTC")

    @app.task(name=EXECUTE_QUERY, bind=True, track_started=True)
    def execute_query(task, query, data_source_id, metadata, user_id=None, scheduled_query_id=None, is_api_key=False):
        time.sleep(float((metadata or {}).get("sleep", 0)))
        from redis import Redis
        Redis.from_url(url).delete(lock_key(data_source_id, query_hash(query, "v8")))
        return 1

    return app


def require_celery(version):
    """Runs this file again with the venv whose Celery is `version`, unless this one has it."""
    try:
        import celery
        if celery.__version__.split(".")[0] == version:
            return celery
    except ImportError:
        pass
    if os.environ.get("SERVABLE_DEMAND_REEXEC"):
        raise FixtureError("Celery %s is not in %s" % (version, sys.executable))
    python = os.path.join(REPOSITORY, CELERY_VENVS[version], "bin", "python")
    if not os.path.exists(python):
        raise FixtureError("no Celery %s venv at %s: run scripts/bootstrap.sh" % (version, python))
    os.environ["SERVABLE_DEMAND_REEXEC"] = "1"
    os.execv(python, [python, "-u", os.path.abspath(__file__)] + sys.argv[1:])


# Seconds to date enqueue_time back (--enqueued-ago): a message that has waited that long,
# without waiting for it.
ENQUEUED_AGO = 0.0


def enqueue_query_v8(app, redis, sql, data_source_id, queue, sleep, query_id, scheduled):
    """What Redash v8's enqueue_query does for a query whose lock is free: send execute_query
    with `argsrepr` (its enqueue_time is what the probe reads) and set the lock to the task id."""
    key = lock_key(data_source_id, query_hash(sql, "v8"))
    if redis.get(key):
        raise FixtureError("%s is already locked: Redash would not enqueue %r" % (key, sql))
    scheduled_query_id = query_id if scheduled else None
    metadata = {"Query ID": query_id, "Username": "fixture", "sleep": sleep}
    enqueue_time = time.time() - ENQUEUED_AGO
    argsrepr = json.dumps({"org_id": 1, "data_source_id": data_source_id, "enqueue_time": enqueue_time,
                           "scheduled": scheduled, "query_id": query_id, "user_id": 1})
    result = app.tasks[EXECUTE_QUERY].apply_async(
        args=(sql, data_source_id, metadata, 1, scheduled_query_id, False), argsrepr=argsrepr, queue=queue,
        soft_time_limit=None)
    redis.set(key, result.id, ex=JOB_EXPIRY_TIME)
    return {"task_id": result.id, "enqueue_time": enqueue_time, "query": sql, "query_id": query_id, "lock": key}


def task_meta(redis, task_id):
    raw = redis.get("celery-task-meta-" + task_id)
    return json.loads(raw) if raw else None


def unacked(redis):
    """kombu's prefetched messages by task id: delivery tag, fetch time (unacked_index), queue."""
    entries = {}
    for tag, raw in redis.hgetall("unacked").items():
        message, _exchange, routing_key = json.loads(raw)
        task_id = (message.get("headers") or {}).get("id") or message["properties"].get("correlation_id")
        entries[task_id] = {"delivery_tag": tag, "score": redis.zscore("unacked_index", tag), "queue": routing_key}
    return entries


def celery_node_command(args):
    """(internal) One Celery worker node as Redash v8's docker-entrypoint starts it."""
    app = celery_app(args.redis)
    app.worker_main(["worker", "-c%d" % args.concurrency, "-Q%s" % args.queues, "-linfo",
                     "--max-tasks-per-child=10", "-Ofair", "-n", args.node])


def start_celery_node(args, host, queues, concurrency):
    node = "celery@" + host
    command = ["celery-node", "--redis", args.redis, "--queues", queues, "--node", node,
               "--concurrency", str(concurrency)]
    process = spawn(command, args.logs, node)
    # "<node> ready." is logged once every consumer step (the queues, remote control) has started.
    wait_for(lambda: (node + " ready.") in read(process.log), 90, node + " to start")
    return process


def wait_started(redis, tasks, node):
    def started():
        metas = [task_meta(redis, task["task_id"]) for task in tasks]
        return all(meta and meta["status"] == "STARTED" for meta in metas)
    wait_for(started, 60, "%d task(s) to start on %s" % (len(tasks), node))


def wait_held(redis, tasks, node):
    ids = [task["task_id"] for task in tasks]
    wait_for(lambda: all(i in unacked(redis) for i in ids), 60, "%d message(s) prefetched by %s" % (len(ids), node))
    entries = unacked(redis)
    return [dict(task, delivery_tag=entries[task["task_id"]]["delivery_tag"], score=entries[task["task_id"]]["score"])
            for task in tasks]


def busy_node(args, app, redis, held, extra=0):
    """A node of `--concurrency` processes on `--queue`, every one running a long adhoc query,
    holding `held` more messages (prefetched, in `unacked`) and leaving `extra` in the list.
    Sent in steps, each awaited, so that which message runs, which is held and which waits does
    not depend on timing."""
    # kombu's window is concurrency × prefetch multiplier (1) *unacknowledged* messages; the
    # running ones are acknowledged already, so a busy node holds up to `concurrency` more.
    if held > args.concurrency:
        raise FixtureError("a node of %d processes holds at most %d messages" % (args.concurrency, args.concurrency))
    if extra and held < args.concurrency:
        raise FixtureError("messages stay in the list only once the node holds %d (--held)" % args.concurrency)
    node = start_celery_node(args, args.host, args.queue, args.concurrency)

    def send(first, count):
        sql = "SELECT %d AS query, pg_sleep(%d) /* servable-demand fixture */"
        return [enqueue_query_v8(app, redis, sql % (i, args.task_seconds), args.data_source_id, args.queue,
                                 args.task_seconds, i, scheduled=False)
                for i in range(first, first + count)]

    running = send(1, args.concurrency)
    wait_started(redis, running, node.name)
    prefetched = wait_held(redis, send(args.concurrency + 1, held), node.name)
    listed = send(args.concurrency + held + 1, extra)
    wait_for(lambda: redis.llen(args.queue) == extra, 30, "%d message(s) left in %s" % (extra, args.queue))
    if len(unacked(redis)) != held:
        raise FixtureError("%s holds %d messages, not %d" % (node.name, len(unacked(redis)), held))
    for task in running:
        task["meta"] = task_meta(redis, task["task_id"])
    return node, running, prefetched, listed


def celery_base(args, celery):
    import kombu
    from redis import Redis

    return celery_app(args.redis), Redis.from_url(args.redis, decode_responses=True), {
        "celery": celery.__version__, "kombu": kombu.__version__, "redis": args.redis,
        "visibility_timeout": KOMBU_VISIBILITY_TIMEOUT}


def celery_stranded(args, celery):
    """A node SIGTERMed with all its processes busy and messages prefetched, SIGKILLed after
    the grace: its running queries are lost (metas STARTED), its prefetched messages stay in
    `unacked` with no live holder; optionally a fresh idle node on the same queue."""
    if args.held < 1:
        raise FixtureError("--held must be at least 1: the stranded messages are the held ones")
    app, redis, report = celery_base(args, celery)
    node, running, stranded, _ = busy_node(args, app, redis, args.held)
    stopped = stop_like_ecs(node, args.grace)
    left = unacked(redis)
    for task in stranded:
        entry = left.get(task["task_id"])
        if not entry or entry["delivery_tag"] != task["delivery_tag"] or entry["score"] != task["score"]:
            raise FixtureError("message %s is no longer stranded as it was: %r" % (task["task_id"], entry))
    for task in running:
        task["meta"] = task_meta(redis, task["task_id"])
        if not task["meta"] or task["meta"]["status"] != "STARTED":
            raise FixtureError("killed task %s is not STARTED: %r" % (task["task_id"], task["meta"]))
    fresh = None
    if args.fresh_node:
        fresh = start_celery_node(args, args.fresh_host, args.queue, args.concurrency)
        # The fresh node's startup scan restores only messages older than its visibility
        # timeout: these must still be stranded, not taken.
        if sorted(unacked(redis)) != sorted(task["task_id"] for task in stranded) or redis.llen(args.queue):
            raise FixtureError("the fresh node changed the stranded messages: %r" % unacked(redis))
    report.update(
        fixture="celery-stranded", queue=args.queue,
        dead_node=dict(describe(node), concurrency=args.concurrency, **stopped),
        killed_running=running, stranded=stranded, counts={"killed_running": len(running), "stranded": len(stranded)},
        returns_not_before=min(task["score"] for task in stranded) + report["visibility_timeout"],
        fresh_node=fresh and dict(describe(fresh), concurrency=args.concurrency),
        queue_length=redis.llen(args.queue))
    return report


def celery_held(args, celery):
    """A live node with every process running a long query, holding `--held` messages and
    leaving `--extra` in the queue's list."""
    app, redis, report = celery_base(args, celery)
    node, running, held, listed = busy_node(args, app, redis, args.held, args.extra)
    report.update(fixture="celery-held", queue=args.queue, node=dict(describe(node), concurrency=args.concurrency),
                  running=running, held=held, listed=listed, queue_length=redis.llen(args.queue),
                  counts={"running": len(running), "held": len(held), "listed": len(listed)})
    return report


def celery_lock_blocked(args, celery):
    """A scheduled query enqueued as Redash v8 enqueues it, started on a node that is then
    killed: its lock points at a task whose meta stays STARTED naming the dead node."""
    app, redis, report = celery_base(args, celery)
    node = start_celery_node(args, args.host, args.queue, args.concurrency)
    task = enqueue_query_v8(app, redis, args.query, args.data_source_id, args.queue, args.task_seconds,
                            args.query_id, scheduled=True)
    wait_started(redis, [task], node.name)
    stopped = stop_like_ecs(node, args.grace)
    meta = task_meta(redis, task["task_id"])
    from celery.result import AsyncResult
    # Redash v8 drops the lock (and enqueues again) only when AsyncResult(lock value).ready().
    if AsyncResult(task["task_id"], app=app).ready():
        raise FixtureError("Celery calls the killed task ready: Redash would enqueue the query again")
    if not meta or meta["status"] != "STARTED" or (meta.get("result") or {}).get("hostname") != node.name:
        raise FixtureError("the killed task's meta is not STARTED on %s: %r" % (node.name, meta))
    if redis.get(task["lock"]) != task["task_id"]:
        raise FixtureError("the lock %s does not point at %s" % (task["lock"], task["task_id"]))
    fresh = start_celery_node(args, args.fresh_host, args.queue, args.concurrency) if args.fresh_node else None
    report.update(
        fixture="celery-lock-blocked", queue=args.queue, data_source_id=args.data_source_id,
        query_id=args.query_id, query=args.query, query_hash=query_hash(args.query, "v8"),
        lock=task["lock"], lock_ttl=redis.ttl(task["lock"]), task_id=task["task_id"],
        enqueue_time=task["enqueue_time"], meta=meta, meta_ttl=redis.ttl("celery-task-meta-" + task["task_id"]),
        dead_node=dict(describe(node), concurrency=args.concurrency, **stopped),
        fresh_node=fresh and dict(describe(fresh), concurrency=args.concurrency))
    return report


# --- the RQ side (Redash v10, v25+) -------------------------------------------------------

def execute_query(query, data_source_id, metadata, user_id=None, scheduled_query_id=None, is_api_key=False):
    """The RQ job, with Redash's execute_query signature: runs `metadata["sleep"]` seconds, then
    drops the query's lock as Redash's QueryExecutor does (rq job: this module's function)."""
    time.sleep(float((metadata or {}).get("sleep", 0)))
    from rq import get_current_job
    get_current_job().connection.delete(lock_key(data_source_id, query_hash(query, rq_era())))
    return 1


def rq_era():
    """The Redash whose RQ this is: v10 ran rq 1.5, v25+ runs rq 1.16."""
    import rq
    return "v10" if rq.__version__.startswith("1.5.") else "v25"


def enqueue_query_rq(redis, sql, data_source_id, queue_name, sleep, query_id, scheduled):
    """What Redash v10/v25+'s enqueue_query does for a query whose lock is free."""
    from rq import Queue

    key = lock_key(data_source_id, query_hash(sql, rq_era()))
    if redis.get(key):
        raise FixtureError("%s is already locked: Redash would not enqueue %r" % (key, sql))
    metadata = {"query_id": query_id, "Username": "fixture", "Queue": queue_name, "sleep": sleep}
    options = dict(user_id=1, scheduled_query_id=query_id if scheduled else None, is_api_key=False,
                   job_timeout=-1, failure_ttl=7 * 24 * 3600,
                   meta={"data_source_id": data_source_id, "org_id": 1, "scheduled": scheduled,
                         "query_id": query_id, "user_id": 1})
    if not scheduled:
        options["result_ttl"] = JOB_EXPIRY_TIME
    job = Queue(queue_name, connection=redis).enqueue("servable_demand.execute_query", sql, data_source_id, metadata, **options)
    redis.set(key, job.id, ex=JOB_EXPIRY_TIME)
    return {"job_id": job.id, "enqueued_at": epoch(job.enqueued_at), "query": sql, "query_id": query_id, "lock": key}


def lock_is_irrelevant(connection, job_id):
    """Redash v10/v25+'s test before it drops a lock: the job is gone, finished, failed or
    cancelled (Redash's CancellableJob keeps `cancelled` in the job's meta)."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return True
    return job.get_status() in (JobStatus.FINISHED, JobStatus.FAILED) or bool(job.meta.get("cancelled", False))


def epoch(moment):
    from datetime import timezone
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def start_rq_worker(args, redis):
    """Redash's RQ worker (a HerokuWorker, `redash_queues.py rq-worker`) on `--worker-queues`,
    registered and idle before returning."""
    process = spawn(["rq-worker", args.redis, args.worker_queues, args.worker], args.logs, args.worker,
                    script=os.path.join(HERE, "redash_queues.py"))
    key = "rq:worker:" + args.worker
    queues = args.worker_queues.split(",")
    wait_for(lambda: redis.hget(key, "state") == "idle" and all(key in redis.smembers("rq:workers:" + q) for q in queues),
             60, "rq worker %s to register" % args.worker)
    return process, key


def rq_unconsumed(args, scheduled):
    """A live RQ worker on `--worker-queues` and jobs, enqueued as Redash enqueues queries, in
    `--queue`, which it does not listen on. With `scheduled`: one scheduled query, whose lock
    then points at a job no live worker will take."""
    import rq
    from redis import Redis

    worker_queues = args.worker_queues.split(",")
    if args.queue in worker_queues:
        raise FixtureError("the worker listens on %s" % args.queue)
    redis = Redis.from_url(args.redis, decode_responses=True)
    worker, key = start_rq_worker(args, redis)
    connection = Redis.from_url(args.redis)   # rq wants bytes back
    if scheduled:
        jobs = [enqueue_query_rq(connection, args.query, args.data_source_id, args.queue, args.task_seconds,
                                 args.query_id, True)]
    else:
        jobs = [enqueue_query_rq(connection, "SELECT %d AS query /* servable-demand fixture */" % i, args.data_source_id,
                                 args.queue, args.task_seconds, i, False)
                for i in range(1, args.count + 1)]
    # Time for a worker listening on the queue to have taken a job (it waits in BLPOP): none does.
    time.sleep(0.5)
    ids = redis.lrange("rq:queue:" + args.queue, 0, -1)
    if ids != [job["job_id"] for job in jobs] or redis.hget(key, "state") != "idle":
        raise FixtureError("the jobs did not stay queued: %r, worker %s" % (ids, redis.hget(key, "state")))
    for job in jobs:
        job["status"] = redis.hget("rq:job:" + job["job_id"], "status")
    report = {"rq": rq.__version__, "era": rq_era(), "redis": args.redis, "queue": args.queue, "jobs": jobs,
              "worker": dict(describe(worker), key=key, queues=worker_queues, state=redis.hget(key, "state")),
              "registered": {q: sorted(redis.smembers("rq:workers:" + q)) for q in worker_queues + [args.queue]}}
    if scheduled:
        job = jobs[0]
        if lock_is_irrelevant(connection, job["job_id"]):
            raise FixtureError("Redash would drop the lock on %s and enqueue the query again" % job["job_id"])
        report.update(fixture="rq-lock-unconsumed", data_source_id=args.data_source_id, query_id=args.query_id,
                      query=args.query, query_hash=query_hash(args.query, rq_era()), lock=job["lock"],
                      lock_ttl=redis.ttl(job["lock"]), job_id=job["job_id"], job_status=job["status"])
    else:
        report.update(fixture="rq-unconsumed")
    return report


# --- processes ----------------------------------------------------------------------------

class Spawned:
    def __init__(self, name, popen, log):
        self.name, self.popen, self.log = name, popen, log
        self.pid = self.pgid = popen.pid   # the leader of a session of its own


def spawn(arguments, logs, name, script=None):
    log = os.path.join(logs, "%s-%d.log" % (name.replace("@", "_"), int(time.time() * 1000)))
    with open(log, "ab") as output:
        popen = subprocess.Popen([sys.executable, "-u", script or os.path.abspath(__file__)] + arguments,
                                 stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                 start_new_session=True, env=dict(os.environ, PYTHONPATH=HERE))
    process = Spawned(name, popen, log)
    STARTED.append(process)
    return process


def describe(process):
    return {"name": process.name, "pid": process.pid, "pgid": process.pgid, "log": process.log}


def group_alive(pgid):
    """Whether any process of the group is alive (zombies do not count: nobody may reap them)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (IOError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def kill_group(process):
    try:
        os.killpg(process.pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    wait_for(lambda: not group_alive(process.pgid), 30, "process group %d to die" % process.pgid)
    process.popen.wait()


def stop_like_ecs(process, grace):
    """`docker stop` at the task's stopTimeout: SIGTERM to the main process, SIGKILL to all of
    them `grace` seconds later (at once when grace is 0)."""
    stopped = {}
    DELIBERATELY_STOPPED.add(process.pgid)
    if grace > 0:
        stopped["sigterm_at"] = time.time()
        os.kill(process.pid, signal.SIGTERM)
        deadline = time.time() + grace
        while time.time() < deadline and process.popen.poll() is None:
            time.sleep(0.05)
    stopped["sigkill_at"] = time.time()
    kill_group(process)
    return stopped


def read(path):
    with open(path, errors="replace") as log:
        return log.read()


def wait_for(condition, timeout, what):
    # Every wait here ends as soon as its condition holds; `timeout` only bounds a fixture that is
    # broken. A Celery node is ready in 2-3 s on an idle machine but took over 20 s in CI with the
    # parallel test pass loading two cores twelve-fold, so the bounds are many times the idle figure.
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        for process in STARTED:
            if process.popen.poll() is not None and process.pgid not in DELIBERATELY_STOPPED:
                raise FixtureError("%s exited (%s) while waiting for %s" % (process.name, process.popen.returncode, what))
        time.sleep(0.05)
    if not condition():
        raise FixtureError("timed out after %g s waiting for %s" % (timeout, what))


def terminated(number, _frame):
    # The caller gave up on the fixture (a test's timeout): the workers must not outlive it.
    raise FixtureError("stopped by signal %d" % number)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command")
    commands.required = True   # (Python 3.7's add_subparsers has no `required=`)

    def common(command):
        command.add_argument("--redis", required=True, help="redis://127.0.0.1:PORT/DB")
        command.add_argument("--logs", help="where worker output goes (default: a new temporary directory)")
        command.add_argument("--data-source-id", type=int, default=1)
        command.add_argument("--task-seconds", type=float, default=600, help="how long each query runs")
        return command

    def celery_command(name, function, queue, concurrency, grace=None):
        command = common(commands.add_parser(name))
        command.add_argument("--version", choices=["4", "5"], required=True, help="Celery 4.3 (Redash v8) or 5.3")
        command.add_argument("--queue", default=queue)
        command.add_argument("--concurrency", type=int, default=concurrency, help="WORKERS_COUNT (-c)")
        command.add_argument("--host", default="ip-10-0-1-23", help="the node is celery@HOST")
        command.add_argument("--enqueued-ago", type=float, default=0.0,
                             help="date the messages' enqueue_time this many seconds back (as if they had waited)")
        if grace is not None:
            command.add_argument("--grace", type=float, default=grace,
                                 help="seconds between SIGTERM and SIGKILL (0: SIGKILL only)")
            command.add_argument("--fresh-node", action="store_true", help="then start an idle node on the queue")
            command.add_argument("--fresh-host", default="ip-10-0-1-31")
        command.set_defaults(run=function, celery=True)
        return command

    command = celery_command("celery-stranded", celery_stranded, "queries", 2, grace=2.0)
    command.add_argument("--held", type=int, default=1, help="messages prefetched when the node is stopped")
    command = celery_command("celery-held", celery_held, "queries", 2)
    command.add_argument("--held", type=int, default=2, help="messages the busy node holds (at most -c)")
    command.add_argument("--extra", type=int, default=0, help="messages left in the queue's list")
    command = celery_command("celery-lock-blocked", celery_lock_blocked, "scheduled_queries", 1, grace=0.0)
    command.add_argument("--query", default="SELECT count(*) FROM events /* scheduled */")
    command.add_argument("--query-id", type=int, default=1)

    for name, queue, worker_queues, scheduled in (("rq-unconsumed", "bi_queries", "queries", False),
                                                  ("rq-lock-unconsumed", "bi_scheduled_queries", "scheduled_queries", True)):
        command = common(commands.add_parser(name))
        command.add_argument("--worker-queues", default=worker_queues, help="the queues the live worker listens on")
        command.add_argument("--queue", default=queue, help="the queue the jobs go to (no worker listens on it)")
        command.add_argument("--worker", default="ip-10-0-1-23", help="the worker's name (unique per Redis)")
        if scheduled:
            command.add_argument("--query", default="SELECT count(*) FROM events /* scheduled */")
            command.add_argument("--query-id", type=int, default=1)
        else:
            command.add_argument("--count", type=int, default=2)
        command.set_defaults(run=lambda args, scheduled=scheduled: rq_unconsumed(args, scheduled), celery=False)

    command = commands.add_parser("celery-node", help="(internal) one Redash-v8-style Celery node")
    command.add_argument("--redis", required=True); command.add_argument("--queues", required=True)
    command.add_argument("--node", required=True); command.add_argument("--concurrency", type=int, default=2)
    command.set_defaults(run=celery_node_command, celery=None)

    args = parser.parse_args()
    global ENQUEUED_AGO
    ENQUEUED_AGO = getattr(args, "enqueued_ago", 0.0)
    if args.celery is None:
        return args.run(args)
    signal.signal(signal.SIGTERM, terminated)
    try:
        celery = require_celery(args.version) if args.celery else None
        from redis import Redis
        Redis.from_url(args.redis, socket_connect_timeout=2).ping()   # fail now, not after a worker's retries
        args.logs = args.logs or tempfile.mkdtemp(prefix="servable-demand-")
        report = args.run(args, celery) if args.celery else args.run(args)
    except Exception as error:
        for process in STARTED:
            try:
                os.killpg(process.pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        tails = "".join("\n--- %s (%s)\n%s" % (p.name, p.log, read(p.log)[-3000:]) for p in STARTED)
        sys.stderr.write("%s: %s: %s%s\n" % (args.command, type(error).__name__, error, tails))
        return 1
    if args.celery:
        # kombu 4.6.3 never releases its restore lock: present, no scan restores anything for 300 s.
        report["unacked_mutex_ttl"] = Redis.from_url(args.redis).ttl("unacked_mutex")
    report["pgids"] = [process.pgid for process in STARTED if group_alive(process.pgid)]
    report["logs"] = args.logs
    report["seconds"] = round(time.time() - LAUNCHED, 2)
    print(json.dumps(report, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
