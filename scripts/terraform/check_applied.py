"""After `terraform apply` of examples/basic (with enable_execute_command) against moto: reads back
what moto holds and checks the parts of the module a reviewer asks about, so that an apply that
"succeeds" with the wrong values fails here. With --pull-kill-switch it writes `paused` into the
kill-switch parameter as an operator would, for the plan that follows to leave alone.

  check_applied.py ENDPOINT REGION OUTPUTS_JSON POLICY_FILE
  check_applied.py ENDPOINT REGION --pull-kill-switch
"""
import json
import sys

import boto3


def check(condition, message):
    if not condition:
        sys.exit(f"check-terraform: {message}")


def main(endpoint, region, outputs_json, policy_path):
    outputs = json.loads(outputs_json)
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)
    ecs = session.client("ecs", endpoint_url=endpoint)
    iam = session.client("iam", endpoint_url=endpoint)
    logs = session.client("logs", endpoint_url=endpoint)
    cloudwatch = session.client("cloudwatch", endpoint_url=endpoint)
    ssm = session.client("ssm", endpoint_url=endpoint)

    managed = outputs["managed_services"]["value"]
    check(managed == ["redash-adhoc-worker", "redash-scheduled-worker", "redash-scheduler"], f"managed services {managed} are not the policy's three")
    policy = json.loads(outputs["task_role_policy"]["value"])
    service_arns = policy["Statement"][0]["Resource"]
    check(sorted(arn.rsplit("/", 1)[1] for arn in service_arns) == managed, f"the role covers {service_arns}, not the policy's services")

    service = ecs.describe_services(cluster="redash", services=["redash-autoscaler"])["services"][0]
    check(service["desiredCount"] == 2, f"desiredCount {service['desiredCount']}, expected 2 with the database lease")
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"], include=["TAGS"])
    task = definition["taskDefinition"]
    controller = task["containerDefinitions"][0]
    check("--dry-run" in controller["command"], f"the example must start in dry-run: {controller['command']}")
    check(controller["healthCheck"]["command"][-1].endswith("/healthz"), f"health check {controller['healthCheck']['command']} is not the liveness endpoint")
    # `run` alone listens on loopback; the task names every interface, so that a scraper can reach /metrics.
    listen = controller["command"][controller["command"].index("--listen") + 1] if "--listen" in controller["command"] else None
    check(listen == "0.0.0.0:8080", f"the controller listens on {listen}, not 0.0.0.0:8080 (metrics_listen_address's default)")
    check(task.get("runtimePlatform", {}).get("cpuArchitecture") == "X86_64", f"runtime platform {task.get('runtimePlatform')}")
    environment = {entry["name"]: entry["value"] for entry in controller["environment"]}
    check(environment.get("REDASH_ECS_CLUSTER") == "redash", "REDASH_ECS_CLUSTER is not the cluster")
    check({tag["key"]: tag["value"] for tag in definition.get("tags", [])}.get("Owner") == "sre", f"task definition tags {definition.get('tags')}")

    # The policy lives in Parameter Store: the container reads it from there, not from its
    # environment, and the task role may read that parameter and nothing else of SSM.
    name = "/redash-autoscaler/policy"
    command = controller["command"]
    check(command[command.index("--policies") + 1:][:1] == [f"ssm:{name}"] if "--policies" in command else False, f"the command does not read the parameter: {command}")
    check("REDASH_AUTOSCALER_POLICY_YAML" not in environment, "the policy is still in the task definition's environment")
    parameter = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    with open(policy_path) as handle:
        check(parameter["Value"] == handle.read(), "the parameter does not hold examples/basic/policies.yaml")
    check(parameter["Type"] == "SecureString", f"the parameter is a {parameter['Type']}")
    check(outputs["policy_parameter_arn"]["value"] == parameter["ARN"], f"policy_parameter_arn {outputs['policy_parameter_arn']['value']} is not {parameter['ARN']}")
    read = iam.get_role_policy(RoleName="redash-autoscaler-task", PolicyName="redash-autoscaler-read-policy-parameter")["PolicyDocument"]
    read = json.loads(read) if isinstance(read, str) else read
    grants = [(statement["Action"], statement["Resource"]) for statement in read["Statement"]]
    check(grants in ([("ssm:GetParameter", parameter["ARN"])], [(["ssm:GetParameter"], parameter["ARN"])]),
          f"the task role's parameter grant is {grants}, not exactly ssm:GetParameter on {parameter['ARN']}")

    # The SSM kill switch: a String the module created at `active`, named to the controller by
    # REDASH_AUTOSCALER_KILL_SWITCH (the policy reads it), and exactly ssm:GetParameter on it.
    switch = ssm.get_parameter(Name=KILL_SWITCH)["Parameter"]
    check(switch["Type"] == "String" and switch["Value"] == "active", f"the kill switch is a {switch['Type']} holding {switch['Value']!r}")
    check(outputs["kill_switch_parameter_arn"]["value"] == switch["ARN"], f"kill_switch_parameter_arn {outputs['kill_switch_parameter_arn']['value']} is not {switch['ARN']}")
    check(environment.get("REDASH_AUTOSCALER_KILL_SWITCH") == f"ssm:{KILL_SWITCH}", f"REDASH_AUTOSCALER_KILL_SWITCH is {environment.get('REDASH_AUTOSCALER_KILL_SWITCH')!r}")
    with open(policy_path) as handle:
        check("killSwitch: ${REDASH_AUTOSCALER_KILL_SWITCH:-}" in handle.read(), "the example's policy does not read REDASH_AUTOSCALER_KILL_SWITCH")
    read = iam.get_role_policy(RoleName="redash-autoscaler-task", PolicyName="redash-autoscaler-read-kill-switch-parameter")["PolicyDocument"]
    read = json.loads(read) if isinstance(read, str) else read
    grants = [(statement["Action"], statement["Resource"]) for statement in read["Statement"]]
    check(grants in ([("ssm:GetParameter", switch["ARN"])], [(["ssm:GetParameter"], switch["ARN"])]),
          f"the task role's kill-switch grant is {grants}, not exactly ssm:GetParameter on {switch['ARN']}")

    # ECS Exec: on for the service, the four ssmmessages actions on the task role, and writable
    # volumes where its agent writes, the root filesystem staying read-only.
    # moto (5.2) does not keep a service's enableExecuteCommand: the plan checks it
    # (check_plan.py file-kill-switch); here it must not be false when moto has it.
    check(service.get("enableExecuteCommand", True) is True, "ECS Exec is not enabled on the service")
    exec_policy = iam.get_role_policy(RoleName="redash-autoscaler-task", PolicyName="redash-autoscaler-ecs-exec")["PolicyDocument"]
    exec_policy = json.loads(exec_policy) if isinstance(exec_policy, str) else exec_policy
    actions = sorted(action for statement in exec_policy["Statement"] for action in statement["Action"])
    check(actions == ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"],
          f"the ECS Exec grant is {actions}")
    check(controller.get("readonlyRootFilesystem") is True, "the root filesystem is not read-only")
    mounts = sorted(m["containerPath"] for m in controller.get("mountPoints", []))
    check(mounts == ["/managed-agents", "/var/lib/amazon/ssm", "/var/log/amazon/ssm"], f"mount points {mounts}")
    check(sorted(v["name"] for v in task.get("volumes", [])) == ["ecs-exec-managed-agents", "ecs-exec-ssm-logs", "ecs-exec-ssm-state"], f"volumes {task.get('volumes')}")

    role = iam.get_role(RoleName="redash-autoscaler-task")["Role"]
    check({tag["Key"]: tag["Value"] for tag in role.get("Tags", [])}.get("Owner") == "sre", f"role tags {role.get('Tags')}")
    check(role["Path"] == "/", f"role path {role['Path']}")

    group = logs.describe_log_groups(logGroupNamePrefix="/ecs/redash-autoscaler")["logGroups"][0]
    check(group.get("retentionInDays") == 365, f"log retention {group.get('retentionInDays')}")
    filters = logs.describe_metric_filters(logGroupName="/ecs/redash-autoscaler")["metricFilters"]
    check([f["filterName"] for f in filters] == ["redash-autoscaler-error-lines"], f"metric filters {filters}")

    alarms = sorted(alarm["AlarmName"] for alarm in cloudwatch.describe_alarms(AlarmNamePrefix="redash-autoscaler")["MetricAlarms"])
    check(alarms == ["redash-autoscaler-errors", "redash-autoscaler-no-running-task"], f"alarms {alarms}")
    print(f"check-terraform: moto holds the service (desired 2, dry-run, health check /healthz, --listen 0.0.0.0:8080, X86_64, --policies ssm:{name}), "
          f"the policy parameter (SecureString, read by the task role with ssm:GetParameter only), the kill switch {KILL_SWITCH} "
          f"(String, active, ssm:GetParameter only), ECS Exec's grant (four ssmmessages actions) and volumes {mounts} with a read-only root, "
          f"the role for {managed}, the log group (365 days, error filter) and alarms {alarms}")


def pull_kill_switch(endpoint, region):
    """What docs/operations.md#emergency-brakes tells an operator to run."""
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)
    session.client("ssm", endpoint_url=endpoint).put_parameter(Name=KILL_SWITCH, Type="String", Value="paused", Overwrite=True)
    print(f"check-terraform: aws ssm put-parameter --name {KILL_SWITCH} --type String --value paused --overwrite")


KILL_SWITCH = "/redash-autoscaler/mode"

if __name__ == "__main__":
    if sys.argv[3:4] == ["--pull-kill-switch"]:
        pull_kill_switch(*sys.argv[1:3])
    else:
        main(*sys.argv[1:5])
