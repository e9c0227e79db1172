locals {
  replicas   = coalesce(var.replicas, var.database_url_parameter_arn == null ? 1 : 2)
  use_dd     = var.datadog != null
  run_flags  = concat(["run", "--listen", "0.0.0.0:${var.metrics_port}", "--log-format", "json"], local.policy_flags, var.dry_run ? ["--dry-run"] : [], local.use_dd ? ["--dogstatsd", "127.0.0.1:8125"] : [])
  aws_region = data.aws_region.current.name

  controller_secrets = concat(
    [{ name = "REDASH_REDIS_URL", valueFrom = var.redis_url_parameter_arn }],
    var.database_url_parameter_arn == null ? [] : [{ name = "REDASH_DATABASE_URL", valueFrom = var.database_url_parameter_arn }],
  )

  cloudwatch_logs = {
    logDriver = "awslogs"
    options = {
      awslogs-group         = aws_cloudwatch_log_group.this.name
      awslogs-region        = local.aws_region
      awslogs-stream-prefix = "controller"
    }
  }

  datadog_logs = local.use_dd ? {
    logDriver = "awsfirelens"
    options = {
      Name           = "datadog"
      Host           = "http-intake.logs.${var.datadog.site}"
      TLS            = "on"
      provider       = "ecs"
      dd_service     = var.datadog.service_tag
      dd_source      = "redash-autoscaler"
      dd_message_key = "message"
    }
    secretOptions = [{ name = "apikey", valueFrom = var.datadog.api_key_parameter_arn }]
  } : null

  controller = {
    name                   = "controller"
    image                  = var.image
    essential              = true
    command                = local.run_flags
    readonlyRootFilesystem = true
    user                   = "10001"
    portMappings           = [{ containerPort = var.metrics_port, protocol = "tcp" }]
    environment = concat(
      # The policy's text itself, unless it is in Parameter Store (secrets stay in the secrets
      # below, referenced as ${VAR}).
      local.policy_in_ssm ? [] : [{ name = "REDASH_AUTOSCALER_POLICY_YAML", value = var.policy_yaml }],
      [
        { name = "REDASH_ECS_CLUSTER", value = var.cluster_name },
        { name = "AWS_REGION", value = local.aws_region },
      ],
    )
    secrets = local.controller_secrets
    # Liveness, not readiness: /healthz answers while the process serves. /readyz fails while
    # Redis or ECS cannot be read (an ElastiCache failover, a throttled API), and a restart
    # would not bring either back, so it stays for people and dashboards (docs/operations.md).
    healthCheck = {
      command     = ["CMD", "/usr/local/bin/redash-autoscaler", "healthcheck", "--url", "http://127.0.0.1:${var.metrics_port}/healthz"]
      interval    = 30
      timeout     = 5
      retries     = 3
      startPeriod = 30
    }
    # Above the controller's own shutdown bound (15 s from SIGTERM to exit, whatever hangs).
    stopTimeout = 30
    # The two log configurations have different shapes, which a conditional cannot return.
    logConfiguration = jsondecode(local.use_dd ? jsonencode(local.datadog_logs) : jsonencode(local.cloudwatch_logs))
  }

  log_router = {
    name = "log-router"
    # Pinned: a moving tag changes the log path under a running service at its next deploy.
    image                  = "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.34.3.20260309"
    essential              = true
    readonlyRootFilesystem = false
    firelensConfiguration  = { type = "fluentbit", options = { "enable-ecs-log-metadata" = "true" } }
    logConfiguration       = local.cloudwatch_logs
    user                   = "0"
  }

  datadog_agent = {
    name                   = "datadog-agent"
    image                  = "public.ecr.aws/datadog/agent:7.80.0"
    essential              = false
    readonlyRootFilesystem = false
    environment = [
      { name = "ECS_FARGATE", value = "true" },
      { name = "DD_SITE", value = try(var.datadog.site, "") },
      { name = "DD_APM_ENABLED", value = "false" },
      { name = "DD_DOGSTATSD_NON_LOCAL_TRAFFIC", value = "false" },
      # The controller's own `service` tag names the Redash service a metric is about.
      { name = "DD_DOGSTATSD_TAGS", value = "app:${try(var.datadog.service_tag, "")}" },
    ]
    secrets          = [{ name = "DD_API_KEY", valueFrom = try(var.datadog.api_key_parameter_arn, "") }]
    portMappings     = [{ containerPort = 8125, protocol = "udp" }]
    logConfiguration = local.cloudwatch_logs
  }

  # Each container is encoded on its own: the three have different shapes, so they cannot be
  # one list value chosen by a conditional.
  container_json = concat(
    [jsonencode(local.controller)],
    local.use_dd ? [jsonencode(local.log_router), jsonencode(local.datadog_agent)] : [],
  )
  container_definitions = format("[%s]", join(",", local.container_json))
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  task_role_arn            = aws_iam_role.task.arn
  execution_role_arn       = aws_iam_role.execution.arn
  container_definitions    = local.container_definitions
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }
  tags = var.tags
}

resource "aws_ecs_service" "this" {
  name             = var.name
  cluster          = var.cluster_name
  task_definition  = aws_ecs_task_definition.this.arn
  desired_count    = local.replicas
  launch_type      = "FARGATE"
  platform_version = "LATEST"
  # Without the database lease two controllers must never overlap: stop the old task before
  # starting the new one. With the lease, overlap is safe and keeps a leader during deploys.
  deployment_maximum_percent         = local.replicas == 1 ? 100 : 200
  deployment_minimum_healthy_percent = local.replicas == 1 ? 0 : 50
  enable_execute_command             = false
  propagate_tags                     = "SERVICE"

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = false
  }

  # The first task reads the policy parameter at start: it must exist, and the role may read it.
  depends_on = [aws_ssm_parameter.policy, aws_ssm_parameter.policy_seeded, aws_iam_role_policy.read_policy_parameter]

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  tags = var.tags
}
