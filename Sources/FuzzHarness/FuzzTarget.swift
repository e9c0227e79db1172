/// One fuzz target: a surface that reads bytes from outside (Redis replies, a policy file, AWS
/// answers), and the promises it keeps on any input. `check` returns the promises an input broke,
/// empty when all held; an input that crashes the code under test crashes `check` too.
///
/// The libFuzzer executables of `Fuzz/` call `check` on generated inputs; the corpus replay test
/// calls it on every committed input, so a crash found once stays fixed.
public protocol FuzzTarget: Sendable {
    /// The target's name: its executable is `fuzz-<name>`, its corpus `Fuzz/Corpus/<name>/`.
    static var name: String { get }
    /// The promises `input` broke.
    static func check(_ input: [UInt8]) async -> [String]
}

/// Every target, for the corpus replay.
public let allFuzzTargets: [any FuzzTarget.Type] = [
    RESPDecodingTarget.self, ProbeRepliesTarget.self, PolicyTextTarget.self, AWSAnswersTarget.self,
]
