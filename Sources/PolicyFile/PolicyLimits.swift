/// Limits checked on the policy text before the YAML parser sees it. The parser recurses once per
/// level of nesting: a file nested thousands deep overflowed the stack (and killed a running
/// controller when it arrived by hot reload). A policy needs six levels and a few kilobytes, so
/// these limits leave any real file alone.
enum PolicyLimits {
    /// The largest policy file read.
    static let maximumBytes = 1 << 20
    /// The deepest nesting of mappings and sequences (block and flow) accepted.
    static let maximumDepth = 64
    /// The most aliases (`*name`) a file may use.
    static let maximumAliases = 256
    /// The most queues one service may consume.
    static let maximumQueues = 64
    /// The most services one policy may manage.
    static let maximumServices = 1_000

    /// The first limit `text` exceeds, as a message with its line, or `nil`.
    static func check(_ text: String) -> (line: Int, column: Int, message: String)? {
        let size = text.utf8.count
        if size > maximumBytes {
            return (1, 1, "the file is \(size) bytes; a policy is at most \(maximumBytes) (1 MiB)")
        }
        var line = 1, column = 0
        var flowDepth = 0, aliases = 0
        var indent = 0, atLineStart = true, blockMarkers = 0
        var inComment = false
        var quote: UInt8?
        var previous: UInt8 = UInt8(ascii: "\n")
        for byte in text.utf8 {
            column += 1
            if byte == UInt8(ascii: "\n") {
                (line, column, indent, atLineStart, blockMarkers, inComment) = (line + 1, 0, 0, true, 0, false)
                // A plain quoted scalar may span lines; a double-quoted one too.
                previous = byte
                continue
            }
            if inComment { continue }
            if let open = quote {
                if byte == open && previous != UInt8(ascii: "\\") { quote = nil }
                previous = byte
                continue
            }
            switch byte {
            case UInt8(ascii: " ") where atLineStart:
                indent += 1
            case UInt8(ascii: "-") where atLineStart, UInt8(ascii: "?") where atLineStart:
                // `- - - x`: block sequence entries opened on one line nest without indenting.
                blockMarkers += 1
            case UInt8(ascii: "#") where previous == UInt8(ascii: " ") || previous == UInt8(ascii: "\n") || atLineStart:
                inComment = true
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                quote = byte
                atLineStart = false
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                flowDepth += 1
                atLineStart = false
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                flowDepth = max(0, flowDepth - 1)
                atLineStart = false
            case UInt8(ascii: "*") where previous == UInt8(ascii: " ") || previous == UInt8(ascii: "[") || previous == UInt8(ascii: ","):
                aliases += 1
                atLineStart = false
            default:
                atLineStart = false
            }
            // Each level of block nesting indents at least one column.
            let depth = flowDepth + blockMarkers + indent
            if depth > maximumDepth {
                return (line, column, "nested more than \(maximumDepth) levels deep; a policy needs a handful (is this the right file?)")
            }
            if aliases > maximumAliases {
                return (line, column, "more than \(maximumAliases) aliases (*name); a policy needs few, and many can multiply a small file into a huge one")
            }
            previous = byte
        }
        return nil
    }
}
