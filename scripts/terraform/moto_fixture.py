"""What examples/basic expects to exist before it is applied, created in moto's server: a VPC
with two private subnets and a security group, the ECS cluster `redash` with Redash's three
worker services, and the two Parameter Store parameters holding Redash's connection strings.
Prints the Terraform variables for the example as JSON (a .tfvars.json file).

  moto_fixture.py ENDPOINT REGION
"""
import json
import sys

import boto3


def main(endpoint, region):
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)
    ec2 = session.client("ec2", endpoint_url=endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{index}.0/24", AvailabilityZone=f"{region}{zone}")["Subnet"]["SubnetId"]
        for index, zone in enumerate("ac")
    ]
    group = ec2.create_security_group(GroupName="redash-autoscaler", Description="controller", VpcId=vpc)["GroupId"]

    ecs = session.client("ecs", endpoint_url=endpoint)
    ecs.create_cluster(clusterName="redash")
    ecs.register_task_definition(family="redash-worker", containerDefinitions=[{"name": "worker", "image": "redash/redash:25.1.0", "memory": 512}])
    for service in ["redash-adhoc-worker", "redash-scheduled-worker", "redash-scheduler"]:
        ecs.create_service(cluster="redash", serviceName=service, taskDefinition="redash-worker", desiredCount=1)

    ssm = session.client("ssm", endpoint_url=endpoint)
    ssm.put_parameter(Name="/redash/REDASH_REDIS_URL", Type="SecureString", Value="redis://redis.internal:6379/0")
    ssm.put_parameter(Name="/redash/REDASH_DATABASE_URL", Type="SecureString", Value="postgresql://autoscaler:secret@db.internal/redash")

    print(json.dumps({
        "region": region,
        "cluster": "redash",
        "private_subnet_ids": subnets,
        "security_group_ids": [group],
        "image": "123456789012.dkr.ecr.%s.amazonaws.com/redash-autoscaler@sha256:%s" % (region, "0" * 64),
    }))


if __name__ == "__main__":
    main(*sys.argv[1:3])
