"""Evaluates the shipped IAM policies against the requests the binary really sent (recorded by
record_calls.py), with iam_eval.py:

- every request of every command is allowed by the controller's policy
  (deploy/iam/controller-policy.json.tftpl): a call without its permission fails;
- every action and every resource pattern the policy grants is used by some request: a
  permission without its call fails;
- the read-only policy (deploy/iam/dry-run-policy.json.tftpl) allows every request of `queues`,
  `services`, `plan`, `forecast` and `run --dry-run`, grants nothing else, and denies every
  write the live `run` sends;
- the ARN scoping holds: the same requests for a service outside the policy, another cluster,
  another account or another region are denied; so is GetParameter on another parameter (the
  database URL's, which only the execution role reads).
The controller's policy is the task role's documents together, as IAM unions a role's
policies: controller-policy.json.tftpl; policy-parameter-policy.json.tftpl, which the module adds
when the policy lives in Parameter Store (`run --policies ssm:`); kill-switch-parameter-policy.json.tftpl,
which it adds with kill_switch_parameter (`run --kill-switch ssm:`, a policy whose killSwitch is
that parameter). So each parameter grant is proven used by the requests for its own parameter,
and denied for the other parameters.
ECS Exec's grant (ecs-exec-policy.json, with enable_execute_command) is used by the ECS Exec
agent, not by the controller, so no recorded request can prove it: it is checked to be exactly
the four ssmmessages actions AWS documents for ECS Exec, on "*", and nothing else.
Then it checks itself: the same checks on a policy with one permission removed, one added, and
on a recording with one more call, must fail.

  check_iam.py RECORDING.json
"""
import copy
import json
import os
import sys

from iam_eval import ALLOW, NO_RESOURCE, evaluate

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
READ_ONLY_COMMANDS = ["queues", "services", "plan", "forecast", "run --dry-run"]
# The services of record_calls.py's policy: the module renders the role for exactly these.
POLICY_SERVICES = ["redash-adhoc-worker", "redash-scheduled-worker"]


EXEC_ACTIONS = ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"]


def render(template, region, account, cluster, services, parameter="/redash-autoscaler/policy"):
    """As the module's templatefile() does (the templates' only syntax is ${name})."""
    text = open(os.path.join(REPO, "deploy/iam", template)).read()
    prefix = f"arn:aws:ecs:{region}:{account}"
    values = {
        "service_arns": json.dumps([f"{prefix}:service/{cluster}/{name}" for name in services]),
        "cluster_arn": f"{prefix}:cluster/{cluster}",
        "task_arns": f"{prefix}:task/{cluster}/*",
        "parameter_arn": _parameter_arn(prefix, parameter),
    }
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    assert "${" not in text, f"{template}: a template variable was left unrendered"
    return json.loads(text)


# What IAM authorizes for each call, from the Service Authorization Reference (ECS: "Actions
# defined by Amazon Elastic Container Service"; Application Auto Scaling likewise): the action,
# the ARNs of the resources the request names, and the condition keys it carries. A call that
# is not here fails the check until someone looks it up and adds it.
def _cluster(body):
    cluster = body.get("cluster", "default")
    return cluster.rsplit("/", 1)[-1] if cluster.startswith("arn:") else cluster


def _parameter_arn(prefix, name):
    """GetParameter's Name (a name or an ARN) as the resource IAM checks: parameter/NAME."""
    if name.startswith("arn:"):
        return name
    return prefix.replace(":ecs:", ":ssm:", 1) + ":parameter/" + name.lstrip("/")


def _task_arn(prefix, cluster, task):
    return task if task.startswith("arn:") else f"{prefix}:task/{cluster}/{task}"


AUTHORIZATION = {
    # Resource type service*, condition key ecs:cluster.
    "AmazonEC2ContainerServiceV20141113.DescribeServices": (
        "ecs:DescribeServices", lambda p, c, b: [f"{p}:service/{c}/{s}" for s in b["services"]]),
    "AmazonEC2ContainerServiceV20141113.UpdateService": (
        "ecs:UpdateService", lambda p, c, b: [f"{p}:service/{c}/{b['service']}"]),
    # The reference names container-instance as ListTasks' resource type; a cluster-wide listing
    # names no container instance, so only Resource "*" covers it, narrowed by ecs:cluster.
    "AmazonEC2ContainerServiceV20141113.ListTasks": ("ecs:ListTasks", lambda p, c, b: [NO_RESOURCE]),
    # Resource type task*, condition key ecs:cluster.
    "AmazonEC2ContainerServiceV20141113.DescribeTasks": (
        "ecs:DescribeTasks", lambda p, c, b: [_task_arn(p, c, t) for t in b["tasks"]]),
    "AmazonEC2ContainerServiceV20141113.GetTaskProtection": (
        "ecs:GetTaskProtection", lambda p, c, b: [_task_arn(p, c, t) for t in b["tasks"]]),
    "AmazonEC2ContainerServiceV20141113.UpdateTaskProtection": (
        "ecs:UpdateTaskProtection", lambda p, c, b: [_task_arn(p, c, t) for t in b["tasks"]]),
    # No resource type: Resource must be "*".
    "AnyScaleFrontendService.DescribeScalableTargets": ("application-autoscaling:DescribeScalableTargets", lambda p, c, b: [NO_RESOURCE]),
    # Systems Manager: resource type parameter* (arn:…:ssm:REGION:ACCOUNT:parameter/NAME).
    "AmazonSSM.GetParameter": ("ssm:GetParameter", lambda p, c, b: [_parameter_arn(p, b["Name"])]),
}


def requests_of(recording):
    """(command, action, resource, context) for every resource of every recorded call."""
    region, account = recording["region"], recording["account"]
    prefix = f"arn:aws:ecs:{region}:{account}"
    result, unknown = [], []
    for call in recording["calls"]:
        if call["target"] not in AUTHORIZATION:
            unknown.append(call["target"])
            continue
        action, resources = AUTHORIZATION[call["target"]]
        context = {"aws:RequestedRegion": region}
        cluster = None
        if action.startswith("ecs:"):
            cluster = _cluster(call["body"])
            context["ecs:cluster"] = f"{prefix}:cluster/{cluster}"
        for resource in resources(prefix, cluster, call["body"]):
            result.append((call["command"], action, resource, context))
    return result, unknown


def actions_of(document):
    return {action for statement in document["Statement"] for action in statement["Action"]}


def problems(recording, controller, dry_run):
    """Everything wrong, as sentences; empty when the policies and the calls agree."""
    found = []
    requests, unknown = requests_of(recording)
    for target in sorted(set(unknown)):
        found.append(f"a call with no entry in AUTHORIZATION (look it up in the Service Authorization Reference): {target}")
    # queues and forecast read Redis and PostgreSQL only: they are expected to send nothing.
    for command in ["services", "plan", "run --dry-run", "run", "run --policies ssm:", "run --kill-switch ssm:"]:
        if command not in {call["command"] for call in recording["calls"]}:
            found.append(f"no request of `{command}` was recorded")

    used_statements = {}
    for command, action, resource, context in requests:
        decision, sids = evaluate(controller, action, resource, context)
        if decision != ALLOW:
            found.append(f"controller policy: {decision} for {action} on {resource or '(no resource)'} sent by `{command}`: a call without its permission")
        for sid in sids:
            used_statements.setdefault(sid, set()).add(action)
        if command in READ_ONLY_COMMANDS:
            decision, _ = evaluate(dry_run, action, resource, context)
            if decision != ALLOW:
                found.append(f"read-only policy: {decision} for {action} on {resource or '(no resource)'} sent by `{command}`")
        elif action not in {a for c, a, *_ in requests if c in READ_ONLY_COMMANDS}:
            decision, _ = evaluate(dry_run, action, resource, context)
            if decision == ALLOW:
                found.append(f"read-only policy allows the write {action} that only `run` sends")

    called = {action for _, action, *_ in requests}
    for action in sorted(actions_of(controller) - called):
        found.append(f"controller policy grants {action}, which no command called: a permission without its call")
    read_only_called = {action for command, action, *_ in requests if command in READ_ONLY_COMMANDS}
    for action in sorted(actions_of(dry_run) - read_only_called):
        found.append(f"read-only policy grants {action}, which no read-only command called")
    for action in sorted(read_only_called - actions_of(dry_run)):
        found.append(f"read-only policy lacks {action}, which a read-only command called")

    # Each resource pattern must cover some request, or it grants something nothing uses.
    for statement in controller["Statement"]:
        for pattern in statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]:
            single = dict(statement, Resource=pattern)
            if not any(evaluate({"Version": "2012-10-17", "Statement": [single]}, a, r, c)[0] == ALLOW for _, a, r, c in requests):
                found.append(f"controller policy: statement {statement.get('Sid')} grants {pattern}, which no request used")

    # Scoping: the same requests elsewhere are denied.
    region, account, cluster = recording["region"], recording["account"], recording["cluster"]
    for command, action, resource, context in requests:
        variants = []
        if resource is not NO_RESOURCE and ":service/" in resource:
            variants.append((resource.rsplit("/", 1)[0] + "/redash-server", context, "a service outside the policy"))
        if resource is not NO_RESOURCE:
            variants.append((resource.replace(f":{account}:", ":210987654321:"), context, "another account"))
            variants.append((resource.replace(f":{region}:", ":us-east-1:"), context, "another region"))
            if "ecs:cluster" in context:
                variants.append((resource.replace(f"/{cluster}/", "/staging/"), dict(context, **{"ecs:cluster": context["ecs:cluster"].replace(cluster, "staging")}), "another cluster"))
            if ":parameter/" in resource:
                variants.append((resource.split(":parameter/", 1)[0] + ":parameter/redash/REDASH_DATABASE_URL", context, "another parameter"))
        elif "ecs:cluster" in context:
            variants.append((resource, dict(context, **{"ecs:cluster": context["ecs:cluster"].replace(f"/{cluster}", "/staging")}), "another cluster"))
        for other, other_context, what in variants:
            for name, document in (("controller", controller), ("read-only", dry_run)):
                if evaluate(document, action, other, other_context)[0] == ALLOW:
                    found.append(f"{name} policy allows {action} on {other or '(no resource)'} ({what})")
    return sorted(set(found))


def exec_problems(document):
    """ECS Exec's grant: one Allow of exactly the four ssmmessages actions on "*" (they take no
    resource), and nothing the controller itself could use."""
    found = []
    statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
    if len(statements) != 1:
        found.append(f"ECS Exec policy: {len(statements)} statements, expected 1")
    for statement in statements:
        actions = sorted(statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
        if statement.get("Effect") != "Allow" or actions != EXEC_ACTIONS or statement.get("Resource") != "*" or "Condition" in statement:
            found.append(f"ECS Exec policy grants {statement.get('Effect')} {actions} on {statement.get('Resource')}, not exactly {EXEC_ACTIONS} on *")
    return found


def main(path):
    recording = json.load(open(path))
    region, account, cluster = recording["region"], recording["account"], recording["cluster"]
    controller = render("controller-policy.json.tftpl", region, account, cluster, POLICY_SERVICES)
    parameter = render("policy-parameter-policy.json.tftpl", region, account, cluster, POLICY_SERVICES, recording["parameter"])
    kill_switch = render("kill-switch-parameter-policy.json.tftpl", region, account, cluster, POLICY_SERVICES, recording["kill_switch"])
    controller["Statement"] += parameter["Statement"] + kill_switch["Statement"]
    ecs_exec = json.load(open(os.path.join(REPO, "deploy/iam/ecs-exec-policy.json")))
    dry_run = render("dry-run-policy.json.tftpl", region, account, cluster, POLICY_SERVICES)
    requests, _ = requests_of(recording)

    print("check-iam: recorded requests per command (action: count):")
    for command in READ_ONLY_COMMANDS + ["run", "run --policies ssm:", "run --kill-switch ssm:"]:
        counts = {}
        for c, action, *_ in requests:
            if c == command:
                counts[action] = counts.get(action, 0) + 1
        print(f"check-iam:   {command:22} {', '.join(f'{a}: {n}' for a, n in sorted(counts.items())) or 'no AWS request'}")

    found = problems(recording, controller, dry_run) + exec_problems(ecs_exec)
    for problem in found:
        print(f"check-iam: FAIL: {problem}")
    if found:
        sys.exit(1)
    print(f"check-iam: {len(requests)} requests evaluated: all allowed by the controller policy, the read-only ones by the "
          "read-only policy, every granted action and resource used (ssm:GetParameter on the policy parameter and on the kill-switch "
          "parameter, each by the requests for it), and none allowed on other services, clusters, accounts, regions or parameters; "
          f"the ECS Exec grant is exactly {', '.join(EXEC_ACTIONS)} on *")

    # The checks must be able to fail: a permission removed, a permission added, a call added.
    mutations = []
    fewer = copy.deepcopy(controller)
    fewer["Statement"][0]["Action"] = [a for a in fewer["Statement"][0]["Action"] if a != "ecs:UpdateService"]
    mutations.append(("ecs:UpdateService removed from the controller policy", fewer, dry_run, recording))
    more = copy.deepcopy(controller)
    more["Statement"][0]["Action"].append("ecs:DeleteService")
    mutations.append(("ecs:DeleteService added to the controller policy", more, dry_run, recording))
    wider = copy.deepcopy(dry_run)
    wider["Statement"][0]["Action"].append("ecs:UpdateService")
    mutations.append(("ecs:UpdateService added to the read-only policy", controller, wider, recording))
    extra = copy.deepcopy(recording)
    extra["calls"].append({"command": "run", "target": "AmazonEC2ContainerServiceV20141113.DescribeTasks",
                           "body": {"cluster": "redash", "tasks": ["arn:aws:ecs:%s:%s:task/other/1" % (region, account)]}, "status": 200})
    mutations.append(("a DescribeTasks on another cluster's task added to the calls", controller, dry_run, extra))
    for sid, what in (("ReadThePolicyParameter", "the policy's"), ("ReadTheKillSwitchParameter", "the kill switch's")):
        any_parameter = copy.deepcopy(controller)
        statement = next(s for s in any_parameter["Statement"] if s.get("Sid") == sid)
        statement["Resource"] = statement["Resource"].rsplit(":parameter/", 1)[0] + ":parameter/*"
        mutations.append((f"ssm:GetParameter on every parameter instead of {what}", any_parameter, dry_run, recording))
    no_switch = copy.deepcopy(controller)
    no_switch["Statement"] = [s for s in no_switch["Statement"] if s.get("Sid") != "ReadTheKillSwitchParameter"]
    mutations.append(("the kill-switch parameter's grant removed", no_switch, dry_run, recording))
    unknown = copy.deepcopy(recording)
    unknown["calls"].append({"command": "run", "target": "AmazonEC2ContainerServiceV20141113.StopTask", "body": {"cluster": "redash", "task": "1"}, "status": 200})
    mutations.append(("a StopTask call added to the calls", controller, dry_run, unknown))
    wider_exec = copy.deepcopy(ecs_exec)
    wider_exec["Statement"][0]["Action"].append("ssm:GetParameter")
    caught = exec_problems(wider_exec)
    if not caught:
        sys.exit("check-iam: FAIL: the check did not notice ssm:GetParameter added to the ECS Exec policy")
    print(f"check-iam: with ssm:GetParameter added to the ECS Exec policy: fails as it must ({caught[0]})")
    for what, mutated_controller, mutated_dry_run, mutated_recording in mutations:
        caught = problems(mutated_recording, mutated_controller, mutated_dry_run)
        if not caught:
            sys.exit(f"check-iam: FAIL: the check did not notice {what}")
        print(f"check-iam: with {what}: fails as it must ({caught[0]})")
    print("check-iam: ok")


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main(sys.argv[1])
