# A dashboard and monitors for the controller's DogStatsD metrics (redash_autoscaler.*), which
# the main module's Datadog agent sidecar forwards. The Redash service a metric or an event is
# about is its `redash_service` tag; `service` is the controller's own (unified service tagging),
# and `env` (var.env) keeps staging and production apart.

locals {
  # Every query's scope: the controller's `app` tag, and its env when given.
  scope = join(",", concat(["app:${var.service_tag}"], var.env == null ? [] : ["env:${var.env}"]))
  tags  = concat(["service:${var.service_tag}"], var.env == null ? [] : ["env:${var.env}"])
}

resource "datadog_dashboard_json" "redash_autoscaler" {
  dashboard = jsonencode({
    title       = var.env == null ? "Redash autoscaler" : "Redash autoscaler (${var.env})"
    description = "Queues, tasks and the controller's actions (deploy/terraform/datadog)."
    layout_type = "ordered"
    widgets = [
      {
        definition = {
          title    = "Oldest waiting job per queue (s)"
          type     = "timeseries"
          requests = [{ q = "max:redash_autoscaler.queue_oldest_age_seconds{${local.scope}} by {queue}", display_type = "line" }]
        }
      },
      {
        definition = {
          title    = "Pending jobs per queue"
          type     = "timeseries"
          requests = [{ q = "max:redash_autoscaler.queue_pending_jobs{${local.scope}} by {queue}", display_type = "bars" }]
        }
      },
      {
        definition = {
          title = "Desired vs proposed vs running tasks"
          type  = "timeseries"
          requests = [
            { q = "max:redash_autoscaler.desired_tasks{${local.scope}} by {redash_service}", display_type = "line" },
            { q = "max:redash_autoscaler.proposed_tasks{${local.scope}} by {redash_service}", display_type = "line" },
            { q = "max:redash_autoscaler.running_tasks{${local.scope}} by {redash_service}", display_type = "line" },
          ]
        }
      },
      {
        definition = {
          title = "Scale actions"
          type  = "timeseries"
          requests = [
            { q = "sum:redash_autoscaler.scale_actions_total{${local.scope}} by {direction}.as_count()", display_type = "bars" },
            # Dry-run and paused services: what the controller would have done.
            { q = "sum:redash_autoscaler.would_scale_actions_total{${local.scope}} by {direction}.as_count()", display_type = "bars" },
          ]
        }
      },
      {
        definition = {
          # Only servable jobs drive a scale-up (docs/queues.md#servable-demand): held, stranded
          # and unconsumed jobs wait, but a new task would not take them.
          title    = "Waiting jobs by class"
          type     = "timeseries"
          requests = [{ q = "max:redash_autoscaler.queue_jobs_by_class{${local.scope}} by {queue,class}", display_type = "bars" }]
        }
      },
      {
        definition = {
          title    = "Controller errors by dependency"
          type     = "timeseries"
          requests = [{ q = "sum:redash_autoscaler.errors_total{${local.scope}} by {dependency}.as_count()", display_type = "bars" }]
        }
      },
      {
        definition = {
          # With celery.inspect (Redash v7–v8): nodes answering the remote-control round, and
          # rounds that knew every running task.
          title = "Celery nodes and rounds"
          type  = "timeseries"
          requests = [
            { q = "max:redash_autoscaler.celery_nodes{${local.scope}} by {state}", display_type = "line" },
            { q = "sum:redash_autoscaler.celery_rounds_total{${local.scope}} by {result}.as_count()", display_type = "bars" },
          ]
        }
      },
      {
        definition = {
          title = "Leader and Redash scheduler health"
          type  = "timeseries"
          requests = [
            { q = "max:redash_autoscaler.leader{${local.scope}}", display_type = "line" },
            { q = "max:redash_autoscaler.scheduler_stale{${local.scope}}", display_type = "line" },
          ]
        }
      },
    ]
  })
}

resource "datadog_monitor" "scheduler_dead" {
  name    = "Redash scheduler looks dead (scheduled queries are not running)"
  type    = "metric alert"
  query   = "min(last_5m):max:redash_autoscaler.scheduler_stale{${local.scope}} >= 1"
  message = "Redash's scheduler has not refreshed redash:status for minutes: scheduled queries are not being enqueued. Runbook: docs/operations.md#scheduler-dead. ${var.notify}"
  monitor_thresholds {
    critical = 1
  }
  tags = local.tags
}

resource "datadog_monitor" "controller_errors" {
  name    = "Redash autoscaler cannot read or act"
  type    = "metric alert"
  query   = "sum(last_10m):sum:redash_autoscaler.errors_total{${local.scope}} by {dependency}.as_count() > 50"
  message = "The controller keeps failing on {{dependency.name}}; it holds every service where it is while this lasts. Runbook: docs/operations.md. ${var.notify}"
  monitor_thresholds {
    critical = 50
  }
  tags = local.tags
}

resource "datadog_monitor" "queue_wait" {
  name    = "Redash queries wait too long"
  type    = "metric alert"
  query   = "min(last_10m):max:redash_autoscaler.queue_oldest_age_seconds{${local.scope}} by {queue} > ${var.max_wait_seconds}"
  message = "Jobs on {{queue.name}} have waited more than ${var.max_wait_seconds} s for 10 minutes: the service is at maxTasks, or ECS cannot start tasks. Runbook: docs/operations.md#a-service-stuck-at-maxtasks. ${var.notify}"
  monitor_thresholds {
    critical = var.max_wait_seconds
  }
  tags = local.tags
}

resource "datadog_monitor" "no_leader" {
  name    = "Redash autoscaler has no leader"
  type    = "metric alert"
  query   = "max(last_10m):max:redash_autoscaler.leader{${local.scope}} < 1"
  message = "No controller holds the lease: nothing is scaling Redash. Runbook: docs/operations.md#two-controllers-or-none. ${var.notify}"
  monitor_thresholds {
    critical = 1
  }
  notify_no_data    = true
  no_data_timeframe = 15
  tags              = local.tags
}

resource "datadog_monitor" "policy_rejected" {
  name    = "Redash autoscaler rejected a policy edit"
  type    = "metric alert"
  query   = "sum(last_1h):sum:redash_autoscaler.policy_reload_failures_total{${local.scope}}.as_count() > 0"
  message = "A new policy was rejected (invalid, or a change that needs a restart): the controller keeps running on the last good one, so the edit did not take effect. The controller's log line 'new policy rejected' has the file, line and column. Runbook: docs/operations.md#an-edit-of-the-policy-did-not-take-effect. ${var.notify}"
  monitor_thresholds {
    critical = 0
  }
  tags = local.tags
}

# docs/operations.md#suggested-alerts, "Celery workers silent": with celery.inspect, remote-control
# rounds that a reached node did not answer. Without celery.inspect the counter never moves and
# the monitor stays quiet.
resource "datadog_monitor" "celery_silent" {
  count   = var.celery_monitor ? 1 : 0
  name    = "Redash Celery workers do not answer the autoscaler"
  type    = "metric alert"
  query   = "sum(last_10m):sum:redash_autoscaler.celery_rounds_total{${local.scope},result:incomplete}.as_count() >= 5"
  message = "At least 5 of the last 10 minutes' Celery remote-control rounds were incomplete: a worker node that was reached does not answer (stuck, overloaded), or no node is subscribed. Running queries are unknown, so scale-in relies on the stabilization window alone. Compare redash_autoscaler.celery_nodes{state:answered} with the running tasks; `redash-autoscaler queues --inspect-celery` names the counts. Runbook: docs/operations.md#suggested-alerts. ${var.notify}"
  monitor_thresholds {
    critical = 5
  }
  tags = local.tags
}

# docs/operations.md#suggested-alerts, "stranded work": prefetched Celery messages no live node
# holds, left by a worker killed at ECS's stopTimeout. Only with celery.inspect; without it the
# class is never counted and the monitor stays quiet.
resource "datadog_monitor" "stranded_work" {
  name    = "Redash Celery messages stranded by a killed worker"
  type    = "metric alert"
  query   = "min(last_10m):max:redash_autoscaler.queue_jobs_by_class{${local.scope},class:stranded} by {queue} > 0"
  message = "Messages on {{queue.name}} have sat in kombu's unacked with no live worker holding them for 10 minutes: a worker was killed at ECS's stopTimeout while it held them. Nothing runs them until kombu's visibility timeout (1 h on Redash v8) has passed since they were fetched, and their queries stay locked until then; the autoscaler does not add tasks for them. Its log line 'stranded in kombu's unacked' says when they come back. To avoid it, raise the workers' stopTimeout (up to 120 s on Fargate) or run Celery with task_acks_late. Docs: docs/queues.md#stranded. ${var.notify}"
  monitor_thresholds {
    critical = 0
  }
  tags = local.tags
}

# docs/operations.md#suggested-alerts, "unconsumed work": jobs on a queue none of its service's
# live workers listens on.
resource "datadog_monitor" "unconsumed_work" {
  name    = "Redash jobs wait on a queue no worker listens on"
  type    = "metric alert"
  query   = "min(last_10m):max:redash_autoscaler.queue_jobs_by_class{${local.scope},class:unconsumed} by {queue} > 0"
  message = "Jobs have waited on {{queue.name}} for 10 minutes, and none of its service's live workers listens on it: nothing will run them, and the autoscaler does not add tasks for them. Add the queue to the workers' QUEUES, or route the data source (data_sources.queue_name, scheduled_queue_name) to a queue they consume; the autoscaler's log names the queues the workers do listen on. Docs: docs/queues.md#unconsumed. ${var.notify}"
  monitor_thresholds {
    critical = 0
  }
  tags = local.tags
}

# docs/operations.md#suggested-alerts, "blocked scheduled queries": queries whose lock points at a
# job that will not run. Only with a database (the forecast reads the locks); without one the
# metric is never sent and the monitor stays quiet.
resource "datadog_monitor" "blocked_queries" {
  count   = var.blocked_queries_monitor ? 1 : 0
  name    = "Redash scheduled queries blocked by their lock"
  type    = "metric alert"
  query   = "min(last_10m):max:redash_autoscaler.blocked_scheduled_queries{${local.scope}} > 0"
  message = "For 10 minutes, scheduled queries have been held back by a lock (query_hash_job:<data source>:<query hash>) that points at a job that will not run: a task killed with its worker, or a job waiting on a queue no worker listens on. Redash will not run these queries until the lock expires (up to 12 h). The autoscaler's log line 'a scheduled query is held back by its lock' names each lock, its job and its expiry. Docs: docs/database.md#query-locks. ${var.notify}"
  monitor_thresholds {
    critical = 0
  }
  tags = local.tags
}

# docs/operations.md#suggested-alerts, "capacity stalled": tasks asked for have not started for
# longer than the service's tasks take to start. The controller stops asking for more; what is
# wrong is ECS's (placement, image, subnet, quota), and only people can fix it.
resource "datadog_monitor" "capacity_stalled" {
  name    = "Redash worker tasks do not start"
  type    = "metric alert"
  query   = "max(last_5m):max:redash_autoscaler.capacity_stalled{${local.scope}} by {redash_service} > 0"
  message = "Tasks of {{redash_service.name}} that the autoscaler asked for have not started for longer than its tasks take to start (the learned p90 plus a minute, or ecs.taskStartTimeout). The autoscaler asks for no more until they do and logs ECS's own reason ('tasks asked for are not starting', field ecsReason): placement, capacity, image pull, subnet addresses, Fargate quota. Runbook: docs/operations.md#a-service-whose-tasks-never-start. ${var.notify}"
  monitor_thresholds {
    critical = 0
  }
  tags = local.tags
}
