import AutoscalerCore
import Testing
import IntegrationSupport

@Suite("Queue watch gate", .testThreads)
struct QueueWatchGateTests {
    @Test("whole readings only when a length changed; lengths that cannot be read alone always read whole, and forget the last")
    func gate() {
        var gate = QueueWatchGate()
        func whole(_ lengths: [String: Int]?) -> Bool { gate.needsWholeReading(lengths: lengths) }
        #expect(whole(["queries": 0]), "no last whole reading yet")
        #expect(!whole(["queries": 0]))
        #expect(whole(["queries": 4]))
        #expect(!whole(["queries": 4]))
        #expect(whole(["queries": 3]), "a shorter queue too: jobs started, the running count moved")
        #expect(whole(["queries": 3, "celery": 0]), "another set of queues (a reloaded policy)")
        #expect(whole(nil))
        #expect(whole(nil))
        #expect(whole(["queries": 3, "celery": 0]), "after a failed length read, nothing to compare with")
    }
}
