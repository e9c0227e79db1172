"""A local ECS for busy-aware scale-in: the JSON 1.1 subset the controller uses, where every
task is real. A task is WORKERS_COUNT real `rq worker` processes (RQ's HerokuWorker, as Redash
runs) connecting to a real redis-server from the task's own loopback address (127.0.0.x), so
that each task has a distinct private IP, as on Fargate. Tasks start after a delay; a stopped
task gets SIGTERM, then SIGKILL after its stop timeout; scale-in stops tasks chosen at random
among the unprotected ones (ECS does not prefer idle tasks).

With --system celery (Redash v7-v8) a task is instead ONE Celery worker node, run as Redash v8
runs it (`celery worker -c$WORKERS_COUNT -Q$QUEUES --max-tasks-per-child=10 -Ofair`, prefetch
multiplier 1, JSON), named `celery@ip-127-0-0-N` after the task's address as on Fargate, with
remote control on; its queries are the Celery task `redash.tasks.execute_query`. As `docker
stop` does, a stopped task's SIGTERM goes to the node's main process only (a warm shutdown:
it stops consuming and waits for its running queries; only then does it give back the message
it prefetched, so a SIGKILL first leaves that one in kombu's `unacked` hash) and the SIGKILL
after the stop timeout to all its processes. --worker-python chooses the interpreter of the
Celery worker (say a Celery 4.3 venv: this file keeps to Python 3.7); --worker-logs keeps each
task's output in DIR.

  serve   --port P --redis URL --service NAME:QUEUE:WORKERS [--start-delay S] [--stop-timeout S] [--placement-failure TEXT]
          [--system rq|celery] [--worker-python PATH] [--worker-logs DIR]
  worker  (internal: one RQ worker bound to a source address)
  celery-worker  (internal: one Celery worker node bound to a source address)
  enqueue URL QUEUE SECONDS... [--system rq|celery]   (jobs that sleep for each given length)

GET /_report gives tasks started, task-seconds, scale actions, and per queue jobs enqueued,
finished and killed (enqueued but neither finished nor still waiting or running). In celery
mode the truth is kept in redis under `lab:` (enqueued, received by which task, started on
which task, finished): a job is running if it started on a task not yet stopped; waiting if it
is in the queue's lists or in kombu's `unacked` hash (prefetched) held by a live task; killed
if it started on a stopped task and never finished, or is prefetched by a stopped task
(stranded in `unacked` until the visibility timeout, also given as jobsStranded), or is gone.
"""
import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
REGION, ACCOUNT = "eu-west-1", "123456789012"
EXECUTE_QUERY = "redash.tasks.execute_query"
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")   # kombu's Redis priority lists
WORKER = {}   # in a Celery worker process: its redis URL, queue and source address


def sleep_job(seconds):
    """A Redash-like query: busy for `seconds`."""
    time.sleep(seconds)
    return seconds


class Task:
    def __init__(self, service, ip, start_delay):
        self.service = service
        self.id = uuid.uuid4().hex
        self.arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{service.cluster}/{self.id}"
        self.ip = ip
        self.created = time.time()
        self.start_at = self.created + start_delay
        self.started = None
        self.stop_requested = None
        self.stopped = None
        self.processes = []
        self.protected_until = 0.0

    @property
    def status(self):
        if self.stopped:
            return "STOPPED"
        if self.stop_requested:
            return "DEACTIVATING"
        return "RUNNING" if self.started else "PENDING"


class Service:
    def __init__(self, cluster, name, queue, workers):
        self.cluster, self.name, self.queue, self.workers = cluster, name, queue, workers
        self.desired = 1
        self.tasks = []
        self.actions = 0

    def live(self):
        return [task for task in self.tasks if not task.stop_requested]


class Lab:
    def __init__(self, args):
        self.lock = threading.RLock()
        self.redis_url = args.redis
        self.system = args.system
        self.worker_python = args.worker_python
        self.worker_logs = args.worker_logs
        self.start_delay = args.start_delay
        self.placement_failure = args.placement_failure
        self.stop_timeout = args.stop_timeout
        self.random = random.Random(args.seed)
        self.next_ip = 10
        self.services = {}
        for spec in args.service:
            name, queue, workers = spec.split(":")
            self.services[name] = Service("redash", name, queue, int(workers))
        self.enqueued = {}
        self.calls = {}           # ECS requests served, by action

    def allocate_ip(self):
        self.next_ip += 1
        return f"127.0.0.{self.next_ip}"

    def tick(self):
        with self.lock:
            now = time.time()
            for service in self.services.values():
                live = service.live()
                while len(live) < service.desired:
                    task = Task(service, self.allocate_ip(), self.start_delay)
                    service.tasks.append(task)
                    live.append(task)
                surplus = len(live) - service.desired
                if surplus > 0:
                    candidates = [task for task in live if task.protected_until <= now]
                    self.random.shuffle(candidates)
                    for task in candidates[:surplus]:
                        self.stop(task)
                for task in service.tasks:
                    if not task.started and not task.stop_requested and now >= task.start_at:
                        self.launch(task)
                    elif task.started and not task.stop_requested and all(p.poll() is not None for p in task.processes):
                        # Its essential container exited: ECS stops the task and starts another.
                        task.stop_requested = task.stopped = now
                    if task.stop_requested and not task.stopped:
                        alive = [p for p in task.processes if p.poll() is None]
                        if not alive:
                            task.stopped = now
                        elif now - task.stop_requested >= self.stop_timeout:
                            for process in alive:
                                self.signal(process, signal.SIGKILL)

    def launch(self, task):
        task.started = time.time()
        if self.system == "celery":
            command = [self.worker_python, os.path.abspath(__file__), "celery-worker", self.redis_url,
                       task.service.queue, str(task.service.workers), task.ip]
            task.processes.append(self.spawn(command, f"{task.service.name}-{task.ip}"))
            return
        for index in range(task.service.workers):
            name = f"{task.service.name}-{task.id[:8]}-{index}"
            task.processes.append(self.spawn(
                [sys.executable, os.path.abspath(__file__), "worker", self.redis_url, task.service.queue, name, task.ip], name))

    def spawn(self, command, name):
        output = subprocess.DEVNULL
        if self.worker_logs:
            output = open(os.path.join(self.worker_logs, name + ".log"), "ab")
        return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT if self.worker_logs else output,
                                start_new_session=True, env={**os.environ, "PYTHONPATH": HERE})

    def stop(self, task):
        task.stop_requested = time.time()
        if not task.started:
            task.stopped = task.stop_requested
            return
        for process in task.processes:
            if self.system == "celery":
                # As `docker stop`: SIGTERM to the container's PID 1 only, a Celery warm shutdown.
                try:
                    os.kill(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            else:
                self.signal(process, signal.SIGTERM)

    @staticmethod
    def signal(process, number):
        try:
            os.killpg(process.pid, number)
        except ProcessLookupError:
            pass

    def shutdown(self):
        with self.lock:
            for service in self.services.values():
                for task in service.tasks:
                    for process in task.processes:
                        self.signal(process, signal.SIGKILL)

    def report(self):
        if self.system == "celery":
            return self.celery_report()
        from redis import Redis
        from rq import Queue
        from rq.registry import FinishedJobRegistry, StartedJobRegistry
        redis = Redis.from_url(self.redis_url)
        now = time.time()
        with self.lock:
            services = {}
            for service in self.services.values():
                queue = Queue(service.queue, connection=redis)
                finished = FinishedJobRegistry(queue=queue).get_job_ids()
                running = StartedJobRegistry(queue=queue).get_job_ids()
                enqueued = redis.scard(f"lab:enqueued:{service.queue}")
                waits = []
                for job in queue.job_class.fetch_many(finished, connection=redis):
                    if job and job.enqueued_at and job.started_at:
                        waits.append((job.started_at - job.enqueued_at).total_seconds())
                waits.sort()
                pick = lambda q: round(waits[min(len(waits) - 1, int(len(waits) * q))], 2) if waits else None
                services[service.name] = {
                    "desired": service.desired,
                    "tasksStarted": sum(1 for t in service.tasks if t.started),
                    "tasksRunning": sum(1 for t in service.tasks if t.started and not t.stopped),
                    "tasksStopped": sum(1 for t in service.tasks if t.stopped and t.started),
                    "taskSeconds": round(sum((t.stopped or now) - t.started for t in service.tasks if t.started), 1),
                    "scaleActions": service.actions,
                    "jobsEnqueued": enqueued,
                    "jobsFinished": len(finished),
                    "jobsWaiting": queue.count,
                    "jobsRunning": len(running),
                    "jobsKilled": max(0, enqueued - len(finished) - queue.count - len(running)),
                    "waitP50": pick(0.5), "waitP95": pick(0.95), "waitP99": pick(0.99),
                }
            return {"services": services, "ecsCalls": dict(self.calls)}

    def celery_report(self):
        from redis import Redis
        redis = Redis.from_url(self.redis_url, decode_responses=True)
        services = {}
        for service in list(self.services.values()):
            jobs = self.celery_jobs(redis, service.queue)
            redis.connection_pool.disconnect()   # the report's own connection is not left open
            now = time.time()
            with self.lock:
                services[service.name] = {
                    "desired": service.desired,
                    "tasksStarted": sum(1 for t in service.tasks if t.started),
                    "tasksRunning": sum(1 for t in service.tasks if t.started and not t.stopped),
                    "tasksStopped": sum(1 for t in service.tasks if t.stopped and t.started),
                    "taskSeconds": round(sum((t.stopped or now) - t.started for t in service.tasks if t.started), 1),
                    "scaleActions": service.actions,
                    **jobs,
                }
        with self.lock:
            return {"services": services, "ecsCalls": dict(self.calls)}

    def celery_jobs(self, redis, queue):
        # A message between two places (popped from its list but not yet in `unacked`, say) is
        # nowhere for a moment: an id missing from one snapshot is looked for once more.
        for attempt in range(3):
            snapshot = celery_snapshot(redis, queue)
            counts = self.classify(snapshot)
            if not counts.pop("missing"):
                break
            time.sleep(0.25)
        waits = sorted(snapshot["started"][id]["at"] - snapshot["enqueuedAt"][id]
                       for id in snapshot["finished"] if id in snapshot["started"] and id in snapshot["enqueuedAt"])
        pick = lambda q: round(waits[min(len(waits) - 1, int(len(waits) * q))], 2) if waits else None
        return {**counts, "waitP50": pick(0.5), "waitP95": pick(0.95), "waitP99": pick(0.99)}

    def has_stopped(self, ip):
        # Whether the task at `ip` has stopped (an unknown address counts as live).
        with self.lock:
            return any(task.stopped for service in self.services.values() for task in service.tasks if task.ip == ip)

    def classify(self, snapshot):
        finished, started, received = snapshot["finished"], snapshot["started"], snapshot["received"]
        running = killed = stranded = missing = 0
        waiting = snapshot["listed"]
        for id in snapshot["enqueued"]:
            if id in finished or id in snapshot["queued"]:
                continue
            if id in started:
                if self.has_stopped(started[id]["ip"]):
                    killed += 1
                else:
                    running += 1
            elif id in snapshot["unacked"]:
                if id in received and self.has_stopped(received[id]):
                    stranded += 1
                else:
                    waiting += 1
            elif id in received and not self.has_stopped(received[id]):
                running += 1       # acknowledged by a live node, about to start
            else:
                missing += 1
        return {"jobsEnqueued": len(snapshot["enqueued"]), "jobsFinished": len(finished & snapshot["enqueued"]),
                "jobsWaiting": waiting, "jobsRunning": running, "jobsKilled": killed + stranded + missing,
                "jobsStranded": stranded, "missing": missing}

    # -- the ECS API --------------------------------------------------------------------------

    def describe_services(self, request):
        with self.lock:
            result, failures = [], []
            for name in request.get("services", []):
                service = self.services.get(name)
                if not service:
                    failures.append({"arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/redash/{name}", "reason": "MISSING"})
                    continue
                running = sum(1 for t in service.tasks if t.started and not t.stopped)
                pending = sum(1 for t in service.tasks if not t.started and not t.stopped)
                events = []
                if self.placement_failure and pending:
                    # As ECS says it when it cannot place a task (every few minutes while it retries).
                    oldest = min(t.created for t in service.tasks if not t.started and not t.stopped)
                    events.append({"id": "lab-placement", "createdAt": oldest + 1,
                                   "message": f"(service {name}) was unable to place a task. Reason: {self.placement_failure}"})
                result.append({
                    "serviceName": name, "status": "ACTIVE", "desiredCount": service.desired, "runningCount": running,
                    "pendingCount": pending, "events": events,
                    "deployments": [{"id": "ecs-svc/1", "status": "PRIMARY", "desiredCount": service.desired,
                                     "runningCount": running, "pendingCount": pending, "rolloutState": "COMPLETED"}],
                })
            return {"services": result, "failures": failures}

    def update_service(self, request):
        with self.lock:
            service = self.services.get(request.get("service", ""))
            if not service:
                return 400, {"__type": "ServiceNotFoundException", "message": "Service not found."}
            if "desiredCount" in request and request["desiredCount"] != service.desired:
                service.desired = int(request["desiredCount"])
                service.actions += 1
            return 200, {"service": self.describe_services({"services": [service.name]})["services"][0]}

    def list_tasks(self, request):
        # One service's tasks, or (no serviceName) the whole cluster's, in pages as ECS gives them.
        with self.lock:
            if "serviceName" in request:
                service = self.services.get(request["serviceName"])
                chosen = [service] if service else []
            else:
                chosen = list(self.services.values())
            arns = [t.arn for s in chosen for t in s.tasks if not t.stopped and not t.stop_requested]
            start = int(request.get("nextToken") or 0)
            size = max(1, min(100, int(request.get("maxResults") or 100)))
            answer = {"taskArns": arns[start:start + size]}
            if start + size < len(arns):
                answer["nextToken"] = str(start + size)
            return answer

    def find(self, arn):
        for service in self.services.values():
            for task in service.tasks:
                if task.arn == arn:
                    return task
        return None

    def describe_tasks(self, request):
        with self.lock:
            tasks = []
            for arn in request.get("tasks", []):
                task = self.find(arn)
                if task:
                    tasks.append({
                        "taskArn": task.arn, "lastStatus": task.status, "group": f"service:{task.service.name}", "desiredStatus": "STOPPED" if task.stop_requested else "RUNNING",
                        "startedAt": task.started,
                        "attachments": [{"type": "ElasticNetworkInterface", "details": [{"name": "privateIPv4Address", "value": task.ip}]}],
                    })
            return {"tasks": tasks, "failures": []}

    def protection(self, request, update):
        with self.lock:
            now = time.time()
            result, failures = [], []
            for arn in request.get("tasks", []):
                task = self.find(arn)
                if not task or task.stopped or task.stop_requested:
                    failures.append({"arn": arn, "reason": "TASK_NOT_VALID"})
                    continue
                if update:
                    minutes = request.get("expiresInMinutes") or 120
                    task.protected_until = now + minutes * 60 if request.get("protectionEnabled") else 0.0
                entry = {"taskArn": arn, "protectionEnabled": task.protected_until > now}
                if task.protected_until > now:
                    entry["expirationDate"] = task.protected_until
                result.append(entry)
            return {"protectedTasks": result, "failures": failures}


def message_id(message):
    """The Celery task id of a kombu Redis message (protocol 2 has it in the headers)."""
    return (message.get("headers") or {}).get("id") or (message.get("properties") or {}).get("correlation_id")


def celery_snapshot(redis, queue):
    """Where each of `queue`'s jobs is, read in the order a message moves (published, listed,
    prefetched into `unacked`, received, started, finished) so that one moving on during the
    reads is still seen."""
    enqueued = redis.smembers(f"lab:enqueued:{queue}")
    enqueued_at = {id: float(at) for id, at in redis.hgetall(f"lab:enqueued-at:{queue}").items()}
    queued, listed = set(), 0
    for suffix in PRIORITY_SUFFIXES:
        messages = redis.lrange(queue + suffix, 0, -1)
        listed += len(messages)
        queued.update(message_id(json.loads(raw)) for raw in messages)
    unacked = set()
    for raw in redis.hvals("unacked"):
        message, _exchange, routing_key = json.loads(raw)
        if routing_key == queue or message_id(message) in enqueued:
            unacked.add(message_id(message))
    received = redis.hgetall(f"lab:received:{queue}")
    started = {id: json.loads(value) for id, value in redis.hgetall(f"lab:started:{queue}").items()}
    finished = redis.smembers(f"lab:finished:{queue}")
    return {"enqueued": enqueued, "enqueuedAt": enqueued_at, "queued": queued, "listed": listed, "unacked": unacked,
            "received": received, "started": started, "finished": finished}


def make_handler(lab):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/_report":
                return self.answer(200, lab.report())
            self.answer(404, {"message": "not found"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            request = json.loads(self.rfile.read(length) or b"{}")
            if not self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 "):
                return self.answer(400, {"__type": "MissingAuthenticationTokenException", "message": "not signed"})
            action = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
            with lab.lock:
                lab.calls[action] = lab.calls.get(action, 0) + 1
            if action == "DescribeServices":
                return self.answer(200, lab.describe_services(request))
            if action == "UpdateService":
                return self.answer(*lab.update_service(request))
            if action == "ListTasks":
                return self.answer(200, lab.list_tasks(request))
            if action == "DescribeTasks":
                return self.answer(200, lab.describe_tasks(request))
            if action == "GetTaskProtection":
                return self.answer(200, lab.protection(request, update=False))
            if action == "UpdateTaskProtection":
                return self.answer(200, lab.protection(request, update=True))
            self.answer(400, {"__type": "InvalidAction", "message": f"the lab does not implement {action}"})

    return Handler


def serve(args):
    lab = Lab(args)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(lab))
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(*_):
        lab.shutdown()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        lab.tick()
        time.sleep(0.2)


def bind_connections_to(source):
    # The task's network address: every connection this process (and the processes it forks)
    # opens leaves from the task's own loopback address, which Redis records.
    original = socket.socket.connect

    def connect(sock, address):
        if sock.family == socket.AF_INET:
            try:
                sock.bind((source, 0))
            except OSError:
                pass
        return original(sock, address)

    socket.socket.connect = connect


def worker(args):
    bind_connections_to(args.source)
    from redis import Redis
    from rq import Queue
    from rq.worker import HerokuWorker

    connection = Redis.from_url(args.url)
    worker = HerokuWorker([Queue(args.queue, connection=connection)], connection=connection, name=args.name,
                          job_monitoring_interval=1)
    worker.work(with_scheduler=False)


def celery_app(url):
    """Redash v8's Celery app as far as the worker goes (redash/worker.py): the broker and the
    result backend on redis, JSON only, prefetch multiplier 1; and its query task."""
    from celery import Celery

    app = Celery("redash", broker=url, backend=url)
    app.conf.update(worker_prefetch_multiplier=1, accept_content=["json"], task_serializer="json",
                    result_serializer="json", result_expires=3600, timezone="UTC")

    @app.task(name=EXECUTE_QUERY, bind=True)
    def execute_query(task, seconds, *query):
        """A Redash-like query (Redash passes query, data source, metadata): busy for `seconds`."""
        redis = worker_redis()
        redis.hset("lab:started:" + WORKER["queue"], task.request.id, json.dumps({"ip": WORKER["source"], "at": time.time()}))
        time.sleep(float(seconds))
        redis.sadd("lab:finished:" + WORKER["queue"], task.request.id)
        return seconds

    return app


def worker_redis():
    # One client per process: redis-py makes a fresh pool in a forked pool process.
    if "redis" not in WORKER:
        from redis import Redis
        WORKER["redis"] = Redis.from_url(WORKER["url"])
    return WORKER["redis"]


def task_received(request=None, **_):
    # In the node's main process, before the message is acknowledged: which task holds it.
    worker_redis().hset("lab:received:" + WORKER["queue"], request.id, WORKER["source"])


def celery_worker(args):
    bind_connections_to(args.source)   # before celery, kombu and redis connect anything
    WORKER.update(url=args.url, queue=args.queue, source=args.source)
    from celery import signals

    app = celery_app(args.url)
    signals.task_received.connect(task_received, weak=False)
    node = "celery@ip-" + args.source.replace(".", "-")
    app.worker_main(["worker", "--concurrency", str(args.concurrency), "-Q", args.queue, "-O", "fair",
                     "--max-tasks-per-child", "10", "-n", node, "--loglevel", "INFO"])


def submitter(system, url, queue):
    """A function that enqueues one job of `seconds` on `queue` and records its id in redis."""
    from redis import Redis

    connection = Redis.from_url(url)
    if system == "celery":
        task = celery_app(url).tasks[EXECUTE_QUERY]

        def submit(seconds):
            id = str(uuid.uuid4())
            connection.hset(f"lab:enqueued-at:{queue}", id, time.time())
            task.apply_async(args=[seconds, 1, {"Username": "lab"}], queue=queue, task_id=id)
            connection.sadd(f"lab:enqueued:{queue}", id)
            return id
        return submit

    from rq import Queue
    rq_queue = Queue(queue, connection=connection)

    def submit(seconds):
        job = rq_queue.enqueue("ecs_lab.sleep_job", seconds, job_timeout=3600, result_ttl=3600, failure_ttl=3600)
        connection.sadd(f"lab:enqueued:{queue}", job.id)
        return job.id
    return submit


def enqueue(args):
    submit = submitter(args.system, args.url, args.queue)
    ids = [submit(float(seconds)) for seconds in args.seconds]
    print(json.dumps({"ids": ids}))


def workload(args):
    """A seeded Redash-like adhoc workload over `duration` seconds, enqueued in real time:
    Poisson arrivals with heavy-tailed (lognormal) runtimes, two bursts of slow queries from
    someone's dashboard, and a scheduled burst in the middle."""
    rng = random.Random(args.seed)
    submit = submitter(args.system, args.url, args.queue)
    events = []
    t = 0.0
    while t < args.duration:
        t += rng.expovariate(args.rate)
        events.append((t, min(120.0, rng.lognormvariate(1.6, 1.0))))
    for burst in (args.duration * 0.25, args.duration * 0.7):
        events += [(burst + rng.uniform(0, 5), rng.uniform(20, 60)) for _ in range(10)]
    events += [(args.duration * 0.5, rng.uniform(5, 30)) for _ in range(15)]
    events.sort()
    start = time.time()
    for at, seconds in events:
        delay = start + at - time.time()
        if delay > 0:
            time.sleep(delay)
        submit(round(seconds, 2))
    print(json.dumps({"jobs": len(events), "work": round(sum(s for _, s in events), 1)}))


def keda(args):
    """The KEDA Redis list scaler with HPA's defaults, as a baseline: desired replicas =
    ceil(list length / target), scale up at once, scale down to the highest recommendation of
    the stabilization window. It sees only the waiting list, not the running jobs."""
    import math
    import urllib.request
    from redis import Redis

    connection = Redis.from_url(args.url)
    history = []
    while True:
        pending = connection.llen(f"rq:queue:{args.queue}")
        wanted = max(args.min, min(args.max, math.ceil(pending / args.target)))
        now = time.time()
        history = [(t, w) for t, w in history if now - t <= args.window] + [(now, wanted)]
        request = urllib.request.Request(args.endpoint, method="POST", headers={
            "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.DescribeServices", "Authorization": "AWS4-HMAC-SHA256 keda"},
            data=json.dumps({"services": [args.service]}).encode())
        current = json.load(urllib.request.urlopen(request))["services"][0]["desiredCount"]
        desired = wanted if wanted >= current else max(w for _, w in history)
        if desired != current:
            request = urllib.request.Request(args.endpoint, method="POST", headers={
                "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.UpdateService", "Authorization": "AWS4-HMAC-SHA256 keda"},
                data=json.dumps({"service": args.service, "desiredCount": desired}).encode())
            urllib.request.urlopen(request).read()
        time.sleep(args.interval)


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("serve")
    command.add_argument("--port", type=int, required=True)
    command.add_argument("--redis", required=True)
    command.add_argument("--service", action="append", required=True)
    command.add_argument("--start-delay", type=float, default=1.0)
    command.add_argument("--placement-failure", default=None,
                         help="while tasks wait to start, a service event saying ECS could not place them for this reason")
    command.add_argument("--stop-timeout", type=float, default=10.0)
    command.add_argument("--seed", type=int, default=1)
    command.add_argument("--system", choices=["rq", "celery"], default="rq")
    command.add_argument("--worker-python", default=sys.executable)
    command.add_argument("--worker-logs")
    command = commands.add_parser("worker")
    command.add_argument("url"); command.add_argument("queue"); command.add_argument("name"); command.add_argument("source")
    command = commands.add_parser("celery-worker")
    command.add_argument("url"); command.add_argument("queue"); command.add_argument("concurrency", type=int)
    command.add_argument("source")
    command = commands.add_parser("enqueue")
    command.add_argument("url"); command.add_argument("queue"); command.add_argument("seconds", nargs="+")
    command.add_argument("--system", choices=["rq", "celery"], default="rq")
    command = commands.add_parser("workload")
    command.add_argument("url"); command.add_argument("queue")
    command.add_argument("--system", choices=["rq", "celery"], default="rq")
    command.add_argument("--duration", type=float, default=240); command.add_argument("--rate", type=float, default=0.15)
    command.add_argument("--seed", type=int, default=1)
    command = commands.add_parser("keda")
    command.add_argument("url"); command.add_argument("queue"); command.add_argument("endpoint"); command.add_argument("service")
    command.add_argument("--target", type=float, default=2); command.add_argument("--min", type=int, default=1)
    command.add_argument("--max", type=int, default=8); command.add_argument("--window", type=float, default=75)
    command.add_argument("--interval", type=float, default=1)
    args = parser.parse_args()
    {"serve": serve, "worker": worker, "celery-worker": celery_worker, "enqueue": enqueue, "workload": workload, "keda": keda}[args.command](args)


if __name__ == "__main__":
    main()
