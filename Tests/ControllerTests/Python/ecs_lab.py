"""A local ECS for busy-aware scale-in: the JSON 1.1 subset the controller uses, where every
task is real. A task is WORKERS_COUNT real `rq worker` processes (RQ's HerokuWorker, as Redash
runs) connecting to a real redis-server from the task's own loopback address (127.0.0.x), so
that each task has a distinct private IP, as on Fargate. Tasks start after a delay; a stopped
task gets SIGTERM, then SIGKILL after its stop timeout; scale-in stops tasks chosen at random
among the unprotected ones (ECS does not prefer idle tasks).

  serve   --port P --redis URL --service NAME:QUEUE:WORKERS [--start-delay S] [--stop-timeout S]
  worker  (internal: one RQ worker bound to a source address)
  enqueue URL QUEUE SECONDS...   (jobs that sleep for each given length)

GET /_report gives tasks started, task-seconds, scale actions, and per queue jobs enqueued,
finished and killed (enqueued but neither finished nor still waiting or running).
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
        self.start_delay = args.start_delay
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
        for index in range(task.service.workers):
            name = f"{task.service.name}-{task.id[:8]}-{index}"
            task.processes.append(subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "worker", self.redis_url, task.service.queue, name, task.ip],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                env={**os.environ, "PYTHONPATH": HERE}))

    def stop(self, task):
        task.stop_requested = time.time()
        if not task.started:
            task.stopped = task.stop_requested
            return
        for process in task.processes:
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
                result.append({
                    "serviceName": name, "status": "ACTIVE", "desiredCount": service.desired, "runningCount": running,
                    "pendingCount": pending,
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


def worker(args):
    # The task's network address: every connection this process (and the work horses it forks)
    # opens leaves from the task's own loopback address, which Redis records for RQ.
    original = socket.socket.connect

    def connect(sock, address):
        if sock.family == socket.AF_INET:
            try:
                sock.bind((args.source, 0))
            except OSError:
                pass
        return original(sock, address)

    socket.socket.connect = connect
    from redis import Redis
    from rq import Queue
    from rq.worker import HerokuWorker

    connection = Redis.from_url(args.url)
    worker = HerokuWorker([Queue(args.queue, connection=connection)], connection=connection, name=args.name,
                          job_monitoring_interval=1)
    worker.work(with_scheduler=False)


def enqueue(args):
    from redis import Redis
    from rq import Queue

    connection = Redis.from_url(args.url)
    queue = Queue(args.queue, connection=connection)
    ids = []
    for seconds in args.seconds:
        job = queue.enqueue("ecs_lab.sleep_job", float(seconds), job_timeout=3600, result_ttl=3600, failure_ttl=3600)
        connection.sadd(f"lab:enqueued:{args.queue}", job.id)
        ids.append(job.id)
    print(json.dumps({"ids": ids}))


def workload(args):
    """A seeded Redash-like adhoc workload over `duration` seconds, enqueued in real time:
    Poisson arrivals with heavy-tailed (lognormal) runtimes, two bursts of slow queries from
    someone's dashboard, and a scheduled burst in the middle."""
    from redis import Redis
    from rq import Queue

    rng = random.Random(args.seed)
    connection = Redis.from_url(args.url)
    queue = Queue(args.queue, connection=connection)
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
        job = queue.enqueue("ecs_lab.sleep_job", round(seconds, 2), job_timeout=3600, result_ttl=3600, failure_ttl=3600)
        connection.sadd(f"lab:enqueued:{args.queue}", job.id)
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
    command.add_argument("--stop-timeout", type=float, default=10.0)
    command.add_argument("--seed", type=int, default=1)
    command = commands.add_parser("worker")
    command.add_argument("url"); command.add_argument("queue"); command.add_argument("name"); command.add_argument("source")
    command = commands.add_parser("enqueue")
    command.add_argument("url"); command.add_argument("queue"); command.add_argument("seconds", nargs="+")
    command = commands.add_parser("workload")
    command.add_argument("url"); command.add_argument("queue")
    command.add_argument("--duration", type=float, default=240); command.add_argument("--rate", type=float, default=0.15)
    command.add_argument("--seed", type=int, default=1)
    command = commands.add_parser("keda")
    command.add_argument("url"); command.add_argument("queue"); command.add_argument("endpoint"); command.add_argument("service")
    command.add_argument("--target", type=float, default=2); command.add_argument("--min", type=int, default=1)
    command.add_argument("--max", type=int, default=8); command.add_argument("--window", type=float, default=75)
    command.add_argument("--interval", type=float, default=1)
    args = parser.parse_args()
    {"serve": serve, "worker": worker, "enqueue": enqueue, "workload": workload, "keda": keda}[args.command](args)


if __name__ == "__main__":
    main()
