import Foundation

// Prints speed and memory figures. Run in release mode (scripts/bench-core.sh,
// scripts/bench-simulator.sh); docs/benchmarks.md records the figures and the commands.
//   autoscaler-benchmarks core [rounds]
//   autoscaler-benchmarks simulator [days]
//   autoscaler-benchmarks probe URL [queues] [ticks]
//   autoscaler-benchmarks sigv4 [count]
//   autoscaler-benchmarks services [count] [rounds]   (AWS settings from the environment)
//   autoscaler-benchmarks forecast DATABASE-URL [rounds]
//   autoscaler-benchmarks reconcile REDIS-URL [services] [ticks] [api]   (ECS from AWS_ENDPOINT_URL, else in memory;
//                                                                        api: ECS's JSON API in memory, with tasks)
//   autoscaler-benchmarks cadence REDIS-URL [services] [minutes]   (ONLY=cadence scripts/bench-reconcile.sh: Redis commands and ECS
//                                                                  requests a minute at interval 5 s, 1 s, 5 s + reactInterval 1 s)
//   autoscaler-benchmarks forecast-accuracy SPEC.json   (scripts/bench-forecast-accuracy.sh)
//   autoscaler-benchmarks celery-inspect REDIS-URL [nodes] [rounds]   (scripts/bench-celery-inspect.sh)

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "core": CoreBenchmark.run(rounds: arguments.dropFirst().first.flatMap(Int.init) ?? 200)
case "simulator": SimulatorBenchmark.run(days: arguments.dropFirst().first.flatMap(Int.init) ?? 7)
case "sigv4": SigV4Benchmark.run(count: arguments.dropFirst().first.flatMap(Int.init) ?? 100_000)
case "services":
    await ServicesBenchmark.run(
        count: arguments.dropFirst().first.flatMap(Int.init) ?? 50, rounds: arguments.dropFirst(2).first.flatMap(Int.init) ?? 20)
case "forecast" where arguments.count >= 2:
    await ForecastBenchmark.run(url: arguments[1], rounds: arguments.dropFirst(2).first.flatMap(Int.init) ?? 10)
case "reconcile" where arguments.count >= 2:
    await ReconcileBenchmark.run(
        url: arguments[1], services: arguments.dropFirst(2).first.flatMap(Int.init) ?? 200,
        ticks: arguments.dropFirst(3).first.flatMap(Int.init) ?? 720, ecs: arguments.dropFirst(4).first)
case "cadence" where arguments.count >= 2:
    await CadenceBenchmark.run(
        url: arguments[1], services: arguments.dropFirst(2).first.flatMap(Int.init) ?? 200,
        minutes: arguments.dropFirst(3).first.flatMap(Int.init) ?? 10)
case "forecast-accuracy" where arguments.count >= 2:
    ForecastAccuracyBenchmark.run(spec: arguments[1])
case "celery-inspect" where arguments.count >= 2:
    await CeleryInspectBenchmark.run(
        url: arguments[1], nodes: arguments.dropFirst(2).first.flatMap(Int.init) ?? 20, rounds: arguments.dropFirst(3).first.flatMap(Int.init) ?? 100)
case "probe" where arguments.count >= 2:
    await ProbeBenchmark.run(
        url: arguments[1], queues: arguments.dropFirst(2).first.flatMap(Int.init) ?? 200,
        ticks: arguments.dropFirst(3).first.flatMap(Int.init) ?? 200)
default:
    FileHandle.standardError.write(Data("usage: autoscaler-benchmarks core [rounds] | simulator [days] | probe URL [queues] [ticks] | sigv4 [count] | services [count] [rounds] | forecast DATABASE-URL [rounds] | reconcile REDIS-URL [services] [ticks] [api] | cadence REDIS-URL [services] [minutes] | forecast-accuracy SPEC.json | celery-inspect REDIS-URL [nodes] [rounds]\n".utf8))
    exit(2)
}

/// The process's peak resident set (VmHWM), in KiB.
func peakResidentKilobytes() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return Int(line.split(separator: " ").dropFirst().first ?? "")
    }
    return nil
}
