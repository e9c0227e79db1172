import ArgumentParser
import AutoscalerCLI

/// The process entry point. The commands live in the AutoscalerCLI library so that tests can
/// drive them; ArgumentParser runs async subcommands only from an `@main` root, hence this twin.
@main
struct Entry: AsyncParsableCommand {
    static let configuration = RedashAutoscaler.configuration
}
