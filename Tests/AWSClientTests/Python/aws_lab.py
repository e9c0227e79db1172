"""Test fixtures for the AWS client, driven by the Swift tests.

  moto-setup   creates IAM users from deploy/iam/controller-policy.json (and a read-only cut of
               it) in a moto server with IAM authentication on, plus a cluster, services, tasks
               and scaling targets; prints the users' keys as JSON.
  serve        a local HTTP server playing the ECS container credentials endpoint, EC2 IMDSv2,
               and an ECS stand-in for the calls moto lacks (task protection) with injectable
               faults (throttling, 5xx, HTML 403, slow answers, clock skew).
"""
import argparse
import json
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def render_policy(template_path, region, cluster, services, account="123456789012", for_moto=True):
    """Renders deploy/iam/controller-policy.json.tftpl as the Terraform module does (its only
    template syntax is ${name}). moto checks every ECS request against the resource "*", not the
    ARNs AWS uses, so for moto the resources are rendered as "*": moto then enforces the actions,
    which is what these tests can check; the ARNs are checked by the deploy test instead."""
    with open(template_path) as handle:
        text = handle.read()
    values = {
        "service_arns": json.dumps([f"arn:aws:ecs:{region}:{account}:service/{cluster}/{name}" for name in services]),
        "cluster_arn": f"arn:aws:ecs:{region}:{account}:cluster/{cluster}",
        "task_arns": f"arn:aws:ecs:{region}:{account}:task/{cluster}/*",
    }
    if for_moto:
        values["service_arns"] = '"*"'
        values["task_arns"] = "*"
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    if "${" in text:
        raise SystemExit(f"{template_path}: a template variable was left unrendered")
    return json.loads(text)


def moto_setup(args):
    import boto3

    def client(service, key="AKIABOOTSTRAP", secret="bootstrap"):
        return boto3.client(service, endpoint_url=args.endpoint, region_name=args.region,
                            aws_access_key_id=key, aws_secret_access_key=secret)

    # The first four calls are unauthenticated (INITIAL_NO_AUTH_ACTION_COUNT=4): they make an
    # administrator whose keys make everything else.
    iam = client("iam")
    iam.create_user(UserName="lab-admin")
    admin_policy = iam.create_policy(PolicyName="lab-admin", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="lab-admin", PolicyArn=admin_policy)
    admin = iam.create_access_key(UserName="lab-admin")["AccessKey"]
    creds = (admin["AccessKeyId"], admin["SecretAccessKey"])
    iam = client("iam", *creds)

    document = render_policy(args.policy, args.region, args.cluster, args.services)
    read_only = json.loads(json.dumps(document))
    for statement in read_only["Statement"]:
        statement["Action"] = [a for a in statement["Action"] if not a.startswith("ecs:Update")]
    read_only["Statement"] = [s for s in read_only["Statement"] if s["Action"]]

    users = {"admin": {"accessKeyId": creds[0], "secretAccessKey": creds[1]}}
    for name, policy in (("controller", document), ("readonly", read_only)):
        iam.create_user(UserName=name)
        arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(policy))["Policy"]["Arn"]
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        users[name] = {"accessKeyId": key["AccessKeyId"], "secretAccessKey": key["SecretAccessKey"]}
    # The controller reads its policy from Parameter Store when the Terraform module puts it
    # there: the module adds this document to the task role; the read-only user goes without,
    # which is how the tests see a denied GetParameter.
    if args.parameter_policy:
        with open(args.parameter_policy) as handle:
            text = handle.read().replace("${parameter_arn}", "*")
        arn = iam.create_policy(PolicyName="controller-policy-parameter", PolicyDocument=text)["Policy"]["Arn"]
        iam.attach_user_policy(UserName="controller", PolicyArn=arn)

    # The same permissions as a role, and a "laptop" user that may only assume it: how an SRE
    # with a role_arn profile reaches a production account. The trust policy names the user
    # (moto matches principals literally; AWS would also accept the account's root).
    laptop = iam.create_user(UserName="laptop")["User"]
    # A managed policy with Resource "*": moto's check skips inline user policies and compares
    # every request with "*" (see render_policy), not with the role's ARN.
    assume = iam.create_policy(PolicyName="laptop-assume", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="laptop", PolicyArn=assume)
    key = iam.create_access_key(UserName="laptop")["AccessKey"]
    users["laptop"] = {"accessKeyId": key["AccessKeyId"], "secretAccessKey": key["SecretAccessKey"]}
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                      "Principal": {"AWS": laptop["Arn"]}}]}
    role = iam.create_role(RoleName="redash-autoscaler", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    controller_policy = iam.create_policy(PolicyName="controller-role", PolicyDocument=json.dumps(document))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="redash-autoscaler", PolicyArn=controller_policy)
    users["roleArn"] = role["Arn"]

    ecs = client("ecs", *creds)
    ecs.create_cluster(clusterName=args.cluster)
    ecs.register_task_definition(family="redash-worker", networkMode="bridge",
                                 containerDefinitions=[{"name": "worker", "image": "redash/redash", "memory": 256}])
    for index, name in enumerate(args.services):
        ecs.create_service(cluster=args.cluster, serviceName=name, taskDefinition="redash-worker",
                           desiredCount=1 + index % 3, launchType="EC2")
    if args.tasks:
        ec2 = client("ec2", *creds)
        instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]
        ecs.register_container_instance(cluster=args.cluster, instanceIdentityDocument=json.dumps(
            {"instanceId": instance["InstanceId"], "region": args.region, "privateIp": instance["PrivateIpAddress"]}))
        tasks = ecs.run_task(cluster=args.cluster, taskDefinition="redash-worker", count=args.tasks,
                             launchType="EC2", startedBy=args.services[0], group=f"service:{args.services[0]}")["tasks"]
        users["tasks"] = [task["taskArn"] for task in tasks]
    scaling = client("application-autoscaling", *creds)
    for name in args.scalable_target:
        scaling.register_scalable_target(ServiceNamespace="ecs", ResourceId=f"service/{args.cluster}/{name}",
                                         ScalableDimension="ecs:service:DesiredCount", MinCapacity=1, MaxCapacity=10)
    json.dump(users, sys.stdout)


class Lab:
    """State shared by the request handlers."""

    def __init__(self, container_token, lifetime):
        self.lock = threading.Lock()
        self.container_token = container_token
        self.lifetime = lifetime
        self.served = 0
        self.imds_tokens = set()
        self.token_count = 0
        self.faults = []          # canned answers served before the real ones
        self.requests = []        # (path, target) of every request
        self.protection = {}      # task arn -> (enabled, expires epoch)
        self.known_tasks = set()

    def credentials(self, prefix):
        with self.lock:
            self.served += 1
            serial = self.served
        expires = datetime.now(timezone.utc) + timedelta(seconds=self.lifetime)
        return {"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": f"{prefix}{serial:04d}",
                "SecretAccessKey": f"secret-{serial}", "Token": f"token-{serial}",
                "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}


def make_handler(lab):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status, body, content_type="application/json", headers=()):
            data = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
            # A canned Date replaces the real one (send_response would add the real one first).
            if any(name == "Date" for name, _ in headers):
                self.send_response_only(status)
            else:
                self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def body(self):
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def do_PUT(self):
            self.body()
            if self.path == "/latest/api/token":
                if not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                    return self.answer(400, "missing ttl", "text/plain")
                with lab.lock:
                    lab.token_count += 1
                    token = f"imds-token-{lab.token_count}"
                    lab.imds_tokens.add(token)
                return self.answer(200, token, "text/plain")
            self.answer(404, "not found", "text/plain")

        def do_GET(self):
            lab.requests.append((self.path, None))
            if self.path == "/container-credentials":
                if lab.container_token and self.headers.get("Authorization") != lab.container_token:
                    return self.answer(403, {"message": "invalid authorization token"})
                return self.answer(200, lab.credentials("ASIACONTAINER"))
            if self.path.startswith("/latest/meta-data/"):
                if self.headers.get("X-aws-ec2-metadata-token") not in lab.imds_tokens:
                    return self.answer(401, "", "text/plain")
                if self.path == "/latest/meta-data/iam/security-credentials/":
                    return self.answer(200, "redash-autoscaler-role", "text/plain")
                if self.path == "/latest/meta-data/iam/security-credentials/redash-autoscaler-role":
                    return self.answer(200, lab.credentials("ASIAIMDS"))
            if self.path == "/_requests":
                return self.answer(200, {"requests": [list(r) for r in lab.requests], "served": lab.served})
            self.answer(404, "not found", "text/plain")

        def do_POST(self):
            raw = self.body()
            if self.path == "/_faults":
                lab.faults.extend(json.loads(raw))
                return self.answer(200, {})
            if self.path == "/_expire-imds-tokens":
                lab.imds_tokens.clear()
                return self.answer(200, {})
            if self.path == "/_tasks":
                lab.known_tasks.update(json.loads(raw))
                return self.answer(200, {})
            target = self.headers.get("X-Amz-Target", "")
            lab.requests.append((self.path, target))
            if not self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 Credential="):
                return self.answer(400, {"__type": "MissingAuthenticationTokenException", "message": "Missing Authentication Token"})
            if lab.faults:
                fault = lab.faults.pop(0)
                time.sleep(fault.get("delay", 0))
                headers = [("Date", fault["date"])] if "date" in fault else []
                return self.answer(fault["status"], fault.get("body", ""), fault.get("contentType", "application/x-amz-json-1.1"), headers)
            request = json.loads(raw or b"{}")
            action = target.rsplit(".", 1)[-1]
            if action == "UpdateTaskProtection":
                minutes = request.get("expiresInMinutes", 120)
                if request.get("protectionEnabled") and not 1 <= minutes <= 2880:
                    return self.answer(400, {"__type": "InvalidParameterException", "message": "expiresInMinutes must be 1-2880"})
                return self.answer(200, self.protect(request["tasks"], bool(request.get("protectionEnabled")), minutes))
            if action == "GetTaskProtection":
                return self.answer(200, self.protect(request["tasks"], None, None))
            if action == "DescribeServices":
                return self.answer(200, {"services": [
                    {"serviceName": name, "status": "ACTIVE", "desiredCount": 2, "runningCount": 2, "pendingCount": 0,
                     "deployments": [{"id": "ecs-svc/1", "status": "PRIMARY", "desiredCount": 2, "runningCount": 2,
                                      "pendingCount": 0, "rolloutState": "COMPLETED", "createdAt": 1795400000.5}]}
                    for name in request["services"]], "failures": []})
            self.answer(400, {"__type": "InvalidAction", "message": f"the stand-in does not implement {action}"})

        def protect(self, tasks, enabled, minutes):
            protected, failures = [], []
            for arn in tasks:
                if arn not in lab.known_tasks:
                    failures.append({"arn": arn, "reason": "TASK_NOT_VALID"})
                    continue
                if enabled is not None:
                    lab.protection[arn] = (enabled, time.time() + minutes * 60 if enabled else None)
                state, expires = lab.protection.get(arn, (False, None))
                entry = {"taskArn": arn, "protectionEnabled": state}
                if expires:
                    entry["expirationDate"] = expires
                protected.append(entry)
            return {"protectedTasks": protected, "failures": failures}

    return Handler


def serve(args):
    lab = Lab(args.container_token, args.lifetime)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(lab))
    server.serve_forever()


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    setup = commands.add_parser("moto-setup")
    setup.add_argument("--endpoint", required=True)
    setup.add_argument("--region", default="eu-west-1")
    setup.add_argument("--policy", required=True)
    setup.add_argument("--parameter-policy")
    setup.add_argument("--cluster", default="redash")
    setup.add_argument("--services", nargs="+", required=True)
    setup.add_argument("--tasks", type=int, default=0)
    setup.add_argument("--scalable-target", nargs="*", default=[])
    server = commands.add_parser("serve")
    server.add_argument("--port", type=int, required=True)
    server.add_argument("--container-token", default="")
    server.add_argument("--lifetime", type=int, default=3600, help="seconds credentials stay valid")
    args = parser.parse_args()
    {"moto-setup": moto_setup, "serve": serve}[args.command](args)


if __name__ == "__main__":
    main()
