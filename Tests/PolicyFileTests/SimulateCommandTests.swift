@testable import AutoscalerCLI
import Testing
import IntegrationSupport

@Suite("simulate command", .testThreads)
struct SimulateCommandTests {
    @Test("--seeds takes ranges and lists", arguments: [
        ("a range", "1-5", [1, 2, 3, 4, 5] as [UInt64]),
        ("a list", "1,3,7", [1, 3, 7]),
        ("both", "2-3,9", [2, 3, 9]),
        ("one seed", "4", [4]),
    ])
    func seeds(_ name: String, text: String, expected: [UInt64]) throws {
        #expect(try SimulateCommand.parseSeeds(text) == expected, "\(name)")
    }

    @Test("--seeds rejects what is not a list of seeds", arguments: ["5-1", "one", "1-", "-3", "", "1,,2"])
    func badSeeds(_ text: String) {
        #expect(throws: (any Error).self) { try SimulateCommand.parseSeeds(text) }
    }
}
