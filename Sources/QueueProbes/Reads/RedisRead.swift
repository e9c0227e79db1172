import RedisClient

/// One signal's read of Redis: the commands it sends, and how it reads their replies.
///
/// A read sees the replies to its own commands only, in the order it asked for them (a
/// `ReplyCursor`), and returns a typed value: a checked reading, the reason there is none, or
/// what a read of the next round trip needs. No read knows where its replies sit among the
/// others of a round trip; `ReadBatch` hands each its slice.
protocol RedisRead: Sendable {
    associatedtype Value
    /// The commands, in the order `interpret` reads their replies.
    var commands: [[String]] { get }
    /// Reads the replies to `commands`.
    func interpret(_ replies: inout ReplyCursor) -> Value
}

/// The replies to one read's commands, taken in order. A reply that is missing (a short
/// reply list) reads as an error reply, so that it fails the read like any other bad reply.
struct ReplyCursor {
    private var replies: ArraySlice<RESPValue>

    init(_ replies: ArraySlice<RESPValue>) {
        self.replies = replies
    }

    /// The next reply.
    mutating func next() -> RESPValue {
        replies.popFirst() ?? .error("no reply (the round trip returned fewer replies than commands)")
    }

    /// The next `count` replies.
    mutating func next(_ count: Int) -> [RESPValue] {
        (0..<count).map { _ in next() }
    }
}

/// Reads that go out together in one round trip. `add` returns the read's slot, from which
/// `BatchReplies` later gives its value.
struct ReadBatch {
    /// Every command of the batch, in order.
    private(set) var commands: [[String]] = []

    /// Where one read's replies are.
    struct Slot<Read: RedisRead> {
        fileprivate let read: Read
        fileprivate let range: Range<Int>
    }

    var isEmpty: Bool { commands.isEmpty }

    /// Adds `read` to the batch.
    mutating func add<Read: RedisRead>(_ read: Read) -> Slot<Read> {
        let start = commands.count
        commands += read.commands
        return Slot(read: read, range: start..<commands.count)
    }

    /// Adds each of `reads` to the batch, slots in the same order.
    mutating func add<Read: RedisRead>(contentsOf reads: [Read]) -> [Slot<Read>] {
        reads.map { add($0) }
    }

    /// Sends the batch in one round trip (none when it is empty) and counts it in `cost`.
    func send(through pipeline: RedisPipeline, cost: inout ProbeCost) async throws -> BatchReplies {
        guard !commands.isEmpty else { return BatchReplies(replies: []) }
        let replies = try await pipeline(commands)
        cost.add(commands: commands.count)
        return BatchReplies(replies: replies)
    }
}

/// The replies to a sent batch.
struct BatchReplies {
    let replies: [RESPValue]

    /// The value of the read in `slot`.
    subscript<Read: RedisRead>(_ slot: ReadBatch.Slot<Read>) -> Read.Value {
        let available = slot.range.clamped(to: replies.startIndex..<replies.endIndex)
        var cursor = ReplyCursor(replies[available])
        return slot.read.interpret(&cursor)
    }

    /// The values of the reads in `slots`, in order.
    subscript<Read: RedisRead>(_ slots: [ReadBatch.Slot<Read>]) -> [Read.Value] {
        slots.map { self[$0] }
    }
}

/// What a probe cost Redis: round trips and commands.
struct ProbeCost: Hashable, Sendable {
    private(set) var roundTrips = 0
    private(set) var commands = 0

    init() {}

    /// Counts one round trip of `commands` commands.
    mutating func add(commands count: Int) {
        roundTrips += 1
        commands += count
    }

    /// Adds round trips and commands counted elsewhere.
    mutating func add(roundTrips trips: Int, commands count: Int) {
        roundTrips += trips
        commands += count
    }
}
