import RedisClient

/// One round trip: sends the commands pipelined and returns one reply per command, in order, or
/// throws. `RedisClient.pipeline` in production; the probes take it as a function so that their
/// reading of replies can run on recorded or fuzzed replies without a server.
package typealias RedisPipeline = @Sendable ([[String]]) async throws -> [RESPValue]
