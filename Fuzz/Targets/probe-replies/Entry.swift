import FuzzHarness

/// libFuzzer's entry point: every generated input goes through `ProbeRepliesTarget.check`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzEntry.run(ProbeRepliesTarget.self, data, size)
}
