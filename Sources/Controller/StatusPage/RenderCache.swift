import NIOCore

/// One rendered answer, kept until it is older than its freshness: however many clients ask,
/// the page (or `/metrics`, or `/status`) is rendered at most once per freshness, off the
/// reconcile path, and concurrent askers share one render. A render runs at background
/// priority, so a reconcile never waits behind it for a thread.
public actor RenderCache {
    private var cached: (key: Int, at: ContinuousClock.Instant, value: ByteBuffer)?
    private var inFlight: (key: Int, task: Task<ByteBuffer, Never>)?
    /// Renders so far: how often the answer was made, against how often it was served.
    public private(set) var renders = 0
    private let clock: ContinuousClock

    public init(clock: ContinuousClock = ContinuousClock()) {
        self.clock = clock
    }

    /// The answer for `key` (what it was rendered from, such as the tick it shows): the kept one
    /// when it is for the same key or younger than `fresh`, else a new render.
    public func value(key: Int, fresh: Duration, render: @escaping @Sendable () async -> ByteBuffer) async -> ByteBuffer {
        if let cached, cached.key == key || clock.now - cached.at < fresh { return cached.value }
        if let inFlight { return await inFlight.task.value }
        let task = Task(priority: .background) { await render() }
        inFlight = (key, task)
        let value = await task.value
        cached = (key, clock.now, value)
        inFlight = nil
        renders += 1
        return value
    }
}
