import Foundation

/// The standard personal terms a person may proffer, in the spirit of IEEE 7012: the person is the first
/// party and sets the terms; an organisation's request accepts them or is refused.
public enum TermID: String, Sendable, Hashable, Codable, CaseIterable {
    case noOnwardSharing = "no-onward-sharing"
    case noStalking = "no-stalking"
    case serviceOnly = "service-only"
    case maxRetention = "max-retention"
    case noSale = "no-sale"
    case deleteOnServiceEnd = "delete-on-service-end"
    case noAutomatedDecisions = "no-automated-decisions"
    case breachNotification = "breach-notification"
    case minimumPrice = "minimum-price"
}

/// A numeric parameter of a term, e.g. the number of days of `max-retention`.
public struct TermParameter: Sendable, Hashable, Codable {
    public let name: String
    public let unit: String
    public let minimum: Int
    public let maximum: Int
    public let defaultValue: Int
}

/// A term of the roster: its stable id, plain-language text and parameters.
public struct TermDefinition: Sendable, Hashable {
    public let id: TermID
    public let title: String
    /// One paragraph; `{name}` placeholders are filled with the person's parameter values.
    public let textTemplate: String
    public let parameters: [TermParameter]
    /// Proffered by a new person until they choose otherwise.
    public let isDefault: Bool

    public func text(with values: [String: Int]) -> String {
        parameters.reduce(textTemplate) { text, parameter in
            text.replacingOccurrences(of: "{\(parameter.name)}", with: String(values[parameter.name] ?? parameter.defaultValue))
        }
    }
}

/// A term as one person proffers it, with their parameter values.
public struct ProfferedTerm: Sendable, Hashable, Codable {
    public var id: TermID
    public var parameters: [String: Int]

    public init(id: TermID, parameters: [String: Int] = [:]) {
        self.id = id
        self.parameters = parameters
    }

    /// `parameters` may be left out: the term's defaults apply.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(TermID.self, forKey: .id)
        var values: [String: Int] = [:]
        for (name, value) in try container.decodeIfPresent([String: JSONValue].self, forKey: .parameters) ?? [:] {
            guard case .integer(let number) = value, let exact = Int(exactly: number) else {
                throw DecodingError.dataCorruptedError(forKey: .parameters, in: container,
                                                       debugDescription: "parameter \(name.prefix(40)) must be a whole number, not \(value.typeName)")
            }
            values[name] = exact
        }
        parameters = values
    }

    public func value(_ name: String) -> Int? {
        parameters[name] ?? TermRoster.standard.definition(id).parameters.first { $0.name == name }?.defaultValue
    }
}

/// The published roster of standard terms.
public struct TermRoster: Sendable {
    public let definitions: [TermDefinition]

    public func definition(_ id: TermID) -> TermDefinition {
        // Every TermID has exactly one definition (checked by a test), so the fallback is never used.
        definitions.first { $0.id == id } ?? definitions[0]
    }

    /// What a new person proffers.
    public var defaults: [ProfferedTerm] {
        definitions.filter(\.isDefault).map { ProfferedTerm(id: $0.id) }
    }

    /// Validates a person's choice of terms: known ids, each at most once, parameters known and in range.
    public func validate(_ terms: [ProfferedTerm], pointer: String = "/terms") -> [FieldError] {
        var errors: [FieldError] = []
        var seen = Set<TermID>()
        for (index, term) in terms.enumerated() {
            if !seen.insert(term.id).inserted {
                errors.append(FieldError(pointer: "\(pointer)/\(index)/id", detail: "\(term.id.rawValue) is listed more than once"))
            }
            let definition = definition(term.id)
            for (name, value) in term.parameters.sorted(by: { $0.key < $1.key }) {
                guard let parameter = definition.parameters.first(where: { $0.name == name }) else {
                    let allowed = definition.parameters.map(\.name)
                    errors.append(FieldError(pointer: "\(pointer)/\(index)/parameters/\(name.prefix(40))",
                                             detail: allowed.isEmpty ? "\(term.id.rawValue) takes no parameters" : "unknown parameter; \(term.id.rawValue) takes \(allowed.joined(separator: ", "))"))
                    continue
                }
                if !(parameter.minimum...parameter.maximum).contains(value) {
                    errors.append(FieldError(pointer: "\(pointer)/\(index)/parameters/\(name)",
                                             detail: "must be from \(parameter.minimum) to \(parameter.maximum) \(parameter.unit)"))
                }
            }
        }
        return errors
    }

    public static let standard = TermRoster(definitions: [
        TermDefinition(id: .noOnwardSharing, title: "No onward sharing",
                       textTemplate: "You may not pass my data to any third party. Only your own organisation may hold and use it.",
                       parameters: [], isDefault: false),
        TermDefinition(id: .noStalking, title: "No stalking (#NoStalking)",
                       textTemplate: "You may use my data only to provide your own service to me. You may not use it to track me or profile me beyond this service, on other sites, apps or services.",
                       parameters: [], isDefault: true),
        TermDefinition(id: .serviceOnly, title: "Service only",
                       textTemplate: "You may use my data only for providing the service I asked for: purposes under Service provision. No marketing, research or other purposes.",
                       parameters: [], isDefault: false),
        TermDefinition(id: .maxRetention, title: "Maximum retention",
                       textTemplate: "You may keep my data for at most {days} days from when I grant it, after which you must delete it.",
                       parameters: [TermParameter(name: "days", unit: "days", minimum: 1, maximum: 3650, defaultValue: 730)], isDefault: true),
        TermDefinition(id: .noSale, title: "No sale",
                       textTemplate: "You may not sell, rent or trade my data, or give it to anyone in exchange for anything of value.",
                       parameters: [], isDefault: true),
        TermDefinition(id: .deleteOnServiceEnd, title: "Delete at end of service",
                       textTemplate: "When the service I asked for ends, or I close my account with you, you must delete my data.",
                       parameters: [], isDefault: false),
        TermDefinition(id: .noAutomatedDecisions, title: "No automated decisions with legal effect",
                       textTemplate: "You may not use my data to make decisions about me by automated means alone that have legal or similarly significant effects on me.",
                       parameters: [], isDefault: false),
        TermDefinition(id: .breachNotification, title: "Breach notification",
                       textTemplate: "If my data is involved in a security breach, you must tell me within {hours} hours of learning of it.",
                       parameters: [TermParameter(name: "hours", unit: "hours", minimum: 1, maximum: 720, defaultValue: 72)], isDefault: true),
        TermDefinition(id: .minimumPrice, title: "Pay my prices",
                       textTemplate: "You pay at least the prices I publish for the data you ask for (listed with my terms), on the basis I price it: per disclosure or per month of access.",
                       parameters: [], isDefault: false),
    ])
}
