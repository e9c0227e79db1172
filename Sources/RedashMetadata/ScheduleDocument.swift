import AutoscalerCore
import Foundation

/// Reads `queries.schedule` (JSON text in Redash v7–v10, jsonb in v25+) into a `RedashSchedule`.
enum ScheduleDocument {
    enum Parsed: Equatable {
        /// SQL NULL or JSON `null`: not scheduled.
        case unscheduled
        case schedule(RedashSchedule)
        /// What Redash itself would choke on; the query is skipped and counted.
        case invalid(String)
    }

    static func parse(_ text: String?) -> Parsed {
        guard let text, !text.isEmpty, text != "null" else { return .unscheduled }
        guard let value = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) else {
            return .invalid("schedule is not JSON")
        }
        if value is NSNull { return .unscheduled }
        guard let object = value as? [String: Any] else { return .invalid("schedule is not a JSON object") }
        var schedule = RedashSchedule(interval: nil)
        if let raw = object["interval"], !(raw is NSNull) {
            // Redash stores the interval as a number or a numeric string, and calls int() on it.
            if let number = raw as? NSNumber, !(raw is Bool) {
                schedule.interval = number.intValue
            } else if let string = raw as? String, let number = Int(string.trimmingWhitespace) {
                schedule.interval = number
            } else {
                return .invalid("interval is not a number")
            }
        }
        if let raw = object["time"], !(raw is NSNull) {
            guard let string = raw as? String else { return .invalid("time is not a string") }
            let parts = string.split(separator: ":")
            guard parts.count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]), (0..<24).contains(hour), (0..<60).contains(minute) else {
                return .invalid("time \"\(string.prefix(20))\" is not HH:MM")
            }
            schedule.time = (hour, minute)
            if schedule.interval == nil { return .invalid("time without interval") }
        }
        if let raw = object["day_of_week"], !(raw is NSNull) {
            guard let name = raw as? String, let index = RedashSchedule.dayNames.firstIndex(of: name) else {
                return .invalid("day_of_week is not an English day name")
            }
            guard schedule.time != nil else { return .invalid("day_of_week without time") }
            schedule.dayOfWeek = index
        }
        if let raw = object["until"], !(raw is NSNull) {
            guard let string = raw as? String else { return .invalid("until is not a date") }
            let parts = string.split(separator: "-")
            guard parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
                  (1...12).contains(month), (1...31).contains(day) else {
                return .invalid("until \"\(string.prefix(20))\" is not YYYY-MM-DD")
            }
            schedule.until = CivilTime.instant(year: year, month: month, day: day)
        }
        if let raw = object["disabled"] as? Bool { schedule.disabled = raw }
        return .schedule(schedule)
    }
}
