import AutoscalerCore
import Yams

/// `schedules`: time-of-day floors of a service.
extension PolicySchema {
    func readSchedules(_ node: Node, _ path: String, maxTasks: Int?, minTasks: Int?) -> [ScheduleFloor] {
        guard let items = reader.sequence(node, path) else { return [] }
        var result: [ScheduleFloor] = []
        for (index, item) in items.enumerated() {
            let itemPath = "\(path)[\(index)]"
            guard let entries = reader.mapping(item, itemPath, known: Self.scheduleKeys,
                                               required: ["name", "start", "end", "minTasks"]) else { continue }
            let name = entries["name"].flatMap { reader.nonEmptyString($0, "\(itemPath).name", use: .none) }
            let start = entries["start"].flatMap { readClock($0, "\(itemPath).start", allowMidnightEnd: false) }
            let end = entries["end"].flatMap { readClock($0, "\(itemPath).end", allowMidnightEnd: true) }
            let offset: Duration? = entries["utcOffset"].map { readOffset($0, "\(itemPath).utcOffset") } ?? .zero
            let floor = entries["minTasks"].flatMap { reader.integer($0, "\(itemPath).minTasks", atLeast: 0) }
            var days = Set(Weekday.allCases)
            if let daysNode = entries["days"], let dayItems = reader.sequence(daysNode, "\(itemPath).days") {
                days = []
                for (dayIndex, dayNode) in dayItems.enumerated() {
                    let dayPath = "\(itemPath).days[\(dayIndex)]"
                    guard let text = reader.nonEmptyString(dayNode, dayPath) else { continue }
                    if let day = Weekday(name: text) {
                        days.insert(day)
                    } else {
                        var message = "`\(text)` is not a day; use mon, tue, wed, thu, fri, sat or sun"
                        if let guess = Suggestion.closest(to: text, among: Weekday.allCases.map(\.shortName)) {
                            message = "`\(text)` is not a day, did you mean `\(guess)`?"
                        }
                        reader.error(dayNode.mark, dayPath, message)
                    }
                }
            }
            if let start, let end, start == end % 1440, let node = entries["end"] {
                reader.error(node.mark, "\(itemPath).end", "equals start; for the whole day write start: \"00:00\" and end: \"24:00\"")
            }
            if let floor, let node = entries["minTasks"] {
                if let maxTasks, floor > maxTasks {
                    reader.error(node.mark, "\(itemPath).minTasks", "must be <= the service's maxTasks (\(maxTasks))")
                } else if let minTasks, floor <= minTasks {
                    reader.warning(node.mark, "\(itemPath).minTasks", "not above the service's minTasks (\(minTasks)); this schedule has no effect")
                }
            }
            guard let name, let start, let end, let offset, let floor else { continue }
            result.append(ScheduleFloor(
                name: name, days: days, startMinute: start, endMinute: end, utcOffset: offset, minTasks: floor))
        }
        return result
    }

    /// `HH:MM` as minutes after midnight; `24:00` only for an end.
    func readClock(_ node: Node, _ path: String, allowMidnightEnd: Bool) -> Int? {
        guard let text = reader.nonEmptyString(node, path) else { return nil }
        let parts = text.split(separator: ":")
        if parts.count == 2, parts.allSatisfy({ $0.count == 2 }), let hour = Int(parts[0]), let minute = Int(parts[1]),
           (0..<60).contains(minute), (0..<24).contains(hour) || (allowMidnightEnd && hour == 24 && minute == 0) {
            return hour * 60 + minute
        }
        reader.error(node.mark, path, "expected a time as \"HH:MM\" (24-hour), found `\(text)`")
        return nil
    }

    /// `+09:00`, `-05:30`, `Z` or `UTC`.
    func readOffset(_ node: Node, _ path: String) -> Duration? {
        guard let text = reader.nonEmptyString(node, path) else { return nil }
        if text == "Z" || text.uppercased() == "UTC" { return .zero }
        let sign: Int? = text.first == "+" ? 1 : text.first == "-" ? -1 : nil
        let parts = text.dropFirst().split(separator: ":")
        if let sign, parts.count == 2, let hours = Int(parts[0]), let minutes = Int(parts[1]),
           (0...14).contains(hours), (0..<60).contains(minutes) {
            return .seconds(sign * (hours * 3600 + minutes * 60))
        }
        reader.error(node.mark, path, "expected a UTC offset such as \"+09:00\" (time-zone names are not supported)")
        return nil
    }
}
