import RedisClient

/// Bytes from a Redis server (or from whatever answers on its port) through hiredis' reply
/// reader into `RESPValue`s. Promises, besides not crashing or leaking (libFuzzer runs it under
/// AddressSanitizer's leak checker): the replies do not depend on how the bytes were split into
/// reads, and every reply, written back as RESP, reads as itself.
public enum RESPDecodingTarget: FuzzTarget {
    public static let name = "resp-decoding"

    /// Reads split at these sizes in turn, so that replies straddle reads at every offset.
    static let readSizes = [1, 2, 3, 5, 7, 64]

    public static func check(_ input: [UInt8]) -> [String] {
        if RESPWire.announcesHugeArray(input) { return [] }
        var problems: [String] = []
        let whole = RESPWire.decode(input)
        let pieces = RESPWire.decode(input, chunkSizes: readSizes)
        if whole != pieces {
            problems.append("read whole, the bytes gave \(whole); read in pieces, \(pieces)")
        }
        let again = RESPWire.decode(RESPWire.encode(whole.replies))
        if again != RESPWire.Decoded(replies: whole.replies, isRefused: false) {
            problems.append("the replies \(whole.replies), written back as RESP, read as \(again)")
        }
        return problems
    }
}
