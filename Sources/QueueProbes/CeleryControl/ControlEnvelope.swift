import AutoscalerCore
import Foundation

/// Celery's remote-control messages in kombu's Redis envelope, as Celery 4 (Redash v7–v8) and 5
/// write them: a JSON object whose `body` is the base64 of a JSON body.
enum ControlEnvelope {
    /// The exchange nodes answer on.
    static let replyExchange = "reply.celery.pidbox"

    /// A broadcast of `method` to every node, replies to `routingKey` on the reply exchange.
    static func broadcast(method: String, ticket: String, routingKey: String, expires: Instant) -> String {
        let body = BroadcastBody(method: method, ticket: ticket, replyTo: .init(exchange: replyExchange, routingKey: routingKey))
        let envelope = Envelope(
            body: encoded(body).base64EncodedString(), headers: .init(expires: expires.secondsSinceEpoch),
            properties: .init(deliveryTag: ticket))
        return String(decoding: encoded(envelope), as: UTF8.self)
    }

    private static func encoded(_ value: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    /// What a node is asked: `method`, with no arguments and no destination (every node).
    private struct BroadcastBody: Encodable {
        var method: String
        var ticket: String
        var replyTo: ReplyTo

        struct ReplyTo: Encodable {
            var exchange: String
            var routingKey: String
            enum CodingKeys: String, CodingKey { case exchange, routingKey = "routing_key" }
        }

        enum CodingKeys: String, CodingKey { case method, arguments, destination, pattern, matcher, ticket, replyTo = "reply_to" }

        func encode(to encoder: any Encoder) throws {
            var body = encoder.container(keyedBy: CodingKeys.self)
            try body.encode(method, forKey: .method)
            try body.encode([String: String](), forKey: .arguments)
            // kombu's own broadcasts carry these as nulls: a node that filters on them finds none.
            try body.encodeNil(forKey: .destination)
            try body.encodeNil(forKey: .pattern)
            try body.encodeNil(forKey: .matcher)
            try body.encode(ticket, forKey: .ticket)
            try body.encode(replyTo, forKey: .replyTo)
        }
    }

    private struct Envelope: Encodable {
        var body: String
        var contentEncoding = "utf-8"
        var contentType = "application/json"
        var headers: Headers
        var properties: Properties

        struct Headers: Encodable {
            /// Celery's callers drop replies after this; nodes answer regardless.
            var expires: Double
        }

        struct Properties: Encodable {
            var deliveryMode = 2
            var deliveryInfo = DeliveryInfo()
            var priority = 0
            var bodyEncoding = "base64"
            var deliveryTag: String

            struct DeliveryInfo: Encodable {
                var exchange = "celery.pidbox"
                var routingKey = ""
                enum CodingKeys: String, CodingKey { case exchange, routingKey = "routing_key" }
            }

            enum CodingKeys: String, CodingKey {
                case deliveryMode = "delivery_mode", deliveryInfo = "delivery_info", priority, bodyEncoding = "body_encoding", deliveryTag = "delivery_tag"
            }
        }

        enum CodingKeys: String, CodingKey { case body, contentEncoding = "content-encoding", contentType = "content-type", headers, properties }
    }

    // MARK: Replies

    /// One node's reply: the ticket of the question it answers, and its body (a JSON object of
    /// node name to answer).
    struct Reply {
        var ticket: String
        var body: Data
    }

    private struct ReplyWire: Decodable {
        var body: String?
        var contentType: String?
        var headers: [String: String?]?
        var properties: [String: String?]?

        enum CodingKeys: String, CodingKey { case body, contentType = "content-type", headers, properties }

        init(from decoder: any Decoder) throws {
            let envelope = try decoder.container(keyedBy: CodingKeys.self)
            body = try? envelope.decode(String.self, forKey: .body)
            contentType = try? envelope.decode(String.self, forKey: .contentType)
            headers = try? envelope.decode(LenientStrings.self, forKey: .headers).values
            properties = try? envelope.decode(LenientStrings.self, forKey: .properties).values
        }
    }

    /// A JSON object's string members (others are kept as nil).
    private struct LenientStrings: Decodable {
        var values: [String: String?]

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: any Decoder) throws {
            let object = try decoder.container(keyedBy: Key.self)
            values = Dictionary(uniqueKeysWithValues: object.allKeys.map { ($0.stringValue, try? object.decode(String.self, forKey: $0)) })
        }
    }

    /// Reads one reply envelope; a reply that is not Celery's JSON is an error.
    static func reply(_ text: String) throws(UntrustedReply) -> Reply {
        guard let envelope = try? JSONDecoder().decode(ReplyWire.self, from: Data(text.utf8)) else {
            throw UntrustedReply("a pidbox reply is not a kombu message")
        }
        let contentType = envelope.contentType ?? ""
        guard contentType == "application/json" else {
            throw UntrustedReply("a pidbox reply is \(PlausibleTime.printable(contentType)), not JSON (Redash's Celery accepts JSON only)")
        }
        guard let ticket = envelope.headers?["ticket"] ?? nil else { throw UntrustedReply("a pidbox reply without a ticket") }
        guard let text = envelope.body else { throw UntrustedReply("a pidbox reply without a body") }
        if (envelope.properties?["body_encoding"] ?? nil) == "base64" {
            guard let decoded = Data(base64Encoded: text) else { throw UntrustedReply("a pidbox reply's body is not base64") }
            return Reply(ticket: ticket, body: decoded)
        }
        return Reply(ticket: ticket, body: Data(text.utf8))
    }

    /// A reply body's answers by node, each read as `Answer`; a body that is not a JSON object
    /// is an error.
    static func answers<Element: LenientDecodable>(_ body: Data, of element: Element.Type) throws(UntrustedReply) -> [String: Answer<Element>] {
        guard let answers = try? JSONDecoder().decode([String: Answer<Element>].self, from: body) else {
            throw UntrustedReply("a pidbox reply's body is not a JSON object")
        }
        return answers
    }

    /// One node's answer: a list, an error object, or something else.
    enum Answer<Element: LenientDecodable>: Decodable {
        case list([Element])
        case error(String)
        case other

        init(from decoder: any Decoder) {
            if var list = try? decoder.unkeyedContainer() {
                var elements: [Element] = []
                while !list.isAtEnd, let element = try? list.decode(Element.self) { elements.append(element) }
                self = .list(elements)
            } else if let object = try? decoder.container(keyedBy: LenientStrings.Key.self),
                      let error = try? object.decode(IgnoredJSONText.self, forKey: .init(stringValue: "error")) {
                self = .error(error.text)
            } else {
                self = .other
            }
        }
    }

    /// An answer's element: decoding never fails, so that a list is read whole.
    protocol LenientDecodable: Decodable {}

    /// A task in `active`'s answer, as the node wrote it.
    struct ActiveTask: LenientDecodable {
        var isObject = false
        var id: String?
        var name: String?
        var routingKey: String?
        var timeStart: Double?
        var workerPID: Double?

        enum CodingKeys: String, CodingKey { case id, name, deliveryInfo = "delivery_info", routingKey = "routing_key", timeStart = "time_start", workerPID = "worker_pid" }

        init(from decoder: any Decoder) {
            guard let task = try? decoder.container(keyedBy: CodingKeys.self) else { return }
            isObject = true
            id = try? task.decode(String.self, forKey: .id)
            name = try? task.decode(String.self, forKey: .name)
            routingKey = try? task.nestedContainer(keyedBy: CodingKeys.self, forKey: .deliveryInfo).decode(String.self, forKey: .routingKey)
            timeStart = Self.number(task, .timeStart)
            workerPID = Self.number(task, .workerPID)
        }

        /// A JSON number; a boolean is not one, though both decode through the same path.
        private static func number(_ task: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) -> Double? {
            if (try? task.decode(Bool.self, forKey: key)) != nil { return nil }
            return try? task.decode(Double.self, forKey: key)
        }
    }

    /// A queue in `active_queues`' answer.
    struct ConsumedQueue: LenientDecodable {
        var name: String?

        init(from decoder: any Decoder) {
            name = try? decoder.container(keyedBy: LenientStrings.Key.self).decode(String.self, forKey: .init(stringValue: "name"))
        }
    }

    /// Any answer, for replies to another round's questions.
    struct Anything: LenientDecodable {
        init(from decoder: any Decoder) {}
    }

    /// Any JSON value, described in a few characters for a message.
    struct IgnoredJSONText: Decodable {
        var text: String

        init(from decoder: any Decoder) {
            let value = try? decoder.singleValueContainer()
            if let string = try? value?.decode(String.self) {
                text = string
            } else if let number = try? value?.decode(Double.self) {
                text = "\(number)"
            } else {
                text = "a JSON value"
            }
        }
    }
}
