import PolicyFile

/// The rule for finding the policy file, in one place.
enum PolicyPath {
    static func resolve(flag: String?, environment: [String: String]) -> String {
        if let flag, !flag.isEmpty { return flag }
        if let fromEnvironment = environment[PolicyLoader.pathVariable], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        return PolicyLoader.defaultPath
    }
}
