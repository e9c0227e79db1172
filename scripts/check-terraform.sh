#!/usr/bin/env bash
# Terraform checked by Terraform, offline: `terraform fmt -check`, `init -backend=false` and
# `validate` for the module and every example, through a filesystem mirror of the hashicorp/aws
# provider; then `plan`, `apply` and `destroy` of examples/basic against moto's AWS server on
# 127.0.0.1 (the VPC, subnets, cluster, Redash's services and its SSM parameters created there
# first by scripts/terraform/moto_fixture.py; the example keeps its policy in Parameter Store), and
# a plan of the module with Datadog log routing and an existing policy parameter with its KMS key.
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
echo "check-terraform: examples/basic: plan"
terraform plan -no-color -out=plan.tfplan >"$work/plan.log" 2>&1 || { cat "$work/plan.log"; exit 1; }
grep -E "^Plan:" "$work/plan.log"
echo "check-terraform: examples/basic: apply"
terraform apply -no-color -auto-approve plan.tfplan >"$work/apply.log" 2>&1 || { cat "$work/apply.log"; exit 1; }
grep -E "^Apply complete" "$work/apply.log"
terraform state list | sed 's/^/check-terraform:   applied /'
"$python" "$repo/scripts/terraform/check_applied.py" "$endpoint" "$region" "$(terraform output -json)" "$example/policies.yaml"
echo "check-terraform: examples/basic: destroy"
terraform destroy -no-color -auto-approve >"$work/destroy.log" 2>&1 || { cat "$work/destroy.log"; exit 1; }
grep -E "^Destroy complete" "$work/destroy.log"
[[ -z $(terraform state list) ]] || { echo "check-terraform: resources left after destroy: $(terraform state list)" >&2; exit 1; }

# The Datadog branch (FireLens log router, agent sidecar) has other container shapes: plan it.
datadog=$work/datadog-plan
mkdir -p "$datadog"
override >"$datadog/provider.tf"
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
  datadog                 = { api_key_parameter_arn = "arn:aws:ssm:$region:123456789012:parameter/datadog/api-key" }
  # A parameter managed elsewhere, encrypted with a customer-managed key.
  policy_parameter = { name = "/shared/redash-autoscaler-policy", create = false, kms_key_arn = "arn:aws:kms:$region:123456789012:key/1111-2222" }
}
ROOT
cd "$datadog"
terraform init -backend=false -no-color >"$work/init.log" 2>&1 || { cat "$work/init.log"; exit 1; }
terraform plan -no-color -out=plan.tfplan >"$work/plan-dd.log" 2>&1 || { cat "$work/plan-dd.log"; exit 1; }
terraform show -json plan.tfplan | "$python" -c '
import json, sys
plan = json.load(sys.stdin)
definitions = [change["change"]["after"]["container_definitions"] for change in plan["resource_changes"] if change["type"] == "aws_ecs_task_definition"]
names = sorted(container["name"] for container in json.loads(definitions[0]))
assert names == ["controller", "datadog-agent", "log-router"], names
alarms = [change["address"] for change in plan["resource_changes"] if change["type"] == "aws_cloudwatch_metric_alarm"]
assert alarms == ["module.redash_autoscaler.aws_cloudwatch_metric_alarm.no_running_task[0]"], alarms
print("check-terraform: with datadog: containers %s, alarms %s (the log alarm needs CloudWatch Logs)" % (names, [a.split(".")[-1] for a in alarms]))
# With an existing parameter and its own KMS key: nothing created, GetParameter on it, and
# kms:Decrypt on that key only through Parameter Store, for that parameter only.
assert not [c for c in plan["resource_changes"] if c["type"] == "aws_ssm_parameter"], "an existing parameter was created"
grants = [json.loads(c["change"]["after"]["policy"]) for c in plan["resource_changes"]
          if c["type"] == "aws_iam_role_policy" and c["change"]["after"]["name"].endswith("read-policy-parameter")]
assert len(grants) == 1, grants
statements = {s["Sid"]: s for s in grants[0]["Statement"]}
arn = "arn:aws:ssm:ap-northeast-1:123456789012:parameter/shared/redash-autoscaler-policy"
assert statements["ReadThePolicyParameter"]["Action"] in ("ssm:GetParameter", ["ssm:GetParameter"]) and statements["ReadThePolicyParameter"]["Resource"] == arn, statements
decrypt = statements["DecryptThePolicyParameter"]
assert decrypt["Action"] == "kms:Decrypt" and decrypt["Resource"] == "arn:aws:kms:ap-northeast-1:123456789012:key/1111-2222", decrypt
assert decrypt["Condition"]["StringEquals"]["kms:EncryptionContext:PARAMETER_ARN"] == arn, decrypt
command = json.loads(definitions[0])[0]["command"]
assert command[command.index("--policies") + 1] == "ssm:/shared/redash-autoscaler-policy", command
print("check-terraform: with an existing policy parameter and a KMS key: ssm:GetParameter on %s, kms:Decrypt on its key for it only, nothing created" % arn)
'
# Inputs the module must refuse at plan time, each with its message.
negative=$work/negative-plan
mkdir -p "$negative"
override >"$negative/provider.tf"
cat >"$negative/main.tf" <<'ROOT'
variable "policy_yaml" { type = string }
variable "cpu_architecture" { type = string }
module "redash_autoscaler" {
  source                  = "../deploy/terraform"
  cluster_name            = "redash"
  policy_yaml             = var.policy_yaml
  cpu_architecture        = var.cpu_architecture
  subnet_ids              = ["subnet-1"]
  security_group_ids      = ["sg-1"]
  image                   = "redash-autoscaler@sha256:0000000000000000000000000000000000000000000000000000000000000000"
  redis_url_parameter_arn = "arn:aws:ssm:ap-northeast-1:123456789012:parameter/redash/REDASH_REDIS_URL"
}
ROOT
cd "$negative"
terraform init -backend=false -no-color >"$work/init.log" 2>&1 || { cat "$work/init.log"; exit 1; }
# refuse DESCRIPTION EXPECTED_MESSAGE POLICY_YAML CPU_ARCHITECTURE
refuse() {
  if terraform plan -no-color -var "policy_yaml=$3" -var "cpu_architecture=$4" >"$work/negative.log" 2>&1; then
    echo "check-terraform: the module accepted $1" >&2
    exit 1
  fi
  grep -q "$2" "$work/negative.log" || { cat "$work/negative.log"; echo "check-terraform: $1 was refused, but not with \"$2\"" >&2; exit 1; }
  echo "check-terraform: refused at plan: $1 (\"$2\")"
}
service=$'services:\n  redash-adhoc-worker:\n    queues: [queries]\n    maxTasks: 4\n'
refuse "a policy for another cluster" "not cluster_name" $'cluster: staging\n'"$service" X86_64
refuse "a policy without services" "non-empty \`services:\`" $'cluster: redash\nservices: {}\n' X86_64
refuse "cpu_architecture ARM" "must be X86_64 or ARM64" $'cluster: redash\n'"$service" ARM
echo "check-terraform: ok"
