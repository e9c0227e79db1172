#!/usr/bin/env bash
# Prints one of the shipped IAM policies rendered for your cluster, as the Terraform module
# renders it (its outputs task_role_policy_json and dry_run_policy_json give the same).
# Usage: scripts/render-iam-policy.sh controller|dry-run REGION ACCOUNT_ID CLUSTER SERVICE...
#   scripts/render-iam-policy.sh dry-run ap-northeast-1 123456789012 redash \
#     redash-adhoc-worker redash-scheduled-worker > dry-run-policy.json
# The SERVICEs are the keys under `services:` in your policies.yaml. Partition: aws (set
# AWS_PARTITION=aws-cn or aws-us-gov otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
if (($# < 5)) || [[ $1 != controller && $1 != dry-run ]]; then
  sed -n '3,8p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
kind=$1 region=$2 account=$3 cluster=$4
shift 4
[[ $account =~ ^[0-9]{12}$ ]] || { echo "render-iam-policy: the account id must be 12 digits: $account" >&2; exit 2; }
prefix="arn:${AWS_PARTITION:-aws}:ecs:$region:$account"
services=""
for service in "$@"; do
  services+="${services:+, }\"$prefix:service/$cluster/$service\""
done
template=deploy/iam/$kind-policy.json.tftpl
text=$(<"$template")
text=${text//'${service_arns}'/[$services]}
text=${text//'${cluster_arn}'/$prefix:cluster/$cluster}
text=${text//'${task_arns}'/$prefix:task/$cluster/*}
printf '%s\n' "$text"
