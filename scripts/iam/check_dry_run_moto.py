"""The read-only policy (deploy/iam/dry-run-policy.json.tftpl) under moto's IAM authentication:
a user with only that policy runs `queues`, `services`, `plan` and `run --dry-run` of the real
binary with a busy RQ worker in Redis (so that `plan` and `run` list the service's tasks), and
they succeed; the same user's writes (UpdateService, and the policy's own DeleteService) are
denied. moto compares ECS requests with the resource "*" only, so here the policy's resources
are "*" and moto enforces its actions; the ARNs are check_iam.py's part. `forecast` makes no AWS
request (check_iam.py records that) and needs Redash's database, so it does not run here.

  check_dry_run_moto.py BINARY
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import boto3
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LAB = os.path.join(REPO, "Tests/ControllerTests/Python/ecs_lab.py")
VENV = os.path.join(REPO, ".venv/bin")
REGION, CLUSTER, SERVICES = "eu-west-1", "redash", ["redash-adhoc-worker", "redash-scheduled-worker"]
# Issue 15 item 5: a dry-run whose role lacks a permission must log the AWS error and the missing
# action at the default level, once a minute rather than once a tick. Measured here on every run;
# a failure when it does not.
ENFORCE_LOUD_DENIALS = True


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
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.2)
    sys.exit(f"check-dry-run-policy: timed out waiting for {what}")


def main(binary):
    processes, work = [], tempfile.mkdtemp(prefix="redash-autoscaler-dry-run-")

    def start(arguments, env=None):
        process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                   env={**os.environ, **(env or {})})
        processes.append(process)
        return process

    try:
        moto_port, redis_port = free_port(), free_port()
        endpoint, redis_url = f"http://127.0.0.1:{moto_port}", f"redis://127.0.0.1:{redis_port}/0"
        start([os.path.join(VENV, "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
              env={"INITIAL_NO_AUTH_ACTION_COUNT": "4", "MOTO_ECS_SERVICE_RUNNING": "100"})
        start(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--protected-mode", "no", "--save", "", "--appendonly", "no"])
        wait_for(lambda: urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=1), 30, "moto")
        wait_for(lambda: socket.create_connection(("127.0.0.1", redis_port), 1).close() is None, 20, "redis-server")

        def client(service, key, secret):
            return boto3.client(service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id=key, aws_secret_access_key=secret)

        # The first four requests are free: they make an administrator.
        iam = client("iam", "AKIABOOTSTRAP", "bootstrap")
        iam.create_user(UserName="admin")
        arn = iam.create_policy(PolicyName="admin", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))["Policy"]["Arn"]
        iam.attach_user_policy(UserName="admin", PolicyArn=arn)
        admin = iam.create_access_key(UserName="admin")["AccessKey"]
        admin = (admin["AccessKeyId"], admin["SecretAccessKey"])

        policy_text = open(os.path.join(REPO, "deploy/iam/dry-run-policy.json.tftpl")).read()
        for name, value in {"service_arns": '"*"', "cluster_arn": f"arn:aws:ecs:{REGION}:123456789012:cluster/{CLUSTER}", "task_arns": "*"}.items():
            policy_text = policy_text.replace("${" + name + "}", value)
        iam = client("iam", *admin)
        iam.create_user(UserName="dry-run")
        arn = iam.create_policy(PolicyName="dry-run", PolicyDocument=policy_text)["Policy"]["Arn"]
        iam.attach_user_policy(UserName="dry-run", PolicyArn=arn)
        key = iam.create_access_key(UserName="dry-run")["AccessKey"]
        reader = (key["AccessKeyId"], key["SecretAccessKey"])

        ecs = client("ecs", *admin)
        ecs.create_cluster(clusterName=CLUSTER)
        ecs.register_task_definition(family="redash-worker", networkMode="bridge", containerDefinitions=[{"name": "worker", "image": "redash/redash", "memory": 256}])
        for name in SERVICES:
            ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition="redash-worker", desiredCount=1, launchType="EC2")

        # A busy worker: `plan` and `run` then list the adhoc service's tasks.
        start([os.path.join(VENV, "python"), LAB, "worker", redis_url, "queries", "busy-worker", "127.0.0.1"], env={"PYTHONPATH": os.path.dirname(LAB)})
        subprocess.run([os.path.join(VENV, "python"), LAB, "enqueue", redis_url, "queries", "60", "5"], check=True, stdout=subprocess.DEVNULL,
                       env={**os.environ, "PYTHONPATH": os.path.dirname(LAB)})

        def busy():
            from redis import Redis
            connection = Redis.from_url(redis_url)
            return any(connection.hget(worker, "state") == b"busy" for worker in connection.smembers("rq:workers"))
        wait_for(busy, 30, "a busy RQ worker")

        policy = os.path.join(work, "policies.yaml")
        with open(policy, "w") as handle:
            handle.write(f"cluster: {CLUSTER}\ninterval: 1s\nredis:\n  url: {redis_url}\n  layout: rq\nservices:\n"
                         "  redash-adhoc-worker:\n    queues: [queries]\n    minTasks: 1\n    maxTasks: 4\n    workersPerTask: 1\n"
                         "  redash-scheduled-worker:\n    queues: [scheduled_queries]\n    minTasks: 1\n    maxTasks: 2\n    workersPerTask: 1\n")
        environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": work, "AWS_EC2_METADATA_DISABLED": "true",
                       "AWS_ACCESS_KEY_ID": reader[0], "AWS_SECRET_ACCESS_KEY": reader[1], "AWS_REGION": REGION, "AWS_ENDPOINT_URL": endpoint}
        failures = []
        for command in (["queues"], ["services"], ["plan"]):
            result = subprocess.run([binary] + command + ["--policies", policy], env=environment, capture_output=True, text=True, timeout=60)
            status = "ok" if result.returncode == 0 else f"FAILED ({result.returncode})"
            print(f"check-dry-run-policy: {' '.join(command)} with the read-only user: {status}")
            if result.returncode != 0:
                failures.append(f"{command}: {result.stdout[-1500:]}{result.stderr[-1500:]}")

        port = free_port()
        log = open(os.path.join(work, "run.log"), "w+")
        process = subprocess.Popen([binary, "run", "--dry-run", "--policies", policy, "--listen", f"127.0.0.1:{port}", "--log-level", "debug"],
                                   env=environment, stdout=log, stderr=subprocess.STDOUT)
        ready = None
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                ready = urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2).status
                break
            except (OSError, urllib.error.URLError):
                time.sleep(0.5)
        time.sleep(3)
        status = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=2)) if ready == 200 else None
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        log.seek(0)
        text = log.read()
        denied = [line for line in text.splitlines() if "AccessDenied" in line or "not authorized" in line]
        print(f"check-dry-run-policy: run --dry-run with the read-only user: /readyz {ready}, AccessDenied lines in its log: {len(denied)}")
        if ready != 200 or denied:
            failures.append(f"run --dry-run: /readyz {ready}; {denied[:3]}; {text[-2000:]}")

        # A role without ecs:ListTasks: what does a dry-run say about it at the default level?
        narrow = json.loads(policy_text)
        for statement in narrow["Statement"]:
            statement["Action"] = [a for a in statement["Action"] if a != "ecs:ListTasks"]
        narrow["Statement"] = [st for st in narrow["Statement"] if st["Action"]]
        iam.create_user(UserName="dry-run-without-listtasks")
        arn = iam.create_policy(PolicyName="dry-run-without-listtasks", PolicyDocument=json.dumps(narrow))["Policy"]["Arn"]
        iam.attach_user_policy(UserName="dry-run-without-listtasks", PolicyArn=arn)
        key = iam.create_access_key(UserName="dry-run-without-listtasks")["AccessKey"]
        log = open(os.path.join(work, "run-narrow.log"), "w+")
        process = subprocess.Popen([binary, "run", "--dry-run", "--policies", policy, "--listen", f"127.0.0.1:{free_port()}", "--log-format", "text"],
                                   env={**environment, "AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]},
                                   stdout=log, stderr=subprocess.STDOUT)
        time.sleep(8)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        log.seek(0)
        naming = [line for line in log.read().splitlines() if "ecs:ListTasks" in line]
        loud = 1 <= len(naming) <= 2
        print(f"check-dry-run-policy: run --dry-run without ecs:ListTasks, default log level, 8 one-second ticks: "
              f"{len(naming)} log lines name ecs:ListTasks ({'loud and deduplicated' if loud else 'NOT as issue 15 item 5 asks: one line, repeated at most once a minute'}"
              f"{'' if ENFORCE_LOUD_DENIALS else '; not enforced yet'})")
        if ENFORCE_LOUD_DENIALS and not loud:
            failures.append(f"a dry-run lacking ecs:ListTasks logged {len(naming)} lines naming it: {naming[:3]}")
        # The fix it suggests is the read-only policy's, not the writing controller's.
        pointed = [line for line in naming if "dry-run-policy" in line]
        print(f"check-dry-run-policy: the fix points at the dry-run policy: {'yes' if pointed else 'NO'}")
        if not pointed:
            failures.append(f"a dry-run lacking ecs:ListTasks did not point at deploy/iam/dry-run-policy.json.tftpl: {naming[:2]}")

        # The writes the live controller makes are denied to the same user.
        writer = client("ecs", *reader)
        for what, call in (("UpdateService", lambda: writer.update_service(cluster=CLUSTER, service=SERVICES[0], desiredCount=3)),
                           ("DeleteService", lambda: writer.delete_service(cluster=CLUSTER, service=SERVICES[0], force=True))):
            try:
                call()
                failures.append(f"ecs:{what} was allowed to the read-only user")
                print(f"check-dry-run-policy: ecs:{what} with the read-only user: ALLOWED")
            except ClientError as error:
                # moto's IAM layer answers 403 with an XML body that botocore reads as code "403".
                code, message = error.response["Error"].get("Code"), error.response["Error"].get("Message", "")
                http = error.response["ResponseMetadata"]["HTTPStatusCode"]
                denial = "AccessDenied" if "AccessDenied" in code + message else code
                print(f"check-dry-run-policy: ecs:{what} with the read-only user: HTTP {http} {denial}")
                if http != 403 or ("AccessDenied" not in code and "not authorized" not in message):
                    failures.append(f"ecs:{what}: HTTP {http} {code}, not a denial")
        desired = ecs.describe_services(cluster=CLUSTER, services=[SERVICES[0]])["services"][0]["desiredCount"]
        if desired != 1:
            failures.append(f"{SERVICES[0]} desiredCount is {desired}: something wrote")
        for failure in failures:
            print(f"check-dry-run-policy: FAIL: {failure}")
        if failures:
            sys.exit(1)
        print("check-dry-run-policy: ok")
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
    main(sys.argv[1])
