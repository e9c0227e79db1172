import AutoscalerCore
import Foundation

/// A Celery task message as kombu's Redis transport stores it (a JSON object), read for the
/// one thing the probes need: when Redash enqueued it. Redash's `execute_query` puts
/// `enqueue_time` (seconds since the epoch) in the message's `headers.argsrepr`; other tasks
/// carry none, and their age is then unknown.
struct CeleryMessage: Decodable {
    /// `headers.argsrepr.enqueue_time`, when it is there and a number.
    var enqueueTime: Instant?
    /// `headers.id`: the task id (Celery's message protocol 2), which `inspect reserved` names.
    var taskID: String?
    /// Whether the value is a JSON object at all.
    var isObject = false

    private enum Keys: String, CodingKey { case headers, argsrepr, id, enqueueTime = "enqueue_time" }

    /// Never fails, so that it can be skipped over in an array: any JSON object is a message,
    /// fields of the wrong type are as good as absent, and anything else is not a message.
    init(from decoder: any Decoder) {
        guard let message = try? decoder.container(keyedBy: Keys.self) else { return }
        isObject = true
        guard let headers = try? message.nestedContainer(keyedBy: Keys.self, forKey: .headers) else { return }
        taskID = try? headers.decode(String.self, forKey: .id)
        guard let argsrepr = try? headers.decode(String.self, forKey: .argsrepr),
              let arguments = try? JSONDecoder().decode(EnqueueArguments.self, from: Data(argsrepr.utf8))
        else { return }
        enqueueTime = arguments.enqueueTime.map(Instant.init(secondsSinceEpoch:))
    }

    /// `argsrepr` as Redash writes it: a JSON object with `enqueue_time`.
    private struct EnqueueArguments: Decodable {
        var enqueueTime: Double?

        init(from decoder: any Decoder) throws {
            let arguments = try decoder.container(keyedBy: Keys.self)
            // A boolean is not a time, though JSON numbers and booleans share a decoder path.
            if (try? arguments.decode(Bool.self, forKey: .enqueueTime)) != nil { return }
            enqueueTime = try? arguments.decode(Double.self, forKey: .enqueueTime)
        }
    }

    /// The message in `text`, or `nil` when it is not a JSON object.
    static func parse(_ text: String) -> CeleryMessage? {
        (try? JSONDecoder().decode(CeleryMessage.self, from: Data(text.utf8))).flatMap { $0.isObject ? $0 : nil }
    }
}

/// An entry of kombu's `unacked` hash: `[message, exchange, routing_key]`, a message a worker
/// took from its queue and has not acknowledged.
struct UnackedEntry: Decodable {
    var message: CeleryMessage
    var routingKey: String

    init(from decoder: any Decoder) throws {
        var triple = try decoder.unkeyedContainer()
        message = try triple.decode(CeleryMessage.self)
        _ = try triple.decode(IgnoredJSON.self)
        routingKey = try triple.decode(String.self)
    }

    /// The entry in `text`, or `nil` when it is not such a triple.
    static func parse(_ text: String) -> UnackedEntry? {
        try? JSONDecoder().decode(UnackedEntry.self, from: Data(text.utf8))
    }
}

/// Any JSON value, skipped.
struct IgnoredJSON: Decodable {
    init(from decoder: any Decoder) throws {}
}
