"""After `terraform apply` of examples/basic against moto: reads back what moto holds and checks
the parts of the module a reviewer asks about, so that an apply that "succeeds" with the wrong
values fails here.

  check_applied.py ENDPOINT REGION OUTPUTS_JSON POLICY_FILE
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

    role = iam.get_role(RoleName="redash-autoscaler-task")["Role"]
    check({tag["Key"]: tag["Value"] for tag in role.get("Tags", [])}.get("Owner") == "sre", f"role tags {role.get('Tags')}")
    check(role["Path"] == "/", f"role path {role['Path']}")

    group = logs.describe_log_groups(logGroupNamePrefix="/ecs/redash-autoscaler")["logGroups"][0]
    check(group.get("retentionInDays") == 365, f"log retention {group.get('retentionInDays')}")
    filters = logs.describe_metric_filters(logGroupName="/ecs/redash-autoscaler")["metricFilters"]
    check([f["filterName"] for f in filters] == ["redash-autoscaler-error-lines"], f"metric filters {filters}")

    alarms = sorted(alarm["AlarmName"] for alarm in cloudwatch.describe_alarms(AlarmNamePrefix="redash-autoscaler")["MetricAlarms"])
    check(alarms == ["redash-autoscaler-errors", "redash-autoscaler-no-running-task"], f"alarms {alarms}")
    print(f"check-terraform: moto holds the service (desired 2, dry-run, health check /healthz, X86_64, --policies ssm:{name}), "
          f"the policy parameter (SecureString, read by the task role with ssm:GetParameter only), the role for {managed}, "
          f"the log group (365 days, error filter) and alarms {alarms}")


if __name__ == "__main__":
    main(*sys.argv[1:5])
