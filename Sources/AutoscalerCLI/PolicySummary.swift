import AutoscalerCore

/// One line per service for `validate`: enough to check the policy says what was meant.
enum PolicySummary {
    static func line(for service: ServicePolicy) -> String {
        let workers = service.workersPerTask == 1 ? "1 worker" : "\(service.workersPerTask) workers"
        var parts = [
            "\(service.name): \(service.queues.joined(separator: ", "))",
            "\(service.minTasks)–\(service.maxTasks) tasks × \(workers)",
            "wait ≤ \(service.target.maxWait.compactDescription)",
            "up +\(service.scaleUp.maxStep)"
                + (service.scaleUp.stabilizationWindow > .zero ? " after \(service.scaleUp.stabilizationWindow.compactDescription)" : " at once"),
            "down −\(service.scaleDown.maxStep) after \(service.scaleDown.stabilizationWindow.compactDescription)",
        ]
        for schedule in service.schedules {
            let days = schedule.days.count == 7 ? "daily" : schedule.days.sorted().map(\.shortName).joined(separator: ",")
            parts.append("≥ \(schedule.minTasks) \(schedule.name) (\(days) \(clock(schedule.startMinute))–\(clock(schedule.endMinute)) UTC\(offset(schedule.utcOffset)))")
        }
        return parts.joined(separator: "; ")
    }

    static func clock(_ minute: Int) -> String {
        let hours = minute / 60, minutes = minute % 60
        return (hours < 10 ? "0" : "") + "\(hours):" + (minutes < 10 ? "0" : "") + "\(minutes)"
    }

    static func offset(_ offset: Duration) -> String {
        let minutes = Int(offset.inSeconds / 60)
        return (minutes < 0 ? "-" : "+") + clock(abs(minutes))
    }
}
