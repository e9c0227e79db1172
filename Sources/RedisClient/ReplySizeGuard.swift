import NIOCore

/// Bounds what one Redis reply can cost before hiredis sees it. hiredis keeps a value whole
/// until it is complete, and the reply object holds every element, so a 200 MB job id or a hash
/// of a million fields would cost their size in memory on every read. This scanner walks the
/// RESP2 stream as it arrives and passes hiredis a smaller stream:
/// - a string longer than `Limits.valueBytes` becomes the error `OVERSIZED …`, its bytes
///   dropped as they arrive;
/// - an array of more than `Limits.arrayElements` elements becomes that error, its elements
///   walked and dropped;
/// - once a reply has taken `Limits.replyBytes`, each of its elements still to come becomes that
///   error (the reply keeps its shape; its readers see errors where values were).
/// The connection stays usable: the next reply is read as usual. A reader of the reply gets an
/// error where the value was, so the reading is unavailable with the reason, never a memory
/// spike. Only RESP2: the client never asks for RESP3 (`HELLO 3`), and any other type is a
/// protocol violation.
///
/// Not thread-safe: it lives in one channel handler. Package-visible for the fuzz harness.
package struct ReplySizeGuard {
    package struct Limits: Sendable {
        /// The longest string passed on. A Celery message with a long SQL text is some KiB.
        package var valueBytes = 1 << 20
        /// The most elements of one array passed on. The probe's largest read is `unacked`
        /// (at most 10,000 fields and values).
        package var arrayElements = 25_000
        /// Bytes of one reply passed on (with its nested elements) past which the rest is dropped.
        package var replyBytes = 16 << 20
        /// The longest header line (`$123`, `+OK`, an error message).
        package var lineBytes = 64 * 1024

        package init() {}
    }

    package let limits: Limits
    private var payload: Int?
    private var passing = true
    private var line: [UInt8] = []
    /// Elements still to come of each open array, outermost first.
    private var open: [Int] = []
    /// The index in `open` of the array being dropped, if any.
    private var droppingFrom: Int?
    private var replyBytes = 0
    /// Values and arrays dropped so far, for tests and metrics.
    package private(set) var dropped = 0

    package init(limits: Limits = Limits()) {
        self.limits = limits
    }

    private var isDropping: Bool { droppingFrom != nil }

    /// The bytes of `input` that hiredis should parse, with oversized parts replaced.
    package mutating func filter(_ input: ByteBuffer) throws(ReplyReaderError) -> ByteBuffer {
        var output = ByteBuffer()
        try filter(input, into: &output)
        return output
    }

    /// Appends to `output` the bytes of `input` that hiredis should parse. On a protocol
    /// violation it throws with `output` holding what came before it, so that replies complete
    /// before the violation are read whatever the bytes' split into reads.
    package mutating func filter(_ input: ByteBuffer, into output: inout ByteBuffer) throws(ReplyReaderError) {
        var input = input
        output.reserveCapacity(output.readableBytes + input.readableBytes)
        while input.readableBytes > 0 {
            if let remaining = payload {
                let take = min(remaining, input.readableBytes)
                let slice = input.readSlice(length: take)!
                if passing {
                    output.writeImmutableBuffer(slice)
                    replyBytes += take
                }
                payload = remaining - take == 0 ? nil : remaining - take
                if payload == nil { elementDone() }
                continue
            }
            // A header line, up to its newline.
            let view = input.readableBytesView
            let newline = view.firstIndex(of: UInt8(ascii: "\n"))
            let end = newline.map { $0 - view.startIndex + 1 } ?? view.count
            line.append(contentsOf: input.readBytes(length: end)!)
            guard line.count <= limits.lineBytes else {
                throw ReplyReaderError(message: "a reply header longer than \(limits.lineBytes) bytes")
            }
            guard newline != nil else { break }
            let header = line
            line.removeAll(keepingCapacity: true)
            try element(header, into: &output)
        }
    }

    /// One header line, newline included.
    private mutating func element(_ header: [UInt8], into output: inout ByteBuffer) throws(ReplyReaderError) {
        guard header.count >= 3, header[header.count - 2] == UInt8(ascii: "\r") else {
            throw ReplyReaderError(message: "a reply header without CRLF")
        }
        let type = header[0]
        let exhausted = replyBytes > limits.replyBytes && !isDropping
        func number() throws(ReplyReaderError) -> Int {
            guard let value = Int(String(decoding: header[1..<(header.count - 2)], as: UTF8.self)) else {
                throw ReplyReaderError(message: "a reply length that is not a number")
            }
            return value
        }
        switch type {
        case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ":"):
            if exhausted {
                replace(into: &output, "reply over \(limits.replyBytes) bytes")
            } else if !isDropping {
                emit(header, into: &output)
            }
            elementDone()
        case UInt8(ascii: "$"):
            let length = try number()
            guard length >= 0 else {
                if exhausted { replace(into: &output, "reply over \(limits.replyBytes) bytes") } else if !isDropping { emit(header, into: &output) }
                elementDone()
                return
            }
            passing = !isDropping
            if exhausted {
                replace(into: &output, "reply over \(limits.replyBytes) bytes")
                passing = false
            } else if !isDropping && length > limits.valueBytes {
                replace(into: &output, "a value of \(length) bytes, over the limit of \(limits.valueBytes); not read")
                passing = false
            } else if passing {
                emit(header, into: &output)
            }
            payload = length + 2
        case UInt8(ascii: "*"):
            let count = try number()
            guard count > 0 else {
                if exhausted { replace(into: &output, "reply over \(limits.replyBytes) bytes") } else if !isDropping { emit(header, into: &output) }
                elementDone()
                return
            }
            if exhausted {
                replace(into: &output, "reply over \(limits.replyBytes) bytes")
                droppingFrom = open.count
            } else if !isDropping && count > limits.arrayElements {
                replace(into: &output, "an array of \(count) elements, over the limit of \(limits.arrayElements); not read")
                droppingFrom = open.count
            } else if !isDropping {
                emit(header, into: &output)
            }
            open.append(count)
        default:
            throw ReplyReaderError(message: "a reply of type \(String(UnicodeScalar(type)).debugDescription), not RESP2")
        }
    }

    /// A header passed on, counted against the reply's budget.
    private mutating func emit(_ header: [UInt8], into output: inout ByteBuffer) {
        output.writeBytes(header)
        replyBytes += header.count
    }

    /// An error in place of what is dropped.
    private mutating func replace(into output: inout ByteBuffer, _ message: String) {
        replyBytes += output.writeString("-OVERSIZED \(message)\r\n")
        dropped += 1
    }

    /// An element is complete: count it against its array, and close every array it completes.
    private mutating func elementDone() {
        while let last = open.last {
            guard last == 1 else {
                open[open.count - 1] = last - 1
                return
            }
            open.removeLast()
            if droppingFrom == open.count { droppingFrom = nil }
        }
        // The reply is complete.
        replyBytes = 0
    }
}
