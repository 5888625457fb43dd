import Foundation
import ProfferCore

// How the pages word things for people: times, catalogue keys in the second person, sentences.

extension Timestamp {
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    private var utc: DateComponents {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        return calendar.dateComponents([.year, .month, .day, .hour, .minute], from: Date(timeIntervalSince1970: Double(millisecondsSinceEpoch) / 1000))
    }

    /// For people: "24 Nov 2026".
    var displayDate: String {
        let parts = utc
        return "\(parts.day ?? 1) \(Self.months[((parts.month ?? 1) - 1) % 12]) \(parts.year ?? 1970)"
    }

    /// For people: "24 Nov 2026, 08:15 UTC".
    var display: String {
        let parts = utc
        return displayDate + String(format: ", %02d:%02d UTC", parts.hour ?? 0, parts.minute ?? 0)
    }
}

extension CatalogueEntry {
    /// The description addressed to the person: "The person's date of birth." → "Your date of birth", "The address
    /// where the person lives." → "The address where you live". The catalogue speaks of "the person" in the third
    /// person singular; the verbs that follow it are turned to the second person.
    var personalLabel: String {
        // Coordinated verbs the word-by-word turn below cannot reach.
        if description.hasPrefix("Whether the person owns, rents or otherwise occupies their home") {
            return "Whether you own, rent or otherwise occupy your home"
        }
        var text = description.hasSuffix(".") ? String(description.dropLast()) : description
        text = text.replacingOccurrences(of: "The person's ", with: "Your ").replacingOccurrences(of: "the person's ", with: "your ")
        text = text.replacingOccurrences(of: " their ", with: " your ").replacingOccurrences(of: " they ", with: " you ")
        let verbs = ["is": "are", "has": "have", "lives": "live", "wants": "want", "owns": "own", "prefers": "prefer", "needs": "need",
                     "chooses": "choose", "agrees": "agree", "identifies": "identify", "lived": "lived", "can": "can"]
        var words = text.components(separatedBy: " ")
        for index in words.indices where index > 0 && words[index - 1] == "person" && (words[index - 2 < 0 ? 0 : index - 2] == "the" || words[index - 2 < 0 ? 0 : index - 2] == "The") {
            if let second = verbs[words[index]] { words[index] = second }
        }
        text = words.joined(separator: " ")
        return text.replacingOccurrences(of: "The person ", with: "You ").replacingOccurrences(of: "the person", with: "you")
    }
}

extension String {
    /// The text as a sentence: first letter uppercase, a full stop at the end.
    var capitalisedSentence: String {
        guard let first else { return self }
        let body = first.uppercased() + dropFirst()
        return body.hasSuffix(".") ? body : body + "."
    }
}
