/// Every metric the controller records: its name, kind, labels and help text, declared once.
/// `/metrics` (its `# HELP` lines), DogStatsD and `docs/operations.md#metrics` all follow this
/// list, and `MetricCatalogueTests` checks that they do.
public enum Metric: String, CaseIterable, Sendable {
    case desiredTasks = "redash_autoscaler_desired_tasks"
    case proposedTasks = "redash_autoscaler_proposed_tasks"
    case runningTasks = "redash_autoscaler_running_tasks"
    case queuePendingJobs = "redash_autoscaler_queue_pending_jobs"
    case queueRunningJobs = "redash_autoscaler_queue_running_jobs"
    case queueOldestAge = "redash_autoscaler_queue_oldest_age_seconds"
    case queueJobsByClass = "redash_autoscaler_queue_jobs_by_class"
    case blockedScheduledQueries = "redash_autoscaler_blocked_scheduled_queries"
    case celeryNodes = "redash_autoscaler_celery_nodes"
    case celeryRounds = "redash_autoscaler_celery_rounds_total"
    case leader = "redash_autoscaler_leader"
    case scaleActions = "redash_autoscaler_scale_actions_total"
    case wouldScaleActions = "redash_autoscaler_would_scale_actions_total"
    case controllerMode = "redash_autoscaler_controller_mode"
    case serviceMode = "redash_autoscaler_service_mode"
    case operatorHoldTasks = "redash_autoscaler_operator_hold_tasks"
    case schedulerStale = "redash_autoscaler_scheduler_stale"
    case policyReloadFailures = "redash_autoscaler_policy_reload_failures_total"
    case reconciles = "redash_autoscaler_reconciles_total"
    case earlyReconciles = "redash_autoscaler_early_reconciles_total"
    case errors = "redash_autoscaler_errors_total"
    case skippedSchedules = "redash_autoscaler_skipped_schedules"
    case lastScaleTimestamp = "redash_autoscaler_last_scale_timestamp_seconds"
    case unmappedBusyWorkers = "redash_autoscaler_unmapped_busy_workers"
    case taskProtectionChanges = "redash_autoscaler_task_protection_changes_total"
    case forecastRefreshesCompared = "redash_autoscaler_forecast_refreshes_compared_total"
    case forecastRefreshAbsoluteError = "redash_autoscaler_forecast_refresh_absolute_error_total"
    case forecastRefreshError = "redash_autoscaler_forecast_refresh_error"
    case queueNameProblems = "redash_autoscaler_queue_name_problems"
    case ecsRequests = "redash_autoscaler_ecs_requests_total"
    case ecsRequestsLastTick = "redash_autoscaler_ecs_requests_last_tick"
    case reconcileDuration = "redash_autoscaler_reconcile_duration_seconds"
    case capacityStalled = "redash_autoscaler_capacity_stalled"
    case taskStartSeconds = "redash_autoscaler_task_start_seconds"

    /// How a metric is kept.
    public enum Kind: String, Sendable {
        /// A value that goes up and down; the last one set stands.
        case gauge
        /// A count that only goes up.
        case counter
        /// Observations in buckets (durations, in seconds).
        case histogram
    }

    /// What the catalogue says of a metric.
    public struct Definition: Sendable {
        public var kind: Kind
        /// Label names, sorted.
        public var labels: [String]
        public var help: String

        init(_ kind: Kind, _ labels: [String], _ help: String) {
            self.kind = kind
            self.labels = labels.sorted()
            self.help = help
        }
    }

    /// The metric's kind, labels and help.
    public var definition: Definition {
        switch self {
        case .desiredTasks: Definition(.gauge, ["service"], "desiredCount ECS reports for the service")
        case .proposedTasks: Definition(.gauge, ["service"], "desiredCount the controller wants for the service")
        case .runningTasks: Definition(.gauge, ["service"], "running tasks ECS reports for the service")
        case .queuePendingJobs: Definition(.gauge, ["queue"], "jobs waiting in the queue")
        case .queueRunningJobs: Definition(.gauge, ["queue"], "jobs running from the queue (RQ; Celery with celery.inspect)")
        case .queueOldestAge: Definition(.gauge, ["queue"], "age of the oldest waiting job")
        case .queueJobsByClass:
            Definition(
                .gauge, ["class", "queue"],
                "waiting jobs by what a new task could do with them: servable, held (prefetched by a busy node), stranded (no live holder), unconsumed (no worker of the service listens on the queue)")
        case .blockedScheduledQueries:
            Definition(.gauge, [], "scheduled queries Redash will not enqueue because their lock points at a job that will not run")
        case .celeryNodes: Definition(.gauge, ["state"], "Celery worker nodes the last remote-control round reached and that answered")
        case .celeryRounds: Definition(.counter, ["result"], "Celery remote-control rounds, complete (every node answered) or not")
        case .leader: Definition(.gauge, [], "1 when this controller holds the lease (or needs none)")
        case .scaleActions:
            Definition(.counter, ["direction", "service"], "desiredCount changes sent to ECS and accepted, by direction (dry-run counts in would_scale_actions_total)")
        case .wouldScaleActions: Definition(.counter, ["direction", "service"], "changes a dry-run or paused service would have made, by direction")
        case .controllerMode:
            Definition(
                .gauge, ["mode"],
                "1 for the controller-wide mode in force (run --dry-run, the policy's mode and the kill switch combined), 0 for the others")
        case .serviceMode:
            Definition(.gauge, ["mode", "service"], "1 for the mode the service was handled in this tick (active, dry-run, paused), 0 for the others")
        case .operatorHoldTasks: Definition(.gauge, ["service"], "the task count an operator's hold keeps the service at; absent without a hold")
        case .schedulerStale: Definition(.gauge, [], "1 when Redash's scheduler looks dead")
        case .policyReloadFailures: Definition(.counter, ["reason"], "policy files rejected on reload")
        case .reconciles: Definition(.counter, ["outcome"], "reconciles by outcome")
        case .earlyReconciles: Definition(.counter, [], "reconciles started before the interval because the queue watch (reactInterval) saw work the last plan had no room for")
        case .errors: Definition(.counter, ["dependency"], "failed reads or writes by dependency")
        case .skippedSchedules: Definition(.gauge, [], "scheduled queries whose schedule could not be read")
        case .lastScaleTimestamp: Definition(.gauge, ["service"], "Unix time of the last desiredCount change applied to the service")
        case .unmappedBusyWorkers: Definition(.gauge, ["service"], "busy workers (RQ workers; Celery pool slots with celery.inspect) that could not be matched to an ECS task")
        case .taskProtectionChanges: Definition(.counter, ["action", "service"], "tasks whose scale-in protection was set or released, by action")
        case .forecastRefreshesCompared:
            Definition(.counter, [], "Redash refreshes whose jobs enqueued (outdated_queries_count less the locks Redash held) were compared with the forecast")
        case .forecastRefreshAbsoluteError:
            Definition(.counter, [], "sum over compared refreshes of |jobs Redash enqueued - jobs the forecast said|")
        case .forecastRefreshError: Definition(.gauge, [], "jobs Redash's last refresh enqueued minus what the forecast said")
        case .queueNameProblems:
            Definition(.gauge, ["kind"], "policy queues that exist nowhere (missing) and queues with work no service consumes (unconsumed)")
        case .ecsRequests: Definition(.counter, ["action"], "ECS API requests sent, by action (every attempt, retries included)")
        case .ecsRequestsLastTick: Definition(.gauge, [], "ECS API requests the last reconcile sent")
        case .reconcileDuration: Definition(.histogram, [], "wall time of one reconcile")
        case .capacityStalled:
            Definition(.gauge, ["service"], "1 while tasks asked for have not started for longer than tasks take to start (no more are asked for)")
        case .taskStartSeconds: Definition(.gauge, ["quantile", "service"], "how long the service's tasks took to start (created to running), learned from ECS")
        }
    }

    /// Help texts by name, for the Prometheus exporter.
    static let help: [String: String] = Dictionary(uniqueKeysWithValues: allCases.map { ($0.rawValue, $0.definition.help) })
}
