"""Records the AWS requests the real binary sends, command by command, for check_iam.py.

Every command of the binary runs with its ECS and Application Auto Scaling endpoints pointed at
a recording proxy. Behind it: the local ECS lab (Tests/ControllerTests/Python/ecs_lab.py: every
task is real RQ workers from its own loopback address, with task protection) for ECS, and moto's
server for Application Auto Scaling, which the lab does not serve. Redis is a real redis-server,
filled by the real rq library, with a busy worker, so that the commands take the busy-task path
(ListTasks, DescribeTasks, GetTaskProtection) as they do in production.

  record_calls.py BINARY OUTPUT.json

Then `run --policies ssm:` reads the same policy from a SecureString parameter in moto (the
Terraform module's way) and polls it every second, so that GetParameter is recorded too; and
`run --kill-switch ssm:` runs the policy with `killSwitch: ssm:/redash-autoscaler/mode` (the
module's kill_switch_parameter, a String holding `paused`), read every tick.

The output: {"region", "account", "cluster", "parameter", "kill_switch", "calls": [{"command", "target", "body", "status"}]}.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LAB = os.path.join(REPO, "Tests/ControllerTests/Python/ecs_lab.py")
VENV = os.path.join(REPO, ".venv/bin")
REGION, ACCOUNT, CLUSTER = "eu-west-1", "123456789012", "redash"
# The policy parameter, as check_iam.py renders deploy/iam/policy-parameter-policy.json.tftpl.
PARAMETER = "/redash-autoscaler/policy"
# The kill-switch parameter, as check_iam.py renders deploy/iam/kill-switch-parameter-policy.json.tftpl.
KILL_SWITCH = "/redash-autoscaler/mode"

POLICY = """
cluster: redash
interval: 1s
redis:
  url: ${REDIS_URL}
  layout: rq
services:
  redash-adhoc-worker:
    queues: [queries]
    minTasks: 1
    maxTasks: 4
    workersPerTask: 1
    protectBusyTasks: true
    scaleDown: {stabilizationWindow: 3s, maxStep: 4, cooldown: 0s}
  redash-scheduled-worker:
    queues: [scheduled_queries]
    minTasks: 1
    maxTasks: 2
    workersPerTask: 1
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"record-calls: timed out waiting for {what}")


class Recorder:
    """The proxy: forwards each request unchanged and keeps (command, target, body, status)."""

    def __init__(self, upstreams):
        self.upstreams = upstreams
        self.command = None
        self.calls = []
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target", "")
                service = target.split(".", 1)[0]
                port = recorder.upstreams[service if service in recorder.upstreams else "ecs"]
                connection = HTTPConnection("127.0.0.1", port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                connection.request("POST", self.path, body=body, headers=headers)
                reply = connection.getresponse()
                data = reply.read()
                with recorder.lock:
                    recorder.calls.append({"command": recorder.command, "target": target,
                                           "body": json.loads(body or b"{}"), "status": reply.status})
                self.send_response(reply.status)
                for key, value in reply.getheaders():
                    if key.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


def main(binary, output):
    processes = []
    work = tempfile.mkdtemp(prefix="redash-autoscaler-iam-")

    def start(arguments, **kwargs):
        process = subprocess.Popen(arguments, stdout=kwargs.pop("stdout", subprocess.DEVNULL), stderr=subprocess.STDOUT,
                                   start_new_session=True, **kwargs)
        processes.append(process)
        return process

    try:
        redis_port, lab_port, moto_port = free_port(), free_port(), free_port()
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        start(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
           # The lab's workers connect from 127.0.0.x, which protected mode refuses.
           "--protected-mode", "no"])
        start([os.path.join(VENV, "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)])
        wait_for(lambda: socket.create_connection(("127.0.0.1", redis_port), 1).close() is None, 20, "redis-server")
        start([os.path.join(VENV, "python"), LAB, "serve", "--port", str(lab_port), "--redis", redis_url,
               "--service", "redash-adhoc-worker:queries:1", "--service", "redash-scheduled-worker:scheduled_queries:1",
               "--start-delay", "0.5", "--stop-timeout", "5"])
        wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{lab_port}/_report", timeout=1).status == 200, 30, "the ECS lab")
        wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{moto_port}/moto-api/data.json", timeout=1).status == 200, 30, "moto")

        recorder = Recorder({"ecs": lab_port, "AnyScaleFrontendService": moto_port, "AmazonSSM": moto_port})
        policy = os.path.join(work, "policies.yaml")
        with open(policy, "w") as handle:
            handle.write(POLICY)
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": work, "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ACCESS_KEY_ID": "AKIARECORDER", "AWS_SECRET_ACCESS_KEY": "recorder-secret", "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL_ECS": recorder.url, "AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING": recorder.url,
            "AWS_ENDPOINT_URL_SSM": recorder.url,
            "REDIS_URL": redis_url,
        }

        # One long query keeps the adhoc task's worker busy; two more wait behind it.
        def lab_report():
            return json.load(urllib.request.urlopen(f"http://127.0.0.1:{lab_port}/_report", timeout=2))
        subprocess.run([os.path.join(VENV, "python"), LAB, "enqueue", redis_url, "queries", "12", "4", "4"], check=True, stdout=subprocess.DEVNULL)
        wait_for(lambda: lab_report()["services"]["redash-adhoc-worker"]["jobsRunning"] >= 1, 30, "a busy RQ worker")

        def run(command, arguments, expect_success=True):
            recorder.command = command
            result = subprocess.run([binary] + arguments + ["--policies", policy], env=environment, capture_output=True, text=True, timeout=60)
            if expect_success and result.returncode != 0:
                sys.exit(f"record-calls: `{command}` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
            print(f"record-calls: {command}: exit {result.returncode}, {sum(c['command'] == command for c in recorder.calls)} AWS requests")

        def run_for(command, arguments, seconds, policies=policy):
            recorder.command = command
            log = open(os.path.join(work, command.replace(" ", "_").replace(":", "") + ".log"), "w")
            process = subprocess.Popen([binary] + arguments + ["--policies", policies, "--listen", f"127.0.0.1:{free_port()}"],
                                       env=environment, stdout=log, stderr=subprocess.STDOUT)
            time.sleep(seconds)
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
            print(f"record-calls: {command}: ran {seconds} s, {sum(c['command'] == command for c in recorder.calls)} AWS requests")

        run("queues", ["queues"])
        run("services", ["services"])
        run("plan", ["plan"])
        # forecast reads PostgreSQL and Redis only; without a database it stops before anything.
        run("forecast", ["forecast", "--database", "postgresql://nobody@127.0.0.1:1/none"], expect_success=False)
        run_for("run --dry-run", ["run", "--dry-run"], 6)
        # Live: two jobs wait, so it scales up, protects the busy task, and once the queue is
        # empty releases the protection and scales in.
        run_for("run", ["run"], 24)
        # The policy in Parameter Store: read at start, then polled every second.
        import boto3
        boto3.client("ssm", endpoint_url=f"http://127.0.0.1:{moto_port}", region_name=REGION, aws_access_key_id="testing",
                     aws_secret_access_key="testing").put_parameter(Name=PARAMETER, Value=POLICY, Type="SecureString")
        run_for("run --policies ssm:", ["run", "--policy-poll", "1s"], 5, policies=f"ssm:{PARAMETER}")
        if sum(c["command"] == "run --policies ssm:" and c["target"] == "AmazonSSM.GetParameter" for c in recorder.calls) < 2:
            sys.exit("record-calls: `run --policies ssm:` did not read its parameter at start and at a poll")
        # The SSM kill switch, pulled: read every tick, nothing written.
        boto3.client("ssm", endpoint_url=f"http://127.0.0.1:{moto_port}", region_name=REGION, aws_access_key_id="testing",
                     aws_secret_access_key="testing").put_parameter(Name=KILL_SWITCH, Value="paused", Type="String")
        with_switch = os.path.join(work, "policies-kill-switch.yaml")
        with open(with_switch, "w") as handle:
            handle.write(f"killSwitch: ssm:{KILL_SWITCH}\n" + POLICY)
        run_for("run --kill-switch ssm:", ["run"], 5, policies=with_switch)
        if sum(c["command"] == "run --kill-switch ssm:" and c["target"] == "AmazonSSM.GetParameter" and c["body"].get("Name") == KILL_SWITCH
               for c in recorder.calls) < 2:
            sys.exit("record-calls: `run --kill-switch ssm:` did not read the kill switch every tick")
        service = lab_report()["services"]["redash-adhoc-worker"]
        print(f"record-calls: the lab saw {service}")
        with open(output, "w") as handle:
            json.dump({"region": REGION, "account": ACCOUNT, "cluster": CLUSTER, "parameter": PARAMETER, "kill_switch": KILL_SWITCH,
                       "calls": recorder.calls}, handle, indent=1)
    finally:
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


if __name__ == "__main__":
    main(*sys.argv[1:3])
