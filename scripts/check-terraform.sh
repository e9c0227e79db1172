#!/usr/bin/env bash
# Terraform checked by Terraform, offline: `terraform fmt -check`, `init -backend=false` and
# `validate` for the module and every example, through a filesystem mirror of the hashicorp/aws
# provider; then `plan`, `apply` and `destroy` of examples/basic against moto's AWS server on
# 127.0.0.1 (the VPC, subnets, cluster, Redash's services and its SSM parameters created there
# first by scripts/terraform/moto_fixture.py; the example keeps its policy in Parameter Store and
# has an SSM kill switch and ECS Exec), a plan of the example with a file kill switch instead, and
# plans of the module with Datadog (env, version, tags; parameters managed elsewhere with their KMS
# keys; the team's own log router and agent; CloudWatch Logs with the endpoints on loopback), the
# FireLens path of its log lines (scripts/terraform/check_firelens.py), and the inputs the module
# must refuse.
# The Datadog module's provider has no mirror here: it is only parsed and checked by checkov
# (scripts/check-deploy.sh), and this script says so.
# Needs terraform on PATH, the provider mirror (TF_PLUGIN_MIRROR, default /opt/tf-plugins), and
# the .venv that scripts/bootstrap.sh creates (moto, boto3). Run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
mirror=${TF_PLUGIN_MIRROR:-/opt/tf-plugins}
python=$repo/.venv/bin/python

command -v terraform >/dev/null || { echo "check-terraform: terraform is not on PATH: the Terraform checks cannot run" >&2; exit 1; }
[[ -d $mirror/registry.terraform.io/hashicorp/aws ]] || {
  echo "check-terraform: no hashicorp/aws provider in the filesystem mirror $mirror (set TF_PLUGIN_MIRROR): the Terraform checks cannot run" >&2
  exit 1
}
[[ -x $python && -x $repo/.venv/bin/moto_server ]] || { echo "check-terraform: $python or moto_server is missing: run scripts/bootstrap.sh" >&2; exit 1; }
echo "check-terraform: $(terraform version | head -1), providers from $mirror: $(ls "$mirror"/registry.terraform.io/hashicorp/aws | tr '\n' ' ')"

work=$(mktemp -d /tmp/redash-autoscaler-terraform.XXXXXX)
moto_pid=
cleanup() {
  [[ -n $moto_pid ]] && kill "$moto_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cat >"$work/cli.tfrc" <<CONFIG
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/*"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/*"]
  }
}
CONFIG
export TF_CLI_CONFIG_FILE=$work/cli.tfrc TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
# The checks run on a copy, so that no .terraform folder, lock file or state lands in the tree.
cp -r deploy "$work/deploy"

echo "check-terraform: terraform fmt -check"
terraform fmt -check -recursive -diff deploy/terraform

for dir in deploy/terraform $(find deploy/terraform/examples -mindepth 1 -maxdepth 1 -type d | sort); do
  echo "check-terraform: init and validate $dir"
  (cd "$work/$dir" && terraform init -backend=false -no-color >"$work/init.log" 2>&1) || { cat "$work/init.log"; exit 1; }
  (cd "$work/$dir" && terraform validate -no-color)
done
echo "check-terraform: deploy/terraform/datadog NOT validated: there is no mirror of the DataDog/datadog provider here; it is parsed by python-hcl2 and checked by checkov (scripts/check-deploy.sh)"

port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
endpoint=http://127.0.0.1:$port
# AWS's managed policies (AmazonECSTaskExecutionRolePolicy) exist in moto only when asked for.
MOTO_IAM_LOAD_MANAGED_POLICIES=true "$repo/.venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
"$python" - "$endpoint" <<'PY_WAIT'
import sys, time, urllib.request
for _ in range(300):
    try:
        urllib.request.urlopen(sys.argv[1] + "/moto-api/data.json", timeout=1)
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("check-terraform: moto did not start")
PY_WAIT
region=ap-northeast-1
"$python" scripts/terraform/moto_fixture.py "$endpoint" "$region" >"$work/deploy/terraform/examples/basic/moto.auto.tfvars.json"
echo "check-terraform: moto on $endpoint with a VPC, two subnets, the cluster redash, three Redash services and two SSM parameters"

# Terraform merges *_override.tf into the configuration: the example itself stays as shipped,
# only its provider is pointed at moto.
override() {
  cat <<OVERRIDE
provider "aws" {
  region                      = "$region"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {
    cloudwatch     = "$endpoint"
    cloudwatchlogs = "$endpoint"
    ec2            = "$endpoint"
    ecs            = "$endpoint"
    iam            = "$endpoint"
    ssm            = "$endpoint"
    sts            = "$endpoint"
  }
}
OVERRIDE
}
example=$work/deploy/terraform/examples/basic
override >"$example/moto_override.tf"
cd "$example"
# The other brake first: a file kill switch, written through ECS Exec (plan only; the apply below
# has the SSM kill switch, and both cannot be set at once).
echo "check-terraform: examples/basic with kill_switch = file and enable_execute_command: plan"
terraform plan -no-color -var kill_switch=file -var enable_execute_command=true -out=plan-file.tfplan >"$work/plan-file.log" 2>&1 || { cat "$work/plan-file.log"; exit 1; }
terraform show -json plan-file.tfplan | "$python" "$repo/scripts/terraform/check_plan.py" file-kill-switch
rm -f plan-file.tfplan
echo "check-terraform: examples/basic with its SSM kill switch and enable_execute_command: plan"
terraform plan -no-color -var enable_execute_command=true -out=plan.tfplan >"$work/plan.log" 2>&1 || { cat "$work/plan.log"; exit 1; }
grep -E "^Plan:" "$work/plan.log"
echo "check-terraform: examples/basic: apply"
terraform apply -no-color -auto-approve plan.tfplan >"$work/apply.log" 2>&1 || { cat "$work/apply.log"; exit 1; }
grep -E "^Apply complete" "$work/apply.log"
terraform state list | sed 's/^/check-terraform:   applied /'
"$python" "$repo/scripts/terraform/check_applied.py" "$endpoint" "$region" "$(terraform output -json)" "$example/policies.yaml"
# An operator pulls the brake; the next apply must leave it pulled.
"$python" "$repo/scripts/terraform/check_applied.py" "$endpoint" "$region" --pull-kill-switch
terraform plan -no-color -var enable_execute_command=true -out=replan.tfplan >"$work/replan.log" 2>&1 || { cat "$work/replan.log"; exit 1; }
terraform show -json replan.tfplan | "$python" -c '
import json, sys
changes = [c for c in json.load(sys.stdin)["resource_changes"] if c["type"] == "aws_ssm_parameter" and c["name"] == "kill_switch"]
assert len(changes) == 1 and changes[0]["change"]["actions"] == ["no-op"], [c["change"]["actions"] for c in changes]
print("check-terraform: after aws ssm put-parameter --value paused, a new plan leaves the kill switch alone (ignore_changes = [value])")'
rm -f replan.tfplan
echo "check-terraform: examples/basic: destroy"
terraform destroy -no-color -auto-approve -var enable_execute_command=true >"$work/destroy.log" 2>&1 || { cat "$work/destroy.log"; exit 1; }
grep -E "^Destroy complete" "$work/destroy.log"
[[ -z $(terraform state list) ]] || { echo "check-terraform: resources left after destroy: $(terraform state list)" >&2; exit 1; }

# The Datadog branch (FireLens log router, agent sidecar) has other container shapes: plan the
# module with each, and check_plan.py checks the plan of each case.
datadog=$work/datadog-plan
mkdir -p "$datadog"
override >"$datadog/provider.tf"
cd "$datadog"
# plan_datadog CASE DATADOG MORE_INPUTS [MORE check_plan.py ARGUMENTS]
plan_datadog() {
  local case=$1 datadog_input=$2 more_inputs=$3
  shift 3
  cat >"$datadog/main.tf" <<ROOT
module "redash_autoscaler" {
  # Relative: Terraform copies a module from an absolute path without its ../iam templates.
  source                  = "../deploy/terraform"
  cluster_name            = "redash"
  policy_yaml             = file("../deploy/terraform/examples/basic/policies.yaml")
  subnet_ids              = ["subnet-1"]
  security_group_ids      = ["sg-1"]
  image                   = "redash-autoscaler@sha256:0000000000000000000000000000000000000000000000000000000000000000"
  redis_url_parameter_arn = "arn:aws:ssm:$region:123456789012:parameter/redash/REDASH_REDIS_URL"
  datadog                 = $datadog_input
$more_inputs
}
ROOT
  # Once: every case calls the same module.
  [[ -d .terraform ]] || terraform init -backend=false -no-color >"$work/init.log" 2>&1 || { cat "$work/init.log"; exit 1; }
  terraform plan -no-color -out=plan.tfplan >"$work/plan-$case.log" 2>&1 || { cat "$work/plan-$case.log"; exit 1; }
  terraform show -json plan.tfplan | "$python" "$repo/scripts/terraform/check_plan.py" "$case" "$@"
}

# With env, version and tags, and with parameters managed elsewhere under their own KMS keys.
existing_parameters=$(cat <<INPUTS
  # A parameter managed elsewhere, encrypted with a customer-managed key.
  policy_parameter = { name = "/shared/redash-autoscaler-policy", create = false, kms_key_arn = "arn:aws:kms:$region:123456789012:key/1111-2222" }
  # A kill switch managed elsewhere, named by its ARN, under another key.
  kill_switch_parameter = { name = "arn:aws:ssm:$region:123456789012:parameter/shared/redash-autoscaler-mode", create = false, kms_key_arn = "arn:aws:kms:$region:123456789012:key/3333-4444" }
INPUTS
)
plan_datadog datadog '{ api_key_parameter_arn = "arn:aws:ssm:'$region':123456789012:parameter/datadog/api-key", env = "staging", version = "0.1.0", tags = { team = "sre", cost-center = "data" } }' \
  "$existing_parameters" "$work/containers-dd.json"
# The JSON lines through the FireLens path this task definition sets up (as far as it can be
# checked without Fluent Bit, which no package here provides: the script says what it models).
"$python" "$repo/scripts/terraform/check_firelens.py" "$work/containers-dd.json"

# The team's own log router and agent, then CloudWatch Logs with the module's agent.
plan_datadog datadog-own '{ api_key_parameter_arn = "arn:aws:ssm:'$region':123456789012:parameter/datadog/api-key", log_router = "own", agent = "own", dogstatsd_address = "127.0.0.1:18125" }' \
  'additional_container_definitions = [jsonencode({ name = "log-router-of-ours", image = "fluent-bit-of-ours:1", essential = true, firelensConfiguration = { type = "fluentbit" } }), jsonencode({ name = "datadog-agent-of-ours", image = "datadog-agent-of-ours:1", essential = false })]'
# Here the endpoints are on loopback too: only the health check and the sidecars read them.
plan_datadog datadog-cloudwatch '{ api_key_parameter_arn = "arn:aws:ssm:'$region':123456789012:parameter/datadog/api-key", log_router = "none" }' \
  'metrics_listen_address = "127.0.0.1"'

# Inputs the module must refuse at plan time, each with its message.
negative=$work/negative-plan
mkdir -p "$negative"
override >"$negative/provider.tf"
cat >"$negative/main.tf" <<'ROOT'
variable "policy_yaml" { type = string }
variable "cpu_architecture" { type = string }
variable "kill_switch_file" {
  type    = string
  default = null
}
variable "kill_switch_parameter" {
  type    = string
  default = null
}
variable "datadog_log_router" {
  type    = string
  default = null
}
variable "metrics_listen_address" {
  type    = string
  default = "0.0.0.0"
}
module "redash_autoscaler" {
  source                  = "../deploy/terraform"
  cluster_name            = "redash"
  policy_yaml             = var.policy_yaml
  cpu_architecture        = var.cpu_architecture
  subnet_ids              = ["subnet-1"]
  security_group_ids      = ["sg-1"]
  image                   = "redash-autoscaler@sha256:0000000000000000000000000000000000000000000000000000000000000000"
  redis_url_parameter_arn = "arn:aws:ssm:ap-northeast-1:123456789012:parameter/redash/REDASH_REDIS_URL"
  kill_switch_file        = var.kill_switch_file
  kill_switch_parameter   = var.kill_switch_parameter == null ? null : { name = var.kill_switch_parameter }
  datadog                 = var.datadog_log_router == null ? null : { api_key_parameter_arn = "arn:aws:ssm:ap-northeast-1:123456789012:parameter/datadog/api-key", log_router = var.datadog_log_router }
  metrics_listen_address  = var.metrics_listen_address
}
ROOT
cd "$negative"
terraform init -backend=false -no-color >"$work/init.log" 2>&1 || { cat "$work/init.log"; exit 1; }
# refuse DESCRIPTION EXPECTED_MESSAGE POLICY_YAML CPU_ARCHITECTURE [MORE -var ARGUMENTS]
refuse() {
  local description=$1 message=$2 policy=$3 architecture=$4
  shift 4
  if terraform plan -no-color -var "policy_yaml=$policy" -var "cpu_architecture=$architecture" "$@" >"$work/negative.log" 2>&1; then
    echo "check-terraform: the module accepted $description" >&2
    exit 1
  fi
  grep -q "$message" "$work/negative.log" || { cat "$work/negative.log"; echo "check-terraform: $description was refused, but not with \"$message\"" >&2; exit 1; }
  echo "check-terraform: refused at plan: $description (\"$message\")"
}
service=$'services:\n  redash-adhoc-worker:\n    queues: [queries]\n    maxTasks: 4\n'
reads_switch=$'cluster: redash\nkillSwitch: ${REDASH_AUTOSCALER_KILL_SWITCH:-}\n'"$service"
refuse "a policy for another cluster" "not cluster_name" $'cluster: staging\n'"$service" X86_64
refuse "a policy without services" "non-empty \`services:\`" $'cluster: redash\nservices: {}\n' X86_64
refuse "cpu_architecture ARM" "must be X86_64 or ARM64" $'cluster: redash\n'"$service" ARM
refuse "both kill switches" "not both" "$reads_switch" X86_64 -var kill_switch_file=/run/redash-autoscaler/mode -var kill_switch_parameter=/redash-autoscaler/mode
refuse "a kill-switch parameter the policy does not read" "policy_yaml does not read it" $'cluster: redash\n'"$service" X86_64 -var kill_switch_parameter=/redash-autoscaler/mode
refuse "a kill-switch file the policy does not read" "policy_yaml does not read it" $'cluster: redash\nkillSwitch: /run/other/mode\n'"$service" X86_64 -var kill_switch_file=/run/redash-autoscaler/mode
refuse "a policy naming an SSM kill switch the role may not read" "a killSwitch the module did not set up" $'cluster: redash\nkillSwitch: ssm:/redash-autoscaler/mode\n'"$service" X86_64
refuse "a kill-switch file in /etc" "at least two directories deep" "$reads_switch" X86_64 -var kill_switch_file=/etc/redash/mode
refuse "datadog.log_router own without a router" "needs your FireLens log router" "$reads_switch" X86_64 -var datadog_log_router=own
refuse "metrics_listen_address with a port" "must be 0.0.0.0" $'cluster: redash\n'"$service" X86_64 -var metrics_listen_address=0.0.0.0:8080
refuse "metrics_listen_address an IPv6 address" "must be 0.0.0.0" $'cluster: redash\n'"$service" X86_64 -var metrics_listen_address=::
refuse "metrics_listen_address the task's own address" "must be 0.0.0.0" $'cluster: redash\n'"$service" X86_64 -var metrics_listen_address=10.0.1.17
echo "check-terraform: ok"
