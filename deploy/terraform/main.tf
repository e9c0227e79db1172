locals {
  replicas   = coalesce(var.replicas, var.database_url_parameter_arn == null ? 1 : 2)
  use_dd     = var.datadog != null
  run_flags  = concat(["run", "--listen", "${var.metrics_listen_address}:${var.metrics_port}", "--log-format", "json"], local.policy_flags, var.dry_run ? ["--dry-run"] : [], local.use_dd ? ["--dogstatsd", var.datadog.dogstatsd_address] : [])
  aws_region = data.aws_region.current.name

  # Datadog: which parts the module runs, and which the team brings (var.datadog).
  logs_to_datadog   = local.use_dd && try(var.datadog.log_router, "none") != "none"
  module_log_router = local.use_dd && try(var.datadog.log_router, "") == "module"
  module_agent      = local.use_dd && try(var.datadog.agent, "") == "module"
  dd_service        = try(var.datadog.service_tag, null)
  dd_env            = try(var.datadog.env, null)
  dd_version        = try(var.datadog.version, null)
  dd_extra_tags     = [for key in sort(keys(try(var.datadog.tags, {}))) : "${key}:${var.datadog.tags[key]}"]
  # Unified service tagging's env and version, then the team's own tags: on every log line
  # (dd_tags) and every metric (the agent's DogStatsD tags).
  dd_tags = concat(local.dd_env == null ? [] : ["env:${local.dd_env}"], local.dd_version == null ? [] : ["version:${local.dd_version}"], local.dd_extra_tags)
  # The controller reads DD_SERVICE, DD_ENV and DD_VERSION into each JSON log line, and tags its
  # DogStatsD metrics and events with them and with DD_TAGS (space-separated, as the agent reads it).
  dd_identity = local.use_dd ? concat(
    [{ name = "DD_SERVICE", value = local.dd_service }],
    local.dd_env == null ? [] : [{ name = "DD_ENV", value = local.dd_env }],
    local.dd_version == null ? [] : [{ name = "DD_VERSION", value = local.dd_version }],
    length(local.dd_extra_tags) == 0 ? [] : [{ name = "DD_TAGS", value = join(" ", local.dd_extra_tags) }],
  ) : []

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

  # Fluent Bit's Datadog output, for the module's log router or the team's own. The router
  # parses the JSON line (FireLens hands it over as a string under `log`), so the line's own
  # `message` is the body; the output's record time goes under a key of its own, so that the
  # line's ISO `timestamp` is the only one (scripts/terraform/check_firelens.py checks both).
  datadog_logs = local.logs_to_datadog ? {
    logDriver = "awsfirelens"
    options = merge(
      {
        Name           = "datadog"
        Host           = "http-intake.logs.${var.datadog.site}"
        TLS            = "on"
        provider       = "ecs"
        dd_service     = local.dd_service
        dd_source      = "redash-autoscaler"
        dd_message_key = "message"
        json_date_key  = "fluentbit_timestamp"
      },
      length(local.dd_tags) == 0 ? {} : { dd_tags = join(",", local.dd_tags) },
    )
    secretOptions = [{ name = "apikey", valueFrom = coalesce(var.datadog.api_key_parameter_arn, "-") }]
  } : null

  controller = merge(
    {
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
        # The policy's `killSwitch: ${REDASH_AUTOSCALER_KILL_SWITCH:-}` reads it (brakes.tf).
        local.kill_switch_location == null ? [] : [{ name = "REDASH_AUTOSCALER_KILL_SWITCH", value = local.kill_switch_location }],
        local.dd_identity,
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
      logConfiguration = jsondecode(local.logs_to_datadog ? jsonencode(local.datadog_logs) : jsonencode(local.cloudwatch_logs))
    },
    # The root filesystem stays read-only: the kill-switch file and ECS Exec's agent get task
    # volumes of their own (brakes.tf).
    # (Optional parts go through JSON: a conditional cannot return objects of different shapes.)
    jsondecode(length(local.controller_volumes) == 0 ? "{}" : jsonencode({
      mountPoints = [for volume in sort(keys(local.controller_volumes)) : { sourceVolume = volume, containerPath = local.controller_volumes[volume], readOnly = false }]
    })),
    # ECS Exec's agent starts child processes; an init process reaps them (AWS's advice for ECS Exec).
    jsondecode(var.enable_execute_command ? jsonencode({ linuxParameters = { initProcessEnabled = true } }) : "{}"),
    # Unified service tagging for what the agent collects about this container.
    jsondecode(local.use_dd ? jsonencode({
      dockerLabels = merge(
        { "com.datadoghq.tags.service" = local.dd_service },
        local.dd_env == null ? {} : { "com.datadoghq.tags.env" = local.dd_env },
        local.dd_version == null ? {} : { "com.datadoghq.tags.version" = local.dd_version },
      )
    }) : "{}"),
  )

  log_router = {
    name = "log-router"
    # Pinned: a moving tag changes the log path under a running service at its next deploy.
    image                  = "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.34.3.20260309"
    essential              = true
    readonlyRootFilesystem = false
    # parse-json.conf ships in the image: its filter parses the `log` key with the image's
    # `json` parser and keeps the other keys (Reserve_Data), so each field of the controller's
    # line reaches Datadog as a top-level attribute. Fargate takes only `file` config files.
    firelensConfiguration = {
      type = "fluentbit"
      options = {
        "enable-ecs-log-metadata" = "true"
        "config-file-type"        = "file"
        "config-file-value"       = "/fluent-bit/configs/parse-json.conf"
      }
    }
    logConfiguration = local.cloudwatch_logs
    user             = "0"
  }

  datadog_agent = {
    name                   = "datadog-agent"
    image                  = "public.ecr.aws/datadog/agent:7.80.0"
    essential              = false
    readonlyRootFilesystem = false
    environment = concat(
      [
        { name = "ECS_FARGATE", value = "true" },
        { name = "DD_SITE", value = try(var.datadog.site, "") },
        { name = "DD_APM_ENABLED", value = "false" },
        { name = "DD_DOGSTATSD_NON_LOCAL_TRAFFIC", value = "false" },
        # On every metric and event: `app` for the existing dashboards and monitors, then env,
        # version and the team's tags. The Redash service a metric is about is the controller's
        # own `redash_service` tag; `service` is the controller's (unified service tagging).
        { name = "DD_DOGSTATSD_TAGS", value = join(" ", concat(["app:${coalesce(local.dd_service, "-")}", "service:${coalesce(local.dd_service, "-")}"], local.dd_tags)) },
      ],
      [for entry in local.dd_identity : entry if entry.name != "DD_SERVICE"],
    )
    secrets          = [{ name = "DD_API_KEY", valueFrom = coalesce(try(var.datadog.api_key_parameter_arn, null), "-") }]
    portMappings     = [{ containerPort = 8125, protocol = "udp" }]
    logConfiguration = local.cloudwatch_logs
  }

  # Each container is encoded on its own: they have different shapes, so they cannot be one
  # list value chosen by a conditional.
  container_json = concat(
    [jsonencode(local.controller)],
    local.module_log_router ? [jsonencode(local.log_router)] : [],
    local.module_agent ? [jsonencode(local.datadog_agent)] : [],
    var.additional_container_definitions,
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
  # No host path: on Fargate each is a directory of the task's ephemeral storage, writable,
  # empty when the task starts, gone when it stops (tmpfs is not available on Fargate).
  dynamic "volume" {
    for_each = sort(keys(local.controller_volumes))
    content {
      name = volume.value
    }
  }
  tags = var.tags

  lifecycle {
    precondition {
      condition     = !(local.kill_switch_in_file && local.kill_switch_in_parameter)
      error_message = "Set kill_switch_file or kill_switch_parameter, not both: the policy has one killSwitch, and the controller reads one switch."
    }
    precondition {
      # A switch the module made but the policy does not read is a brake that silently does
      # nothing.
      condition     = !(local.kill_switch_in_file || local.kill_switch_in_parameter) || local.policy_reads_kill_switch
      error_message = "A kill switch is configured, but policy_yaml does not read it: add the line killSwitch: $${REDASH_AUTOSCALER_KILL_SWITCH:-} to the policy (or name the same file or ssm: parameter)."
    }
    precondition {
      condition     = local.kill_switch_in_file || local.kill_switch_in_parameter || local.policy_kill_switch_safe
      error_message = "policy_yaml has a killSwitch the module did not set up: an SSM parameter the task role may not read (AccessDenied every tick) or a file on the read-only root filesystem that nothing can write. Set kill_switch_parameter or kill_switch_file, or write killSwitch: $${REDASH_AUTOSCALER_KILL_SWITCH:-} (empty when neither is set)."
    }
    precondition {
      condition     = !local.use_dd || !(local.logs_to_datadog || local.module_agent) || try(var.datadog.api_key_parameter_arn, null) != null
      error_message = "datadog.api_key_parameter_arn is needed when logs go to Datadog (log_router module or own) or the module runs the agent."
    }
    precondition {
      condition     = !local.use_dd || try(var.datadog.log_router, "") != "own" || anytrue([for definition in var.additional_container_definitions : can(jsondecode(definition).firelensConfiguration.type)])
      error_message = "datadog.log_router = \"own\" needs your FireLens log router in additional_container_definitions (a container with firelensConfiguration)."
    }
  }
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
  enable_execute_command             = var.enable_execute_command
  propagate_tags                     = "SERVICE"

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = false
  }

  # The first task reads the policy parameter at start: it must exist, and the role may read it.
  depends_on = [aws_ssm_parameter.policy, aws_ssm_parameter.policy_seeded, module.read_policy_parameter]

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  tags = var.tags
}
