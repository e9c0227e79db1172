import AWSClient
import AutoscalerCore
import Foundation
import IntegrationSupport
import PostgresClient
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// One writer under every failure, end to end: two real `run` processes (A leads, B stands by)
/// on one PostgreSQL, each talking to moto through its own recording proxy
/// (Python/fault_proxy.py), with real RQ jobs in redis-server. Every test checks, from the
/// proxies' records, that no write of the old leader lands once the new leader has written and
/// that the new leader waited out its guard; and, from both `/metrics` sampled together every
/// ~200 ms, that no two controllers say at once that they lead. The figures (takeover: from the
/// fault to the new leader's first write) are printed as `failover: …` lines for
/// docs/benchmarks.md. The kill -9 case, `twoControllers`, is in ControllerLeaderTests.swift.
///
/// The lease lasts 15 s from a renewal by the database's clock; the leader counts 13 s of it by
/// its own; a new leader waits 6 s before its first write; the policy ticks every second.
@Suite("Failover: one writer under stop, delay and partition", .testThreads, .serialized)
struct ControllerFailoverTests {
    static let adhoc = "redash-adhoc-worker"
    static let lease = "redash-autoscaler lease"
    /// ControllerLoop.shutdownGrace: from SIGTERM to exit, whatever hangs.
    static let shutdownGrace = 15.0
    /// The lease from the old leader's last renewal, plus a tick, plus room for a loaded machine.
    static let takeoverBound = 15.0 + 1 + 9
    /// A reconcile that takes longer is a hang, not a slow dependency: each PostgreSQL statement
    /// of a tick has a client deadline (4 s for the lease, 3 s for the decision log), a reconnect
    /// 3 s (the lease) or 5 s.
    static let stallBound = 45.0

    /// The old leader's writes that were not over (answered) before the new leader's first
    /// write was sent: each would be a second writer.
    static func lateWrites(_ old: [ProxyRecord], before newFirst: ProxyRecord) -> [ProxyRecord] {
        guard let first = newFirst.forwarded else { return [] }
        return old.filter { $0.forwarded != nil && ($0.answered ?? .infinity) >= first }
    }

    /// The first write a controller sent on to moto.
    static func firstSent(_ records: [ProxyRecord]) -> ProxyRecord? {
        records.filter { $0.forwarded != nil }.min { $0.forwarded! < $1.forwarded! }
    }

    /// When the lease was last taken (Unix time, by the database's clock) and its generation.
    static func leaseTaken(_ world: FailoverWorld) async throws -> (at: Double, generation: Int) {
        let row = try await world.admin.query(FailoverWorld.leaseSQL)
        return (row[0, "at"]?.double ?? 0, row[0, "generation"]?.int ?? 0)
    }

    /// What every scenario must show once the new leader has written: it wrote nothing before
    /// the fault, the old leader's writes were all over before its first, it waited out its
    /// guard, and the two never said at once that they led. Returns the new leader's first write.
    @discardableResult
    static func checkOneWriter(_ world: FailoverWorld, fault: Date, samples: LeaderSamples, scenario: String) async throws -> ProxyRecord? {
        let (a, b) = try await world.writes()
        #expect(b.allSatisfy { $0.received >= fault.timeIntervalSince1970 }, "\(scenario): the standby wrote before the fault: \(b)")
        guard let first = firstSent(b) else {
            Issue.record("\(scenario): the new leader never wrote; the old leader's writes: \(a)")
            return nil
        }
        let late = lateWrites(a, before: first)
        #expect(late.isEmpty, "\(scenario): the old leader wrote after the new leader's first write \(first): \(late)")
        // The guard, by the database's clock (the same machine's as the proxy's).
        let taken = try await leaseTaken(world)
        #expect(first.forwarded! >= taken.at + 6 - 0.5, "\(scenario): first write \(first) \(first.forwarded! - taken.at) s after the lease was taken")
        // The decision log agrees: each generation's applied decisions come from one controller,
        // the new one's carry the new generation, and every older one was decided before it began.
        // (Recorded just after the UpdateService returns: a moment after moto shows it.)
        let sql = """
            SELECT controller, lease_generation AS generation, extract(epoch FROM decided_at)::float8 AS at
            FROM redash_autoscaler.decisions WHERE mode = 'applied' ORDER BY decided_at
            """
        _ = await eventually(timeout: 5) {
            (try? await world.admin.query(sql)).map { rows in rows.rows.indices.contains { rows[$0, "generation"]?.int == taken.generation } } == true
        }
        let applied = try await world.admin.query(sql)
        let decisions = applied.rows.indices.map { (controller: applied[$0, "controller"]?.string ?? "", generation: applied[$0, "generation"]?.int ?? 0, at: applied[$0, "at"]?.double ?? 0) }
        let writers = Dictionary(grouping: decisions, by: \.generation).mapValues { Set($0.map(\.controller)) }
        #expect(writers.values.allSatisfy { $0.count == 1 } && writers[taken.generation] != nil && decisions.allSatisfy { $0.generation >= 1 },
                "\(scenario): applied decisions by generation: \(writers)")
        #expect(decisions.filter { $0.generation < taken.generation }.allSatisfy { $0.at < taken.at },
                "\(scenario): a decision of an older generation after generation \(taken.generation) began: \(decisions)")
        // /metrics renders the gauge from the lease as it stands by the process's own clock:
        // a leader woken from SIGSTOP, or one whose tick waits on a database it cannot reach,
        // says 0 as soon as its local lease has ended, before the standby can take it.
        let overlapping = samples.overlaps.count
        #expect(overlapping == 0, "\(scenario): both controllers reported redash_autoscaler_leader 1: \(samples.describeOverlaps(since: fault))")
        return first
    }

    /// "X s" from `start` to a Unix time, or "none".
    static func after(_ start: Date, _ time: Double?) -> String {
        time.map { figure(seconds(from: start, to: $0)) } ?? "none"
    }

    static func checkExit(_ exited: Double?, _ who: String, _ controller: ControllerProcess) {
        #expect(exited.map { $0 <= shutdownGrace } == true, "\(who): SIGTERM to exit \(exited.map(figure) ?? "more than 40 s")\n\(controller.process.output.suffix(2000))")
        #expect(controller.process.terminationStatus == 0, "\(who) exited \(controller.process.terminationStatus ?? -1)")
    }

    // MARK: SIGTERM of the leader

    @Test("SIGTERM of the leader, nothing broken: it exits at once and gives the lease up; the standby takes it at its next tick, not at its expiry, and writes after its guard")
    func terminatedLeader() async throws {
        let world = try await FailoverWorld.make()
        let (a, b) = try await world.startPair()
        let fault = Date()
        let samples = try await withLeaderSampling([a, b]) { samples in
            let exited = await a.terminate()
            Self.checkExit(exited, "the leader", a)
            try await world.world.enqueue("queries", count: 2)
            #expect(await eventually(timeout: 30) { Self.firstSent((try? await world.proxyB.records()) ?? []) != nil },
                    "\(b.process.output.suffix(3000))")
            // Released, not expired: taken a tick or so after the exit, far sooner than the 15 s lease.
            let taken = try await Self.leaseTaken(world)
            #expect(taken.generation == 2 && seconds(from: fault, to: taken.at) <= 8, "lease taken \(Self.after(fault, taken.at)) after SIGTERM")
            let first = Self.firstSent(try await world.proxyB.records())
            print("failover: SIGTERM leader: exits \(exited.map(figure) ?? "never") after SIGTERM; standby takes the lease \(Self.after(fault, taken.at)) after it; "
                + "takeover \(Self.after(fault, first?.forwarded))")
            return samples
        }
        try await Self.checkOneWriter(world, fault: fault, samples: samples, scenario: "SIGTERM leader")
        let exited = await b.terminate()
        Self.checkExit(exited, "the new leader", b)
    }

    // MARK: SIGSTOP of the leader

    @Test("SIGSTOP of the leader for 30 s: the standby takes over within the lease and a tick; woken, the old leader finds the lease gone and writes nothing")
    func stoppedLeader() async throws {
        let world = try await FailoverWorld.make()
        let (a, b) = try await world.startPair()
        defer { a.process.signal(SIGCONT) }
        let fault = Date()
        let samples = try await withLeaderSampling([a, b]) { samples in
            a.process.signal(SIGSTOP)
            try await world.world.enqueue("queries", count: 2)
            #expect(await eventually(timeout: 40) { Self.firstSent((try? await world.proxyB.records()) ?? []) != nil },
                    "\(b.process.output.suffix(3000))")
            let taken = try await Self.leaseTaken(world)
            #expect(taken.generation == 2 && seconds(from: fault, to: taken.at) <= Self.takeoverBound, "lease taken \(Self.after(fault, taken.at)) after the stop")
            let first = Self.firstSent(try await world.proxyB.records())
            print("failover: SIGSTOP leader: standby takes the lease \(Self.after(fault, taken.at)) after the stop; takeover \(Self.after(fault, first?.forwarded))")

            // The old leader sleeps on, 30 s in all; meanwhile more work comes, which it would
            // write if it still thought it led.
            let rest = 30 - Date().timeIntervalSince(fault)
            if rest > 0 { try await Task.sleep(for: .milliseconds(Int(rest * 1000))) }
            try await world.world.enqueue("queries", count: 1)
            a.process.signal(SIGCONT)
            #expect(await eventually(timeout: 20) { a.logged("leadership lost") }, "\(a.process.output.suffix(3000))")
            #expect(await eventually(timeout: 20) { (try? await world.world.desired(Self.adhoc)) == 3 })
            // Several ticks of the woken process, each of which could have written.
            let ticksAtWake = await a.reconciles() ?? 0
            #expect(await eventually(timeout: 20) { (await a.reconciles() ?? 0) >= ticksAtWake + 3 })
            #expect(await eventually(timeout: 10) { await a.leaderGauge() == 0 })
            let woken = try await world.proxyA.records()
            #expect(woken.isEmpty, "the woken leader wrote: \(woken)")
            return samples
        }
        try await Self.checkOneWriter(world, fault: fault, samples: samples, scenario: "SIGSTOP leader")
    }

    // MARK: SIGSTOP of the leader's PostgreSQL backend

    @Test("SIGSTOP of the leader's lease backend: no tick hangs, the leader reconnects and keeps leading; stopped again, SIGTERM exits within the grace and the standby takes over after expiry")
    func stoppedBackend() async throws {
        let world = try await FailoverWorld.make()
        let (a, b) = try await world.startPair()
        var stopped: [pid_t] = []
        defer { for pid in stopped { kill(pid, SIGCONT) } }
        let backends = try await PostgresBackends.serving(a.process.pid, applicationName: Self.lease, admin: world.admin)
        try #require(backends.count == 1, "lease backends of A: \(backends)")
        let fault = Date()
        let (samples, shutdown) = try await withLeaderSampling([a, b]) { samples -> (LeaderSamples, Date) in
            kill(pid_t(backends[0]), SIGSTOP)
            stopped.append(pid_t(backends[0]))
            try await world.world.enqueue("queries", count: 2)

            // Its renewal waits for its client deadline (2 s + 2 s), the connection is dropped,
            // and a later tick renews on a new backend: the lease never lapses, no failover.
            var renewedOn: Int?
            #expect(await eventually(timeout: 30) {
                renewedOn = (try? await PostgresBackends.serving(a.process.pid, applicationName: Self.lease, admin: world.admin))?.first
                return renewedOn != nil && renewedOn != backends[0]
            }, "\(a.process.output.suffix(3000))")
            let reconnected = Date()
            #expect(a.logged("PostgreSQL connection lost"), "the renewal never met the stopped backend")
            // It leads and acts meanwhile: the work is scaled for, by A.
            #expect(await eventually(timeout: 20) { (try? await world.proxyA.records())?.contains { $0.forwarded != nil && $0.desiredCount == 2 } == true })
            let stall = samples.longestStall(0, from: fault, to: Date())
            #expect(stall <= Self.stallBound, "A went \(figure(stall)) without a reconcile")
            #expect(try await Self.leaseTaken(world).generation == 1)
            #expect(samples.all.allSatisfy { $0.leader[1] != 1 }, "the standby took over from a leader that could renew")
            print("failover: backend SIGSTOP: the leader renews on a new backend \(figure(reconnected.timeIntervalSince(fault))) after the stop, "
                + "no failover; longest time without a reconcile \(figure(stall))")

            // Its new backend stops too, and SIGTERM comes at once: the shutdown meets the
            // stopped backend (a renewal or the lease's release) and still ends within the grace.
            let second = try #require(renewedOn)
            kill(pid_t(second), SIGSTOP)
            stopped.append(pid_t(second))
            let shutdown = Date()
            let lostBefore = a.logLines.filter { $0["message"]?.hasPrefix("PostgreSQL connection lost") == true }.count
            let exited = await a.terminate()
            Self.checkExit(exited, "the leader, its backend stopped", a)
            #expect(a.logLines.filter { $0["message"]?.hasPrefix("PostgreSQL connection lost") == true }.count > lostBefore,
                    "the shutdown never met the stopped backend")
            print("failover: backend SIGSTOP: the leader exits \(exited.map(figure) ?? "never") after SIGTERM, its backend stopped")

            // It could not give the lease up: the standby takes it once it has expired.
            try await world.world.enqueue("queries", count: 1)
            #expect(await eventually(timeout: 40) { (try? await world.world.desired(Self.adhoc)) == 3 }, "\(b.process.output.suffix(3000))")
            return (samples, shutdown)
        }
        let first = try await Self.checkOneWriter(world, fault: shutdown, samples: samples, scenario: "backend SIGSTOP")
        let taken = try await Self.leaseTaken(world)
        #expect(taken.generation == 2 && seconds(from: shutdown, to: taken.at) <= Self.takeoverBound)
        print("failover: backend SIGSTOP + SIGTERM: standby takes the lease \(Self.after(shutdown, taken.at)) after SIGTERM; takeover \(Self.after(shutdown, first?.forwarded))")
        let exited = await b.terminate()
        Self.checkExit(exited, "the new leader, the old backends stopped", b)
        for pid in stopped { kill(pid, SIGCONT) }
        stopped = []
    }

    // MARK: A delayed UpdateService

    @Test("an UpdateService held past its sender's lease, into the new leader's guard: it lands before the new leader's first write and is not taken for an outside change")
    func delayedWriteLandsInGuard() async throws {
        let world = try await FailoverWorld.make()
        let (a, b) = try await world.startPair()
        defer { a.process.signal(SIGCONT) }
        try await world.proxyA.hold(seconds: nil)
        try await world.world.enqueue("queries", count: 2)
        // A decides 1 → 2; its UpdateService waits at the proxy, and A stalls with it on the wire.
        try #require(await eventually(timeout: 20) {
            (try? await world.proxyA.records())?.contains { $0.held && $0.forwarded == nil && $0.dropped == nil } == true
        }, "\(a.process.output.suffix(3000))")
        a.process.signal(SIGSTOP)
        let fault = Date()
        let samples = try await withLeaderSampling([a, b]) { samples in
            // The work goes away before B leads: B then wants what ECS says, 1.
            try await world.emptyQueue("queries")
            #expect(await eventually(timeout: 40) { await b.leaderGauge() == 1 })
            // The stalled write goes through now, inside B's guard.
            try await world.proxyA.release()
            #expect(await eventually(timeout: 10) { (try? await world.world.desired(Self.adhoc)) == 2 }, "the held write did not land")
            // B scales it back once its guard is over; taken for an outside change, 2 would stay
            // for externalChangeHold (5 minutes).
            #expect(await eventually(timeout: 30) { (try? await world.world.desired(Self.adhoc)) == 1 },
                    "the new leader kept its predecessor's late write:\n\(b.logLines.filter { $0["level"] != "info" }.suffix(10))")
            #expect(!b.logged("desiredCount changed outside the controller"), "the predecessor's write was taken for an outside change")
            let held = try await world.proxyA.records().first
            let first = Self.firstSent(try await world.proxyB.records())
            let taken = try await Self.leaseTaken(world)
            print("failover: delayed UpdateService (held into the new leader's guard): standby takes the lease \(Self.after(fault, taken.at)) after the stall; "
                + "the held write lands \(Self.after(fault, held?.answered)) after it, \(figure((first?.forwarded ?? .nan) - (held?.answered ?? .nan))) "
                + "before the new leader's first write; takeover \(Self.after(fault, first?.forwarded))")
            // Woken, A writes nothing more.
            a.process.signal(SIGCONT)
            #expect(await eventually(timeout: 20) { a.logged("leadership lost") }, "\(a.process.output.suffix(3000))")
            let ticksAtWake = await a.reconciles() ?? 0
            #expect(await eventually(timeout: 20) { (await a.reconciles() ?? 0) >= ticksAtWake + 3 })
            let writes = try await world.proxyA.records()
            #expect(writes.count == 1, "the woken leader wrote again: \(writes)")
            return samples
        }
        try await Self.checkOneWriter(world, fault: fault, samples: samples, scenario: "delayed UpdateService into the guard")
    }

    @Test("UpdateServices held 8 s, past their deadline, from a leader cut off from PostgreSQL: none is ever sent; the standby takes over and writes")
    func delayedWritesNeverSent() async throws {
        let world = try await FailoverWorld.make()
        let cut = try await PostgresCut.start(upstream: world.database)
        let (a, b) = try await world.startPair(databaseURLOfA: cut.url(of: world.database))
        try await world.proxyA.hold(seconds: 8)
        let fault = Date()
        let samples = try await withLeaderSampling([a, b]) { samples in
            cut.cut()
            try await world.world.enqueue("queries", count: 2)
            // A leads on until its lease runs out by its clock, and tries to write: each attempt
            // is abandoned at its deadline (5 s at most, less near the lease's end).
            #expect(await eventually(timeout: 25) { (try? await world.proxyA.records())?.contains { $0.dropped != nil } == true },
                    "\(a.process.output.suffix(3000))")
            // SIGTERM now, the worst moment: the tick goes on to record the failed write in the
            // decision log, over the cut connection.
            let exited = await a.terminate()
            Self.checkExit(exited, "the leader, cut off, SIGTERM after its abandoned write", a)
            print("failover: delayed UpdateService (held 8 s, leader cut off): SIGTERM just after the abandoned write: exits \(exited.map(figure) ?? "never")")
            #expect(await eventually(timeout: 40) { (try? await world.world.desired(Self.adhoc)) == 2 }, "\(b.process.output.suffix(3000))")
            return samples
        }
        let first = try await Self.checkOneWriter(world, fault: fault, samples: samples, scenario: "delayed UpdateService, leader cut off")
        let held = try await world.proxyA.records()
        #expect(!held.isEmpty && held.allSatisfy { $0.forwarded == nil }, "a write held past its deadline was sent: \(held)")
        // Each was abandoned by its sender at its deadline (5 s at most), not waited for.
        #expect(held.allSatisfy { ($0.dropped ?? .infinity) - $0.received <= 5 + 1.5 }, "\(held)")
        let taken = try await Self.leaseTaken(world)
        let abandonedAfter = held.compactMap { record in record.dropped.map { figure($0 - record.received) } }.joined(separator: ", ")
        print("failover: delayed UpdateService (held 8 s, leader cut off): \(held.count) write(s) held, each abandoned by its sender after "
            + "\(abandonedAfter) and never sent; "
            + "standby takes the lease \(Self.after(fault, taken.at)) after the cut; takeover \(Self.after(fault, first?.forwarded))")
        cut.restore()
    }

    // MARK: A network cut

    @Test("a network cut between the leader and PostgreSQL: ticks go on, the leader writes only inside its lease, the standby takes over after expiry, SIGTERM exits within the grace")
    func cutLeader() async throws {
        let world = try await FailoverWorld.make()
        let cut = try await PostgresCut.start(upstream: world.database)
        let (a, b) = try await world.startPair(databaseURLOfA: cut.url(of: world.database))
        let fault = Date()
        let samples = try await withLeaderSampling([a, b]) { samples in
            cut.cut()
            // Work the old leader may still do, inside its lease.
            try await world.world.enqueue("queries", count: 2)
            #expect(await eventually(timeout: 40) { await b.leaderGauge() == 1 })
            // Work that only the new leader may do: the old one's lease has ended by its own clock.
            try await world.world.enqueue("queries", count: 1)
            #expect(await eventually(timeout: 30) { (try? await world.world.desired(Self.adhoc)) == 3 }, "\(b.process.output.suffix(3000))")
            #expect(await eventually(timeout: 30) { a.logged("leadership lost") }, "\(a.process.output.suffix(3000))")
            // And it goes on reconciling, as a standby, with the database still cut off.
            let ticksAtLoss = await a.reconciles() ?? 0
            #expect(await eventually(timeout: 30) { (await a.reconciles() ?? 0) > ticksAtLoss }, "\(a.process.output.suffix(3000))")
            // The sampler, which reads on its own, has seen it too.
            _ = await eventually(timeout: 5) { (samples.all.last?.ticks[0] ?? 0) > ticksAtLoss }
            let stall = samples.longestStall(0, from: fault, to: Date())
            let ticks = (samples.all.last?.ticks[0] ?? 0) - (samples.all.first?.ticks[0] ?? 0)
            #expect(stall <= Self.stallBound && ticks >= 2, "the cut-off leader went \(figure(stall)) without a reconcile (\(ticks) in all):\n\(a.process.output.suffix(6000))")
            let exited = await a.terminate()
            Self.checkExit(exited, "the leader, cut off", a)
            print("failover: network cut: the cut-off leader finished \(Int(ticks)) reconciles, at most \(figure(stall)) apart; it exits \(exited.map(figure) ?? "never") after SIGTERM")
            return samples
        }
        let first = try await Self.checkOneWriter(world, fault: fault, samples: samples, scenario: "network cut")
        // Stronger than the rule for every scenario: the old leader wrote only inside its own
        // lease, over before the new leader even took it.
        let old = try await world.proxyA.records()
        let taken = try await Self.leaseTaken(world)
        #expect(old.allSatisfy { ($0.answered ?? .infinity) < taken.at }, "the cut-off leader wrote after its lease: \(old)")
        print("failover: network cut: standby takes the lease \(Self.after(fault, taken.at)) after the cut; takeover \(Self.after(fault, first?.forwarded)); "
            + "the old leader wrote \(old.count) time(s) inside its lease")
        let exited = await b.terminate()
        Self.checkExit(exited, "the new leader", b)
        cut.restore()
    }
}
