import Foundation

/// Paths of the repository the tests run in.
public enum Repository {
    /// The repository root (three levels above this file).
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The Python of the venv `scripts/bootstrap.sh` creates, with rq 1.16 and celery.
    public static var python: String { try! requirePython(".venv") }

    /// The Python of the RQ 1.5 venv (Redash v10), when bootstrap could create it.
    public static var python15: String? { try? requirePython(".venv-rq15") }

    /// The Python of the Celery 4.3 venv (Redash v8's Celery, on Python 3.7).
    public static var pythonCelery4: String { get throws { try requirePython(".venv-celery4") } }

    /// The `redash-autoscaler` binary of the debug build (`swift build --build-tests` makes it).
    public static var binary: String {
        get throws {
            let path = root.appendingPathComponent(".build/debug/redash-autoscaler").path
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw HarnessError("\(path) is missing: run `swift build --build-tests` (scripts/test.sh does) first")
            }
            return path
        }
    }

    /// A program the main venv installed (`moto_server`).
    public static func venvBinary(_ name: String) throws -> String {
        let path = root.appendingPathComponent(".venv/bin").appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw HarnessError("\(path) is missing: run scripts/bootstrap.sh (scripts/test.sh does) to install it")
        }
        return path
    }

    static func requirePython(_ venv: String) throws -> String {
        let path = root.appendingPathComponent(venv).appendingPathComponent("bin/python").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw HarnessError("\(path) is missing: run scripts/bootstrap.sh (scripts/test.sh does) to create it")
        }
        return path
    }
}

/// A problem with the test harness itself (a server that would not start, a missing tool).
public struct HarnessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
