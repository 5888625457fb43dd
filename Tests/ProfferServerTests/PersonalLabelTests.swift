import Foundation
import ProfferCore
import Testing

@testable import ProfferServer

/// The web pages speak to the person: every catalogue description becomes a label in the second person.
@Suite("Personal labels")
struct PersonalLabelTests {
    @Test func everyLabelSpeaksToThePersonInGoodGrammar() {
        for entry in Catalogue.standard.entries {
            let label = entry.personalLabel
            #expect(label.range(of: #"\bperson\b"#, options: [.regularExpression, .caseInsensitive]) == nil, "\(entry.key): \(label)")
            #expect(!label.contains(" they ") && !label.contains(" their "), "\(entry.key): \(label)")
            #expect(label.range(of: #"\byou (is|has|\w+s)\b"#, options: [.regularExpression, .caseInsensitive]) == nil, "\(entry.key): \(label)")
            #expect(!label.hasSuffix("."))
        }
        let byKey = Dictionary(uniqueKeysWithValues: Catalogue.standard.entries.map { ($0.key, $0.personalLabel) })
        #expect(byKey["address.home"] == "The address where you live")
        #expect(byKey["identity.name.full"] == "Your full name as you wish it to be written")
        #expect(byKey["identity.birthdate"] == "Your date of birth")
        #expect(byKey.values.contains("Whether you own, rent or otherwise occupy your home"))
    }
}
