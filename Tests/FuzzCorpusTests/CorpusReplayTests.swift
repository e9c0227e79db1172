import Foundation
import FuzzHarness
import IntegrationSupport
import Testing

/// The committed corpus (`Fuzz/Corpus/<target>/`: the seeds recorded from real servers, the
/// inputs libFuzzer found interesting, every crash it found) replayed through the same checks
/// the fuzzers run, without libFuzzer: a crash fixed once stays fixed, in every CI run.
@Suite("Fuzz corpus replay", .testThreads)
struct CorpusReplayTests {
    static func inputs(_ target: String) throws -> [URL] {
        let directory = Repository.root.appendingPathComponent("Fuzz/Corpus/\(target)")
        return try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { !$0.lastPathComponent.hasPrefix(".") }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    @Test("every committed input keeps every promise of its target", arguments: allFuzzTargets.map { $0.name })
    func replay(_ name: String) async throws {
        let target = try #require(allFuzzTargets.first { $0.name == name })
        let files = try Self.inputs(name)
        #expect(files.count >= 3, "Fuzz/Corpus/\(name) holds \(files.count) inputs; its seeds are missing")
        for file in files {
            let problems = await target.check(Array(try Data(contentsOf: file)))
            #expect(problems.isEmpty, "\(name)/\(file.lastPathComponent):\n\(problems.joined(separator: "\n"))")
        }
    }
}
