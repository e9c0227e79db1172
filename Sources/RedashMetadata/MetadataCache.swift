import AutoscalerCore
import Logging
import PostgresClient
import ServiceLifecycle
import SystemClock

/// Redash's metadata as the controller uses it each tick, read on slower intervals of its own:
/// queue routing and scheduled queries every `scheduleRefresh`, runtime statistics (a scan of
/// `query_results`) every `statsRefresh`. The per-tick path (`forecast`) reads only memory. A
/// failed refresh keeps the last good data and is retried at the next interval; a schema that
/// does not fit turns the forecast off with one clear message.
public actor MetadataCache: ForecastSource {
    let reader: RedashMetadataReader
    let logger: Logger
    public let scheduleRefresh: Duration
    public let statsRefresh: Duration
    public let statsWindow: Duration

    public private(set) var schema: RedashSchema?
    public private(set) var routes: [DataSourceRoute] = []
    public private(set) var scheduled = RedashMetadataReader.ScheduledQueries(queries: [], skipped: [])
    public private(set) var stats: [String: RuntimeStats] = [:]
    /// Why the forecast is off or stale, when it is.
    public private(set) var problem: String?
    private var scheduleReadAt: Instant?
    private var statsReadAt: Instant?

    public init(
        reader: RedashMetadataReader, scheduleRefresh: Duration = .seconds(60), statsRefresh: Duration = .seconds(600),
        statsWindow: Duration = .seconds(7 * 86_400), logger: Logger = Logger(label: "redash-metadata")
    ) {
        self.reader = reader
        self.scheduleRefresh = scheduleRefresh
        self.statsRefresh = statsRefresh
        self.statsWindow = statsWindow
        self.logger = logger
    }

    /// The first load, waited for at most `limit`, so that the first decision sees the same
    /// forecast as the later ones. True when loaded; false when the database answered with a
    /// problem (`problem` says which) or is slower than `limit` (the load then goes on in the
    /// background, and the next refresh picks it up).
    public func waitForFirstLoad(limit: Duration, now: @escaping @Sendable () -> Instant = WallClock.now) async -> Bool {
        if isLoaded { return true }
        // The load races the limit; whichever ends first cancels the other. A load cut short
        // keeps nothing half-read, and `MetadataRefresher` loads again at its first turn.
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.refresh(now: now()) }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            group.cancelAll()
        }
        return isLoaded
    }

    /// Refreshes whatever is due at `now`. Never throws: problems are kept in `problem`.
    public func refresh(now: Instant) async {
        do {
            if schema == nil {
                let found = try await reader.inspectSchema()
                schema = found
                logger.info("Redash schema recognised", metadata: ["era": "\(found.era.rawValue)", "scheduleFailures": "\(found.hasScheduleFailures)"])
            }
            guard let schema else { return }
            if scheduleReadAt.map({ now - $0 >= scheduleRefresh }) ?? true {
                routes = try await reader.routing()
                scheduled = try await reader.scheduledQueries(schema: schema)
                scheduleReadAt = now
                if !scheduled.skipped.isEmpty {
                    logger.warning("scheduled queries with unreadable schedules skipped", metadata: [
                        "count": "\(scheduled.skipped.count)", "queryIDs": "\(scheduled.skipped.prefix(10).map(\.queryID))",
                    ])
                }
            }
            if statsReadAt.map({ now - $0 >= statsRefresh }) ?? true {
                stats = try await reader.runtimeStats(window: statsWindow)
                statsReadAt = now
            }
            problem = nil
        } catch is CancellationError {
            // Shutdown: nothing failed, and the last good copy stays as it was.
        } catch let error as MetadataError {
            if problem != error.message { logger.error("scheduled-query forecast off", metadata: ["reason": "\(error.message)"]) }
            problem = error.message
        } catch {
            let message = "Redash metadata not refreshed: \(error)"
            if problem != message { logger.warning("Redash metadata refresh failed; keeping the last good copy", metadata: ["error": "\(error)"]) }
            problem = message
        }
    }

    /// The forecast from what is in memory, with the scheduler's state from Redis (previous
    /// starts by query id, paused data sources, locks, the refresh grid's phase). `nil` before
    /// the first successful read.
    public func forecast(now: Instant, scheduler: RedashSchedulerState = RedashSchedulerState(), horizonMinutes: Int) -> ScheduledWorkForecast? {
        guard scheduleReadAt != nil, let schema else { return nil }
        let forecast = ScheduledWorkForecast.build(
            queries: scheduled.queries, skipped: scheduled.skipped, routes: routes, scheduler: scheduler,
            neverRunIsDue: schema.era.runsNeverRunQueries, stats: stats, now: now, horizonMinutes: horizonMinutes)
        lastLocksToCheck = forecast.locksToCheck
        return forecast
    }

    /// The ids of Redash's data sources, as last read (empty before the first read).
    public var dataSourceIDs: [Int] { routes.map(\.id) }

    /// Whether scheduled queries have been read at least once.
    public var isLoaded: Bool { scheduleReadAt != nil }

    /// How far ahead the reconciler's forecast looks.
    public static let tickHorizonMinutes = 10

    /// Lock keys the last forecast wanted looked up.
    private var lastLocksToCheck: [String] = []

    public func schedulerRequest() async -> SchedulerStateRequest? {
        guard scheduleReadAt != nil else { return nil }
        return SchedulerStateRequest(dataSources: dataSourceIDs, locks: lastLocksToCheck)
    }

    public func snapshot(now: Instant, scheduler: RedashSchedulerState?, schedulerIsStale: Bool) async -> ForecastSnapshot {
        let runtimes = stats.mapValues { Duration.seconds($0.p50) }
        let routed = routes.routedQueues
        guard let forecast = forecast(now: now, scheduler: scheduler ?? RedashSchedulerState(), horizonMinutes: Self.tickHorizonMinutes) else {
            return ForecastSnapshot(due: nil, runtimes: runtimes, routedQueues: routed, problem: problem)
        }
        // A dead scheduler enqueues nothing: capacity asked for its queries would idle. (The
        // reconciler already reports the dead scheduler.)
        let due = schedulerIsStale ? [:] : Dictionary(uniqueKeysWithValues: forecast.queues.map { ($0.queue, $0.due) })
        return ForecastSnapshot(
            due: due, runtimes: runtimes, skippedSchedules: forecast.skipped.count,
            nextRefresh: schedulerIsStale ? nil : forecast.nextRefresh, routedQueues: routed, problem: problem,
            blockedLocks: forecast.blockedLocks.mapValues { JobLock.blocked(until: $0.until, cause: $0.cause) })
    }
}

/// Refreshes the metadata cache on its own, as a service of the controller's group: a slow
/// database delays the forecast, never a tick. It checks every `period`; the cache decides what
/// is due (schedules every minute, statistics every ten).
public struct MetadataRefresher: Service, CustomStringConvertible {
    let cache: MetadataCache
    let period: Duration
    let now: @Sendable () -> Instant

    public init(cache: MetadataCache, period: Duration = .seconds(5), now: @escaping @Sendable () -> Instant = WallClock.now) {
        self.cache = cache
        self.period = period
        self.now = now
    }

    public var description: String { "MetadataRefresher(every \(period))" }

    public func run() async throws {
        let cache = self.cache, now = self.now
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            // Shutdown cancels a refresh under way: one waiting on a database that stopped
            // answering would otherwise hold the group (whose services stop one after another)
            // for a statement's whole client deadline before the loop is even told.
            await cancelWhenGracefulShutdown { await cache.refresh(now: now()) }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: period) }
        }
    }
}
