import AutoscalerCore
import Testing
import IntegrationSupport

@Suite("Worker to task mapping", .testThreads)
struct WorkerTaskMappingTests {
    static let tasks = [
        TaskAddress(id: "task-a", privateIP: "10.0.1.23"),
        TaskAddress(id: "task-b", privateIP: "10.0.2.7"),
        TaskAddress(id: "task-c", privateIP: nil),
    ]

    @Test("by the address Redis saw, by Fargate host names, and unknown workers counted apart")
    func mapping() {
        let workers = [
            WorkerIdentity(name: "w1", hostname: "a1b2c3", ipAddress: "10.0.1.23:48712", isBusy: true),
            WorkerIdentity(name: "w2", hostname: "ip-10-0-1-23.ap-northeast-1.compute.internal", ipAddress: "unknown", isBusy: true),
            WorkerIdentity(name: "w3", hostname: "ip-10-0-2-7.ec2.internal", ipAddress: nil, isBusy: true),
            WorkerIdentity(name: "w4", hostname: "ip-10-0-2-7", ipAddress: "10.0.2.7:1000", isBusy: false),
            WorkerIdentity(name: "w5", hostname: "laptop.local", ipAddress: "192.168.1.5:5555", isBusy: true),
            // The same worker registered under two queues counts once.
            WorkerIdentity(name: "w1", hostname: "a1b2c3", ipAddress: "10.0.1.23:48712", isBusy: true),
        ]
        let result = WorkerTaskMapping.map(workers: workers, tasks: Self.tasks)
        #expect(result.busyWorkers == ["task-a": 2, "task-b": 1])
        #expect(result.unmappedBusy == 1)
        #expect(result.busyTasks == nil)
        let mapped = WorkerTaskMapping.map(workers: Array(workers.prefix(4)), tasks: Self.tasks)
        #expect(mapped.busyTasks == 2)
    }

    @Test("address forms", arguments: [
        ("10.0.1.23:48712", "10.0.1.23"), ("[fd00:ec2::23]:6379", "fd00:ec2::23"), ("10.0.1.23", "10.0.1.23"),
        ("fd00::5", "fd00::5"), ("unknown", nil), ("", nil),
    ] as [(String, String?)])
    func endpoints(_ text: String, _ expected: String?) {
        #expect(WorkerTaskMapping.address(ofEndpoint: text) == expected)
    }

    @Test("host name forms", arguments: [
        ("ip-10-0-1-23.ec2.internal", "10.0.1.23"), ("ip-10-0-1-23.ap-northeast-1.compute.internal", "10.0.1.23"),
        ("ip-10-0-1-23", "10.0.1.23"), ("ip-10-0-1-256.ec2.internal", nil), ("ip-10-0-1.ec2.internal", nil),
        ("redash-worker-7f9c", nil), ("4f2a9c1e0b7d", nil),
    ] as [(String, String?)])
    func hostnames(_ text: String, _ expected: String?) {
        #expect(WorkerTaskMapping.address(ofHostname: text) == expected)
    }
}

@Suite("Scale-in protection plan", .testThreads)
struct ScaleInProtectionTests {
    static func task(_ id: String, busy: Int, protected: Bool = false) -> TaskActivity {
        TaskActivity(id: id, busyWorkers: busy, isProtected: protected)
    }

    @Test("busy tasks are protected and idle ones released")
    func protectsBusy() {
        let plan = ScaleInProtection.plan(
            tasks: [Self.task("a", busy: 2), Self.task("b", busy: 0, protected: true), Self.task("c", busy: 1, protected: true)],
            desired: 3, isDeploymentInProgress: false)
        #expect(plan.protect == ["a"])
        #expect(plan.release == ["b"])
    }

    @Test("never more protected tasks than the new desired count, busiest first")
    func capped() {
        let plan = ScaleInProtection.plan(
            tasks: [Self.task("a", busy: 1), Self.task("b", busy: 2), Self.task("c", busy: 1, protected: true)],
            desired: 1, isDeploymentInProgress: false)
        #expect(plan.protect == ["b"])
        #expect(plan.release == ["c"])
    }

    @Test("during a deployment nothing stays protected, so protection never blocks the rollout")
    func deployment() {
        let plan = ScaleInProtection.plan(
            tasks: [Self.task("a", busy: 2, protected: true), Self.task("b", busy: 1)], desired: 4, isDeploymentInProgress: true)
        #expect(plan.protect.isEmpty)
        #expect(plan.release == ["a"])
    }

    @Test("protections close to expiry are renewed; fresh ones are left alone")
    func renewal() {
        let tasks = [Self.task("a", busy: 1, protected: true), Self.task("b", busy: 1, protected: true)]
        let plan = ScaleInProtection.plan(tasks: tasks, desired: 2, isDeploymentInProgress: false, renewing: ["b"])
        #expect(plan.protect == ["b"] && plan.release.isEmpty)
        #expect(ScaleInProtection.plan(tasks: tasks, desired: 2, isDeploymentInProgress: false).isEmpty)
    }
}
