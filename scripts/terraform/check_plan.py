"""Checks a `terraform show -json` plan of the module (standard input) for one of the cases
check-terraform.sh plans, so that a plan that "succeeds" with the wrong task definition or grants
fails here. Writes the rendered container definitions to CONTAINERS_OUT when given (for
check_firelens.py).

  terraform show -json plan.tfplan | check_plan.py CASE [CONTAINERS_OUT]

Cases:
  file-kill-switch    examples/basic with kill_switch = "file" and enable_execute_command
  datadog             the module with Datadog (env, version, tags), an existing kill-switch
                      parameter given by ARN with its KMS key, an existing policy parameter
  datadog-own         datadog.log_router = "own" and agent = "own": the team's router and agent
  datadog-cloudwatch  datadog.log_router = "none": CloudWatch Logs, the module's agent; the
                      endpoints on loopback (metrics_listen_address = "127.0.0.1")
"""
import json
import sys

REGION, ACCOUNT = "ap-northeast-1", "123456789012"
EXEC_ACTIONS = ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"]
EXEC_DIRECTORIES = {"/managed-agents", "/var/lib/amazon/ssm", "/var/log/amazon/ssm"}


def check(condition, message):
    if not condition:
        sys.exit(f"check-terraform: {message}")


def changes(plan, kind):
    return [c for c in plan["resource_changes"] if c["type"] == kind and c["change"]["actions"] != ["delete"]]


def role_policies(plan):
    """{policy name suffix: document} of the task role's inline policies (the execution role's
    read-secrets left out)."""
    found = {}
    for change in changes(plan, "aws_iam_role_policy"):
        after = change["change"]["after"]
        if change["name"] == "read_secrets":
            continue
        document = after.get("policy")
        found[after["name"].split("redash-autoscaler-", 1)[-1]] = json.loads(document) if document else None
    return found


def as_list(value):
    return value if isinstance(value, list) else [value]


def task_definition(plan):
    definitions = changes(plan, "aws_ecs_task_definition")
    check(len(definitions) == 1, f"{len(definitions)} task definitions planned")
    after = definitions[0]["change"]["after"]
    containers = json.loads(after["container_definitions"])
    return after, {c["name"]: c for c in containers}, containers


def environment(container):
    return {e["name"]: e["value"] for e in container.get("environment", [])}


def file_kill_switch(plan):
    after, containers, _ = task_definition(plan)
    controller = containers["controller"]
    check(controller["readonlyRootFilesystem"] is True, "the root filesystem is no longer read-only")
    mounts = {m["containerPath"]: m for m in controller.get("mountPoints", [])}
    volumes = {v["name"] for v in after.get("volume", [])}
    check(set(mounts) == EXEC_DIRECTORIES | {"/run/redash-autoscaler"}, f"mount points {sorted(mounts)}")
    check(all(m["readOnly"] is False and m["sourceVolume"] in volumes for m in mounts.values()), f"mounts {mounts} vs volumes {volumes}")
    check(all(not v.get("host_path") for v in after.get("volume", [])), "a volume has a host path (Fargate has none)")
    check(environment(controller).get("REDASH_AUTOSCALER_KILL_SWITCH") == "/run/redash-autoscaler/mode", f"environment {environment(controller)}")
    check(controller.get("linuxParameters", {}).get("initProcessEnabled") is True, "no init process for ECS Exec's agent")
    services = changes(plan, "aws_ecs_service")
    check(services[0]["change"]["after"]["enable_execute_command"] is True, "ECS Exec is off on the service")
    policies = role_policies(plan)
    check(set(policies) == {"scale-redash-services", "read-policy-parameter", "ecs-exec"}, f"task role policies {sorted(policies)}: a file kill switch needs no SSM grant")
    statements = policies["ecs-exec"]["Statement"]
    check(len(statements) == 1 and sorted(as_list(statements[0]["Action"])) == EXEC_ACTIONS and statements[0]["Resource"] == "*",
          f"the ECS Exec grant is {statements}, not exactly the four ssmmessages actions")
    check(not changes(plan, "aws_ssm_parameter") or all("mode" not in c["change"]["after"]["name"] for c in changes(plan, "aws_ssm_parameter")),
          "a kill-switch parameter was planned for a file kill switch")
    print(f"check-terraform: examples/basic with a file kill switch and ECS Exec: read-only root, writable volumes at {sorted(mounts)}, "
          "REDASH_AUTOSCALER_KILL_SWITCH=/run/redash-autoscaler/mode, ECS Exec on with exactly the four ssmmessages actions, no SSM grant for it")


def datadog(plan):
    _, containers, _ = task_definition(plan)
    check(sorted(containers) == ["controller", "datadog-agent", "log-router"], f"containers {sorted(containers)}")
    alarms = [c["address"] for c in changes(plan, "aws_cloudwatch_metric_alarm")]
    check(alarms == ["module.redash_autoscaler.aws_cloudwatch_metric_alarm.no_running_task[0]"], alarms)
    controller, agent = containers["controller"], containers["datadog-agent"]
    env = environment(controller)
    check({k: env.get(k) for k in ("DD_SERVICE", "DD_ENV", "DD_VERSION", "DD_TAGS")} ==
          {"DD_SERVICE": "redash-autoscaler", "DD_ENV": "staging", "DD_VERSION": "0.1.0", "DD_TAGS": "cost-center:data team:sre"},
          f"the controller's Datadog environment is {env}")
    agent_env = environment(agent)
    check(agent_env.get("DD_ENV") == "staging" and agent_env.get("DD_VERSION") == "0.1.0" and agent_env.get("DD_TAGS") == "cost-center:data team:sre",
          f"the agent's environment is {agent_env}")
    check(agent_env["DD_DOGSTATSD_TAGS"].split() == ["app:redash-autoscaler", "service:redash-autoscaler", "env:staging", "version:0.1.0", "cost-center:data", "team:sre"],
          f"DD_DOGSTATSD_TAGS {agent_env['DD_DOGSTATSD_TAGS']}")
    check(controller.get("dockerLabels") == {"com.datadoghq.tags.service": "redash-autoscaler", "com.datadoghq.tags.env": "staging", "com.datadoghq.tags.version": "0.1.0"},
          f"docker labels {controller.get('dockerLabels')}")
    options = controller["logConfiguration"]["options"]
    check(options.get("dd_tags") == "env:staging,version:0.1.0,cost-center:data,team:sre", f"dd_tags {options.get('dd_tags')}")
    command = controller["command"]
    check(command[command.index("--dogstatsd") + 1] == "127.0.0.1:8125", f"command {command}")
    print(f"check-terraform: with datadog: containers {sorted(containers)}, alarms {[a.split('.')[-1] for a in alarms]} (the log alarm needs CloudWatch Logs); "
          f"DD_ENV, DD_VERSION, DD_TAGS on the controller and the agent, dd_tags {options['dd_tags']}")

    # An existing policy parameter and its own KMS key: nothing created, GetParameter on it, and
    # kms:Decrypt on that key only through Parameter Store, for that parameter only. The same for
    # an existing kill-switch parameter given by its ARN.
    check(not changes(plan, "aws_ssm_parameter"), "an existing parameter was created")
    policies = role_policies(plan)
    for suffix, sid, arn, key in [
        ("read-policy-parameter", "ReadThePolicyParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/shared/redash-autoscaler-policy", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1111-2222"),
        ("read-kill-switch-parameter", "ReadTheKillSwitchParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/shared/redash-autoscaler-mode", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/3333-4444"),
    ]:
        check(suffix in policies, f"no {suffix} policy on the task role: {sorted(policies)}")
        statements = {s["Sid"]: s for s in policies[suffix]["Statement"]}
        check(set(statements) == {sid, sid.replace("Read", "Decrypt", 1)}, f"{suffix}: statements {sorted(statements)}")
        check(as_list(statements[sid]["Action"]) == ["ssm:GetParameter"] and statements[sid]["Resource"] == arn, f"{suffix}: {statements[sid]}")
        decrypt = statements[sid.replace("Read", "Decrypt", 1)]
        check(decrypt["Action"] == "kms:Decrypt" and decrypt["Resource"] == key, decrypt)
        check(decrypt["Condition"]["StringEquals"]["kms:EncryptionContext:PARAMETER_ARN"] == arn, decrypt)
        check(decrypt["Condition"]["StringEquals"]["kms:ViaService"] == f"ssm.{REGION}.amazonaws.com", decrypt)
    check("ecs-exec" not in policies, "ECS Exec granted while enable_execute_command is off")
    check(env.get("REDASH_AUTOSCALER_KILL_SWITCH") == f"ssm:arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/shared/redash-autoscaler-mode", f"REDASH_AUTOSCALER_KILL_SWITCH {env.get('REDASH_AUTOSCALER_KILL_SWITCH')}")
    check(command[command.index("--policies") + 1] == "ssm:/shared/redash-autoscaler-policy", command)
    print("check-terraform: with an existing policy parameter and an existing kill-switch parameter (by ARN), each under its own KMS key: "
          "ssm:GetParameter on each, kms:Decrypt on its key for it only, nothing created")


def datadog_own(plan):
    _, containers, _ = task_definition(plan)
    check(sorted(containers) == ["controller", "datadog-agent-of-ours", "log-router-of-ours"], f"containers {sorted(containers)}")
    controller = containers["controller"]
    check(controller["logConfiguration"]["logDriver"] == "awsfirelens", controller["logConfiguration"])
    command = controller["command"]
    check(command[command.index("--dogstatsd") + 1] == "127.0.0.1:18125", f"command {command}")
    alarms = [c["address"].split(".")[-1] for c in changes(plan, "aws_cloudwatch_metric_alarm")]
    check(alarms == ["no_running_task[0]"], alarms)
    print(f"check-terraform: with your own log router and agent: containers {sorted(containers)}, the controller logs through FireLens and sends DogStatsD to 127.0.0.1:18125")


def datadog_cloudwatch(plan):
    _, containers, _ = task_definition(plan)
    check(sorted(containers) == ["controller", "datadog-agent"], f"containers {sorted(containers)}")
    check(containers["controller"]["logConfiguration"]["logDriver"] == "awslogs", containers["controller"]["logConfiguration"])
    alarms = sorted(c["address"].split(".")[-1] for c in changes(plan, "aws_cloudwatch_metric_alarm"))
    check(alarms == ["error_lines[0]", "no_running_task[0]"], alarms)
    command = containers["controller"]["command"]
    check(command[command.index("--listen") + 1] == "127.0.0.1:8080", f"metrics_listen_address 127.0.0.1 gave the command {command}")
    check(containers["controller"]["healthCheck"]["command"][-1] == "http://127.0.0.1:8080/healthz", containers["controller"]["healthCheck"])
    print(f"check-terraform: with datadog.log_router = none: containers {sorted(containers)}, logs in CloudWatch, alarms {alarms}; "
          "metrics_listen_address = 127.0.0.1: --listen 127.0.0.1:8080, the health check on the same address")


CASES = {"file-kill-switch": file_kill_switch, "datadog": datadog, "datadog-own": datadog_own, "datadog-cloudwatch": datadog_cloudwatch}

if __name__ == "__main__":
    if len(sys.argv) not in (2, 3) or sys.argv[1] not in CASES:
        sys.exit(__doc__)
    plan = json.load(sys.stdin)
    CASES[sys.argv[1]](plan)
    if len(sys.argv) == 3:
        with open(sys.argv[2], "w") as handle:
            json.dump(task_definition(plan)[2], handle)
