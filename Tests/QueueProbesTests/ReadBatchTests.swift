import AutoscalerCore
@testable import QueueProbes
import RedisClient
import Testing
import IntegrationSupport

@Suite("Reads as values: a batch hands each read its own replies", .testThreads)
struct ReadBatchTests {
    /// A read of `count` keys that returns the texts of its replies.
    struct Texts: RedisRead {
        let keys: [String]
        var commands: [[String]] { keys.map { ["GET", $0] } }
        func interpret(_ replies: inout ReplyCursor) -> [String] {
            keys.map { _ in replies.next().string ?? "?" }
        }
    }

    @Test("each read sees exactly its replies, in order, whatever was added before it")
    func slices() async throws {
        var batch = ReadBatch()
        let first = batch.add(Texts(keys: ["a", "b"]))
        let second = batch.add(contentsOf: [Texts(keys: ["c"]), Texts(keys: ["d", "e", "f"])])
        #expect(batch.commands.map { $0[1] } == ["a", "b", "c", "d", "e", "f"])
        var cost = ProbeCost()
        let replies = try await batch.send(through: { commands in commands.map { .bulkString(Array("value of \($0[1])".utf8)) } }, cost: &cost)
        #expect(replies[first] == ["value of a", "value of b"])
        #expect(replies[second] == [["value of c"], ["value of d", "value of e", "value of f"]])
        #expect(cost.roundTrips == 1 && cost.commands == 6)
    }

    @Test("a reply that never came reads as an error reply, never as a value of the next read")
    func shortReplies() async throws {
        var batch = ReadBatch()
        let slot = batch.add(RQOldestJobRead(queue: "queries", jobID: "j1", now: Instant(secondsSinceEpoch: 1_764_590_400)))
        var cost = ProbeCost()
        let replies = try await batch.send(through: { _ in [] }, cost: &cost)
        guard case .failure(let problem) = replies[slot] else {
            Issue.record("a missing reply was read as \(replies[slot])")
            return
        }
        #expect(problem.message.contains("no reply"))
    }

    @Test("an empty batch makes no round trip")
    func empty() async throws {
        var cost = ProbeCost()
        _ = try await ReadBatch().send(through: { _ in Issue.record("sent"); return [] }, cost: &cost)
        #expect(cost.roundTrips == 0)
    }
}
