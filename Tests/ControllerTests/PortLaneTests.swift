import IntegrationSupport
import Testing

/// Test processes run side by side (the serial pass's lanes in scripts/test.sh) take their
/// ports from disjoint slices, so that one never binds the port another has just checked.
@Suite("Test port lanes", .testThreads)
struct PortLaneTests {
    @Test("i/n gives the i-th of n disjoint slices; anything else, the whole range")
    func slices() {
        let range = 10_000..<32_768
        let lanes = (0..<3).map { Ports.lane("\($0)/3", of: range) }
        #expect(lanes[0].lowerBound == 10_000 && lanes[0].count == 7_589)
        #expect(lanes[0].upperBound == lanes[1].lowerBound && lanes[1].upperBound == lanes[2].lowerBound)
        #expect(lanes.allSatisfy { range.contains($0.lowerBound) && $0.upperBound <= range.upperBound })
        for setting in [nil, "", "3/3", "-1/3", "1/0", "a/b", "1/2/3"] {
            #expect(Ports.lane(setting, of: range) == range, "\(setting ?? "nil")")
        }
    }
}
