#!/usr/bin/env python3
"""A long soak of the real controller binary: does its memory settle once the status page's
3-hour history is full, with 200 services at `interval: 1s`, while Redis and ECS go away and
come back? Run through scripts/soak.sh.

  run    starts redis-server, moto (ECS with IAM authentication) and the controller; feeds the
         200 RQ queues; reads the status page, /status and /metrics as a browser and a scraper
         would; samples the controller's RSS, peak RSS and open descriptors every minute;
         restarts Redis at 1 h and 2 h 30 m and moto at 1 h 30 m and 3 h 15 m; prints and
         writes a summary. Everything lands in --out:
           samples.csv      elapsed_s,rss_kib,hwm_kib,fds,reconciles
           events.log       what happened when (restarts, readiness changes), elapsed seconds
           controller.log   the controller's JSON log (rotated: the last two 64 MiB pieces)
           summary.txt, summary.json
  moto   one life of moto's server for `run` (internal).

With --minutes the whole 4-hour schedule is compressed to that length, for a trial of the
machinery; its memory figures say nothing about the window, which is 3 hours of real time.
"""
import argparse
import collections
import ctypes
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
AWS_LAB = os.path.join(ROOT, "Tests", "AWSClientTests", "Python", "aws_lab.py")
IAM_POLICY = os.path.join(ROOT, "deploy", "iam", "controller-policy.json.tftpl")
SERVICES = 200
REGION = "eu-west-1"
HOUR = 3600.0

# The schedule of a 4-hour soak, in seconds from the controller's start. The history behind the
# status page holds 3 hours, so memory may grow until 3 h; the slope is taken from 3 h 05 m, when
# the last samples written before the window filled have been dropped by a few ticks.
SCHEDULE = {
    "redis": [1 * HOUR, 2.5 * HOUR],
    "moto": [1.5 * HOUR, 3.25 * HOUR],
}
EARLY_MARK = 600.0
WINDOW_FULL = 3 * HOUR
SLOPE_FROM = 3 * HOUR + 300
NOMINAL_LENGTH = 4 * HOUR
# Longer than /readyz's allowance (3 intervals + 10 s), so that each outage shows as not ready
# and its recovery can be timed, and the controller holds for many ticks, not just reconnects.
OUTAGE = 20.0


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


_prctl = ctypes.CDLL(None).prctl


def die_with_parent():
    # The soak runs detached for hours: if its Python is killed outright (SIGKILL, OOM), the
    # servers and the controller must not live on holding ports and CPU. PR_SET_PDEATHSIG fires
    # when the thread that forked exits, so every child is started from the main thread. prctl
    # is looked up before any fork: loading a library in a child forked from threads can hang.
    _prctl(1, signal.SIGTERM)


def stop(process, grace=10.0):
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ---------------------------------------------------------------------------------------------
# moto: one life

def moto_life(args):
    """Serves moto on --port with the cluster, the services and the controller's IAM user.

    A restarted moto must accept the controller's keys, which it holds for its whole life (as a
    task holds its role's), but moto makes up new random keys for every user it creates. So the
    server runs in this process, where its IAM store can be reached: the user is created as
    aws_lab.py creates it, on a port nobody else knows (the first four requests are the
    unauthenticated ones that make the administrator, and the controller must not take them),
    and then given the keys of the first life before the real port opens."""
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "4"
    # Deployments COMPLETED; otherwise moto leaves every rollout IN_PROGRESS and the controller
    # rightly never scales in.
    os.environ["MOTO_ECS_SERVICE_RUNNING"] = "100"
    import logging
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    # werkzeug logs every request: millions of lines over a soak.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    setup_server = ThreadedMotoServer("127.0.0.1", 0, verbose=False)
    setup_server.start()
    _, setup_port = setup_server.get_host_and_port()
    services = [f"soak-worker-{n}" for n in range(1, args.services + 1)]
    made = subprocess.run([PYTHON, AWS_LAB, "moto-setup", "--endpoint", f"http://127.0.0.1:{setup_port}",
                           "--region", REGION, "--policy", IAM_POLICY, "--services", *services],
                          check=True, capture_output=True, text=True)
    users = json.loads(made.stdout)
    if os.path.exists(args.keys):
        with open(args.keys) as handle:
            kept = json.load(handle)
        from moto.iam.models import iam_backends

        backend = iam_backends[args.account]["aws"]
        (key,) = backend.get_user("controller").access_keys
        # The backend also indexes keys by id (it finds a request's account through it).
        del backend.access_keys[key.access_key_id]
        key.access_key_id = kept["accessKeyId"]
        key.secret_access_key = kept["secretAccessKey"]
        backend.access_keys[key.access_key_id] = key
    else:
        with open(args.keys, "w") as handle:
            json.dump(users["controller"], handle)
    # Both servers serve the one set of backends in this process.
    server = ThreadedMotoServer("127.0.0.1", args.port, verbose=False)
    server.start()
    setup_server.stop()
    print("ready", flush=True)
    while True:
        time.sleep(3600)   # until SIGTERM, whose default action ends the process


# ---------------------------------------------------------------------------------------------
# The run

class Events:
    """events.log: one line per thing that happened, with the seconds since the controller
    started (or a negative number before it)."""

    def __init__(self, path, clock):
        self.handle = open(path, "a", buffering=1)
        self.clock = clock
        self.lock = threading.Lock()

    def __call__(self, text):
        line = f"{self.clock():9.1f}  {text}"
        with self.lock:
            self.handle.write(line + "\n")
        print(line, flush=True)


class ControllerLog(threading.Thread):
    """Copies the controller's output to controller.log, keeping the last two pieces of 64 MiB,
    and tallies its warnings and errors by message for the summary."""

    PIECE = 64 << 20

    def __init__(self, stream, path, clock):
        super().__init__(daemon=True)
        self.stream, self.path, self.clock = stream, path, clock
        self.tally = {}     # (level, message) -> [count, first, last]
        self.lines = 0
        self.lock = threading.Lock()

    def run(self):
        handle = open(self.path, "ab")
        for raw in self.stream:
            self.lines += 1
            handle.write(raw)
            if handle.tell() > self.PIECE:
                handle.close()
                os.replace(self.path, self.path + ".1")
                handle = open(self.path, "ab")
            self.note(raw)
        handle.close()

    def note(self, raw):
        try:
            entry = json.loads(raw)
            level = str(entry.get("level", ""))
        except ValueError:
            entry, level = {"message": raw.decode(errors="replace").strip()}, "unparsed"
        if level not in ("warning", "error", "critical", "unparsed"):
            return
        message = str(entry.get("message", ""))[:200]
        if entry.get("error"):
            message += " | " + str(entry["error"])[:200]
        # Counted by shape: the same warning about 200 queues, or about a port, is one line.
        message = re.sub(r"\d+", "N", message)
        now = self.clock()
        with self.lock:
            if (level, message) in self.tally:
                self.tally[(level, message)][0] += 1
                self.tally[(level, message)][2] = now
            elif len(self.tally) < 2000:
                self.tally[(level, message)] = [1, now, now]


class Poller(threading.Thread):
    """Fetches one path every `every` seconds, as a browser tab or a scraper does, and counts
    the answers that are not 200."""

    def __init__(self, base, path, every, stopping, on_change=None):
        super().__init__(daemon=True)
        self.url, self.path, self.every, self.stopping = base + path, path, every, stopping
        self.on_change = on_change
        self.requests = 0
        self.answers = collections.Counter()   # status code or exception name -> count
        self.slowest = 0.0
        self.largest = 0
        self.last_ok = None

    def run(self):
        while not self.stopping.wait(self.every):
            started = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=15) as answer:
                    size = len(answer.read())
                    outcome = answer.status
            except urllib.error.HTTPError as error:
                error.read()
                outcome, size = error.code, 0
            except Exception as error:  # a refused or reset connection is a result here
                outcome, size = type(error).__name__, 0
            if self.stopping.is_set():
                break   # the controller may be stopping under this request
            self.requests += 1
            self.answers[outcome] += 1
            self.slowest = max(self.slowest, time.monotonic() - started)
            self.largest = max(self.largest, size)
            ok = outcome == 200
            if self.on_change and ok != self.last_ok:
                self.on_change(ok, outcome)
            self.last_ok = ok

    def failures(self):
        return {str(k): v for k, v in self.answers.items() if k != 200}


class Feeder(threading.Thread):
    """Moves jobs through the 200 RQ queues with the real rq library, so that services scale up
    and back down all the time: a trickle of queries onto a few random queues every second, a
    burst onto a dozen queues now and then, and "workers" (at most 8 jobs at once a queue) that
    take jobs off the queues' heads, hold them 2–30 s in the started registry as rq 1.16 does
    (score: the heartbeat deadline) and finish them.

    Each queue also has one registered, heartbeating RQ worker, as in production: without one
    the controller rightly warns, every tick, that work waits where no worker listens, and the
    soak would measure that warning path instead of the usual one. A Redis restart empties
    everything: the jobs believed running are forgotten and the workers register again, as
    Redash's workers' heartbeats would recreate them."""

    CAPACITY = 8
    HEARTBEAT = 60.0

    def __init__(self, url, stopping, rng):
        super().__init__(daemon=True)
        self.url, self.stopping, self.rng = url, stopping, rng
        self.enqueued = self.started = self.finished = self.bursts = self.failures = 0

    def run(self):
        from redis import Redis
        from rq import Queue, Worker
        from rq.worker import WorkerStatus
        from rq.job import Job, JobStatus
        from rq.registry import StartedJobRegistry

        connection = Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=2)
        names = [f"soak-queue-{n}" for n in range(1, SERVICES + 1)]
        queues = {name: Queue(name, connection=connection) for name in names}
        registries = {name: StartedJobRegistry(name, connection=connection) for name in names}
        running = {name: [] for name in names}   # (finish at, job)
        workers, last_heartbeat = [], 0.0
        while not self.stopping.wait(1.0):
            try:
                now = time.time()
                if not workers:
                    workers = [Worker([queues[name]], connection=connection, name=f"{name}-w") for name in names]
                    for worker in workers:
                        try:
                            worker.register_birth()
                        except ValueError:
                            pass   # still registered from before a failure that was not a restart
                        worker.set_state(WorkerStatus.IDLE)
                    last_heartbeat = now
                elif now - last_heartbeat >= self.HEARTBEAT:
                    pipe = connection.pipeline(transaction=False)
                    for worker in workers:
                        worker.heartbeat(pipeline=pipe)
                    pipe.execute()
                    last_heartbeat = now
                arrivals = collections.Counter()
                for name in self.rng.sample(names, 4):
                    arrivals[name] += self.rng.randint(1, 3)
                if self.rng.random() < 1 / 120:
                    self.bursts += 1
                    for name in self.rng.sample(names, 12):
                        arrivals[name] += self.rng.randint(10, 30)
                for name, count in arrivals.items():
                    for _ in range(count):
                        # Redash's own job: the function is named, not imported.
                        queues[name].enqueue("redash.tasks.queries.execution.execute_query", "SELECT 1", 1,
                                             job_timeout=-1, result_ttl=0)
                    self.enqueued += count
                pipe = connection.pipeline(transaction=False)
                for name in names:
                    pipe.llen(queues[name].key)
                pending = dict(zip(names, pipe.execute()))
                pipe = connection.pipeline(transaction=False)
                for name in names:
                    still = []
                    for finish_at, job in running[name]:
                        if finish_at <= now:
                            job.delete(pipeline=pipe, remove_from_queue=False)
                            self.finished += 1
                        else:
                            still.append((finish_at, job))
                    running[name] = still
                    for _ in range(min(pending[name], self.CAPACITY - len(still), 2)):
                        job_id = queues[name].pop_job_id()
                        if job_id is None:
                            break
                        job = Job.fetch(job_id, connection=connection)
                        runtime = self.rng.uniform(2, 30)
                        registries[name].add(job, ttl=runtime + 60, pipeline=pipe)
                        job.set_status(JobStatus.STARTED, pipeline=pipe)
                        still.append((now + runtime, job))
                        self.started += 1
                pipe.execute()
            except Exception:
                self.failures += 1
                running = {name: [] for name in names}
                workers = []


def read_proc(pid):
    values = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values["VmRSS"], values["VmHWM"], len(os.listdir(f"/proc/{pid}/fd"))


def metric_sum(text, name):
    total, seen = 0.0, False
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
            seen = True
    return total if seen else None


def metric_lines(text, name):
    return [line for line in text.splitlines() if line.startswith(name)]


def fetch(url, timeout=15):
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return answer.read().decode()


def slope_per_hour(points):
    """Least-squares slope of (seconds, MiB) in MiB per hour."""
    if len(points) < 2:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_m = sum(m for _, m in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    return sum((t - mean_t) * (m - mean_m) for t, m in points) / var * HOUR


def write_policy(path, redis_url):
    lines = ["# Written by scripts/lab/soak.py: 200 services, one RQ queue each, a reconcile a second.",
             "cluster: redash", f"region: {REGION}", "interval: 1s", "redis:", f"  url: {redis_url}",
             "  layout: rq", "services:"]
    for n in range(1, SERVICES + 1):
        lines += [f"  soak-worker-{n}:", f"    queues: [soak-queue-{n}]", "    minTasks: 1", "    maxTasks: 10",
                  "    workersPerTask: 2"]
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def soak(args):
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    scale = (args.minutes * 60 / NOMINAL_LENGTH) if args.minutes else 1.0
    length = args.minutes * 60 if args.minutes else args.hours * HOUR
    sample_every = max(2.0, 60.0 * scale)
    restarts = sorted([(t * scale, "redis") for t in SCHEDULE["redis"]] + [(t * scale, "moto") for t in SCHEDULE["moto"]])
    restarts = [(t, what) for t, what in restarts if t < length]
    if not args.minutes and length < 3.5 * HOUR:
        print(f"warning: {args.hours} h is shorter than the 3.5 h the window needs to fill and settle", flush=True)

    started_at = [None]

    def clock():
        return time.monotonic() - started_at[0] if started_at[0] else -0.0

    events = Events(os.path.join(out, "events.log"), clock)
    stopping = threading.Event()
    children = {"redis": None, "moto": None, "controller": None}
    redis_port, moto_port, listen_port = free_port(), free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    keys_path = os.path.join(out, "controller-keys.json")
    if os.path.exists(keys_path):
        os.remove(keys_path)

    def start_redis():
        log = open(os.path.join(out, "redis.log"), "ab")
        children["redis"] = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "", "--appendonly", "no",
             "--dir", out], stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        if not wait_for_port(redis_port, 10):
            raise SystemExit("redis-server did not start")

    def start_moto():
        log = open(os.path.join(out, "moto.log"), "ab")
        children["moto"] = subprocess.Popen(
            [PYTHON, os.path.abspath(__file__), "moto", "--port", str(moto_port), "--keys", keys_path,
             "--services", str(SERVICES)],
            stdout=subprocess.PIPE, stderr=log, preexec_fn=die_with_parent, text=True)
        if children["moto"].stdout.readline().strip() != "ready":
            raise SystemExit(f"moto did not start; see {out}/moto.log")

    def handle_signal(number, _frame):
        raise SystemExit(f"stopped by signal {number}")

    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        # Under nohup SIGHUP stays ignored.
        if signal.getsignal(number) != signal.SIG_IGN:
            signal.signal(number, handle_signal)

    samples = []
    pollers = []
    feeder = None
    log_reader = None
    end_reason = "finished"
    try:
        version = subprocess.run([args.binary, "--version"], capture_output=True, text=True).stdout.strip()
        events(f"binary {args.binary}: {version}")
        events(f"length {length / HOUR:.2f} h" + (f" (compressed from 4 h: x{scale:.4f})" if args.minutes else "")
               + f"; samples every {sample_every:.0f} s; restarts at "
               + ", ".join(f"{what} {t:.0f} s" for t, what in restarts))
        start_redis()
        start_moto()
        with open(keys_path) as handle:
            keys = json.load(handle)
        events(f"redis on {redis_port}, moto on {moto_port}, {SERVICES} services created")

        policy = os.path.join(out, "policy.yaml")
        write_policy(policy, redis_url)
        checked = subprocess.run([args.binary, "validate", "--policies", policy], capture_output=True, text=True)
        with open(os.path.join(out, "validate.txt"), "w") as handle:
            handle.write(checked.stdout + checked.stderr)
        if checked.returncode != 0:
            raise SystemExit(f"the policy does not validate:\n{checked.stdout}{checked.stderr}")
        warnings = [line for line in (checked.stdout + checked.stderr).splitlines() if "warning" in line]
        events(f"policy validated ({len(warnings)} warning(s): {'; '.join(warnings)[:300]})")

        env = dict(os.environ, AWS_ACCESS_KEY_ID=keys["accessKeyId"], AWS_SECRET_ACCESS_KEY=keys["secretAccessKey"],
                   AWS_ENDPOINT_URL=f"http://127.0.0.1:{moto_port}", AWS_REGION=REGION, AWS_EC2_METADATA_DISABLED="true")
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
            env.pop(name, None)
        # The workers register before the controller's first tick, as they would be in production.
        feeder = Feeder(redis_url, stopping, random.Random(args.seed))
        feeder.start()
        time.sleep(3)
        controller = subprocess.Popen(
            [args.binary, "run", "--policies", policy, "--listen", f"127.0.0.1:{listen_port}", "--log-format", "json"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=out, preexec_fn=die_with_parent)
        children["controller"] = controller
        started_at[0] = time.monotonic()
        log_reader = ControllerLog(controller.stdout, os.path.join(out, "controller.log"), clock)
        log_reader.start()
        if not wait_for_port(listen_port, 30):
            raise SystemExit("the controller did not open its port")
        events(f"controller pid {controller.pid} listening on {listen_port}")

        base = f"http://127.0.0.1:{listen_port}"
        readiness = lambda ok, outcome: events(f"/readyz {'ready' if ok else 'not ready'} ({outcome})")
        pollers = [Poller(base, "/", 10, stopping), Poller(base, "/status", 30, stopping),
                   Poller(base, "/metrics", 15, stopping), Poller(base, "/readyz", 2, stopping, readiness)]
        for poller in pollers:
            poller.start()

        csv = open(os.path.join(out, "samples.csv"), "w", buffering=1)
        csv.write("elapsed_s,rss_kib,hwm_kib,fds,reconciles\n")
        next_sample = 0.0
        pending_restarts = list(restarts)
        while clock() < length:
            if controller.poll() is not None:
                end_reason = f"the controller exited with status {controller.returncode}"
                events(end_reason)
                break
            if pending_restarts and clock() >= pending_restarts[0][0]:
                _, what = pending_restarts.pop(0)
                down = clock()
                events(f"restart {what}: stopping")
                stop(children[what])
                time.sleep(OUTAGE)
                (start_redis if what == "redis" else start_moto)()
                events(f"restart {what}: back after {clock() - down:.1f} s"
                       + (" (empty)" if what == "redis" else " (cluster, services and the controller's keys recreated)"))
                continue
            if clock() >= next_sample:
                elapsed = clock()
                # A sample missed during a restart is skipped, not made up in a rush.
                while next_sample <= elapsed:
                    next_sample += sample_every
                try:
                    rss, hwm, fds = read_proc(controller.pid)
                except (FileNotFoundError, ProcessLookupError, KeyError):
                    continue
                try:
                    reconciles = metric_sum(fetch(base + "/metrics"), "redash_autoscaler_reconciles_total")
                except Exception:
                    reconciles = None
                samples.append((elapsed, rss, hwm, fds, reconciles))
                csv.write(f"{elapsed:.0f},{rss},{hwm},{fds},{'' if reconciles is None else int(reconciles)}\n")
            time.sleep(0.2)
    except SystemExit as reason:
        end_reason = str(reason)
        events(f"ended early: {end_reason}")
    finally:
        final_metrics = ""
        try:
            final_metrics = fetch(f"http://127.0.0.1:{listen_port}/metrics")
        except Exception:
            pass
        stopping.set()
        for name in ("controller", "moto", "redis"):
            stop(children[name])
        if log_reader:
            log_reader.join(5)
        summarize(out, samples, pollers, feeder, log_reader, final_metrics, restarts, scale, end_reason, events)
    return 0 if end_reason == "finished" else 1


def summarize(out, samples, pollers, feeder, log_reader, final_metrics, restarts, scale, end_reason, events):
    mib = lambda kib: kib / 1024

    def at(mark):
        near = min(samples, key=lambda s: abs(s[0] - mark), default=None)
        return near if near and abs(near[0] - mark) <= max(120 * scale, 5) else None

    early, full = at(EARLY_MARK * scale), at(WINDOW_FULL * scale)
    last = samples[-1] if samples else None
    settled = [(s[0], mib(s[1])) for s in samples if s[0] >= SLOPE_FROM * scale]
    slope = slope_per_hour(settled)
    counted = [s for s in samples if s[4] is not None]
    summary = {
        "end": end_reason,
        "scale": scale,
        "samples": len(samples),
        "rss_mib": {"at_10min": early and round(mib(early[1]), 2), "at_3h": full and round(mib(full[1]), 2),
                    "end": last and round(mib(last[1]), 2), "peak_hwm": samples and round(mib(max(s[2] for s in samples)), 2),
                    "min": samples and round(min(mib(s[1]) for s in samples), 2),
                    "max": samples and round(max(mib(s[1]) for s in samples), 2)},
        "rss_slope_after_3h05_mib_per_h": slope and round(slope, 3),
        "slope_samples": len(settled),
        "fds": {"min": samples and min(s[3] for s in samples), "max": samples and max(s[3] for s in samples)},
        "reconciles_per_s": (counted and counted[-1][0] > 0 and round(counted[-1][4] / counted[-1][0], 3)) or None,
        "restarts": [{"at_s": round(t), "what": what} for t, what in restarts],
        "http": {p.path: {"requests": p.requests, "not_200": p.failures(), "slowest_s": round(p.slowest, 3),
                          "largest_bytes": p.largest} for p in pollers},
        "feeder": feeder and {"enqueued": feeder.enqueued, "started": feeder.started, "finished": feeder.finished,
                              "bursts": feeder.bursts, "failed_seconds": feeder.failures},
        "controller_log_lines": log_reader and log_reader.lines,
        "errors_total": metric_lines(final_metrics, "redash_autoscaler_errors_total"),
        "reconciles_total": metric_lines(final_metrics, "redash_autoscaler_reconciles_total"),
    }
    tally = sorted(log_reader.tally.items(), key=lambda item: -item[1][0]) if log_reader else []
    summary["log_warnings_and_errors"] = [{"level": level, "message": message, "count": count,
                                           "first_s": round(first), "last_s": round(last_seen)}
                                          for (level, message), (count, first, last_seen) in tally[:40]]
    with open(os.path.join(out, "summary.json"), "w") as handle:
        json.dump(summary, handle, indent=2)

    text = [f"soak summary ({out})", f"end: {end_reason}"]
    if scale != 1.0:
        text.append(f"compressed schedule x{scale:.4f}: the marks below are scaled; the 3-hour window is not")
    fmt = lambda s: f"{mib(s[1]):.1f} MiB at {s[0] / 60:.1f} min" if s else "n/a"
    text += [f"RSS at 10 min: {fmt(early)}", f"RSS at 3 h (window full): {fmt(full)}", f"RSS at the end: {fmt(last)}",
             f"peak RSS (VmHWM): {summary['rss_mib']['peak_hwm']} MiB",
             "RSS slope after 3 h 05 m: " + (f"{slope:+.3f} MiB/h over {len(settled)} samples" if slope is not None else "n/a"),
             f"fds: min {summary['fds']['min']}, max {summary['fds']['max']}",
             f"reconciles per second: {summary['reconciles_per_s']}"]
    step = 900 * scale
    if samples:
        text.append("RSS every 15 min (scaled), MiB: " + ", ".join(
            f"{s[0] / 60:.1f}m {mib(s[1]):.1f}" for s in [at(k * step) for k in range(int(samples[-1][0] // step) + 1)] if s))
    for p in pollers:
        text.append(f"{p.path}: {p.requests} requests, not 200: {p.failures() or 'none'}, slowest {p.slowest:.2f} s, "
                    f"largest {p.largest} bytes")
    if feeder:
        text.append(f"feeder: {summary['feeder']}")
    text += ["final counters:"] + ["  " + line for line in summary["reconciles_total"] + summary["errors_total"]]
    text.append(f"controller log: {summary['controller_log_lines']} lines; warnings and errors by message (count, first, last s):")
    text += [f"  {e['count']:7d} {e['first_s']:7d} {e['last_s']:7d}  {e['level']}: {e['message']}"
             for e in summary["log_warnings_and_errors"]]
    with open(os.path.join(out, "summary.txt"), "w") as handle:
        handle.write("\n".join(text) + "\n")
    print("\n".join(text), flush=True)


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run")
    run.add_argument("--binary", required=True)
    run.add_argument("--out", required=True)
    run.add_argument("--hours", type=float, default=4)
    run.add_argument("--minutes", type=float, help="compress the 4-hour schedule to this many minutes")
    run.add_argument("--seed", type=int, default=1)
    run.set_defaults(run=soak)
    life = commands.add_parser("moto")
    life.add_argument("--port", type=int, required=True)
    life.add_argument("--keys", required=True, help="the controller's keys: written by the first life, kept by the next")
    life.add_argument("--services", type=int, default=SERVICES)
    life.add_argument("--account", default="123456789012")
    life.set_defaults(run=moto_life)
    args = parser.parse_args()
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
