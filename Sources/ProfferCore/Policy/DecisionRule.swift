/// What a person's rule does with the keys it covers.
public enum RuleAction: String, Sendable, Hashable, Codable, CaseIterable {
    /// Grant without asking.
    case grant
    /// Refuse without asking.
    case refuse
    /// Always ask the person, even when a more general rule would grant.
    case ask
}

/// Which keys a rule covers: one key, every key of a category (`finance.*`), or any key (`*`).
public enum KeyPattern: Sendable, Hashable, Codable, CustomStringConvertible {
    case any
    case category(String)
    case key(String)

    public init?(_ text: String, catalogue: Catalogue = .standard) {
        if text == "*" {
            self = .any
        } else if text.hasSuffix(".*") {
            let category = String(text.dropLast(2))
            guard catalogue.entries.contains(where: { $0.key.hasPrefix(category + ".") }) else { return nil }
            self = .category(category)
        } else if catalogue.contains(text) {
            self = .key(text)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .any: "*"
        case .category(let prefix): prefix + ".*"
        case .key(let key): key
        }
    }

    func matches(_ key: String) -> Bool {
        switch self {
        case .any: true
        case .category(let prefix): key.hasPrefix(prefix + ".")
        case .key(let exact): key == exact
        }
    }

    /// How narrowly the pattern names a key: a key beats a category beats anything.
    var specificity: Int {
        switch self {
        case .any: 0
        case .category: 1
        case .key: 2
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let pattern = KeyPattern(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "\"\(text.prefix(60))\" is not a catalogue key, a category such as \"finance.*\", or \"*\"")
        }
        self = pattern
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// A person's standing rule for deciding requests without being asked.
public struct DecisionRule: Sendable, Hashable {
    public var id: RuleID
    public var action: RuleAction
    public var keys: [KeyPattern]
    /// Purposes the rule applies to, each including its descendants; empty means any purpose.
    public var purposes: [String]
    /// Only organisations with this verified flag; nil means any organisation.
    public var organisationVerified: Bool?
    /// For grant rules: the longest grant it gives; nil means up to what is asked.
    public var maxDurationDays: Int?
    public var note: String?
    public var createdAt: Timestamp

    public init(id: RuleID, action: RuleAction, keys: [KeyPattern], purposes: [String] = [], organisationVerified: Bool? = nil,
                maxDurationDays: Int? = nil, note: String? = nil, createdAt: Timestamp) {
        self.id = id
        self.action = action
        self.keys = keys
        self.purposes = purposes
        self.organisationVerified = organisationVerified
        self.maxDurationDays = maxDurationDays
        self.note = note
        self.createdAt = createdAt
    }

    /// Validates a rule's shape: at least one key pattern, known purposes, a duration only on grant rules.
    public func problems(purposes taxonomy: PurposeTaxonomy = .standard) -> [FieldError] {
        var errors: [FieldError] = []
        if keys.isEmpty { errors.append(FieldError(pointer: "/keys", detail: "list at least one key, category (\"finance.*\") or \"*\"")) }
        if keys.count > 50 { errors.append(FieldError(pointer: "/keys", detail: "must list at most 50 patterns")) }
        if Set(keys).count != keys.count { errors.append(FieldError(pointer: "/keys", detail: "lists a pattern more than once")) }
        for (index, purpose) in purposes.enumerated() where taxonomy.purpose(purpose) == nil {
            errors.append(FieldError(pointer: "/purposes/\(index)", detail: "\"\(purpose.prefix(60))\" is not a known purpose (GET /v1/purposes)"))
        }
        if purposes.count > 30 { errors.append(FieldError(pointer: "/purposes", detail: "must list at most 30 purposes")) }
        if let days = maxDurationDays {
            if action != .grant {
                errors.append(FieldError(pointer: "/maxDurationDays", detail: "only a grant rule has a maximum duration"))
            } else if !(1...RequestLimits.maxDurationDays).contains(days) {
                errors.append(FieldError(pointer: "/maxDurationDays", detail: "must be from 1 to \(RequestLimits.maxDurationDays)"))
            }
        }
        if let note, note.count > 200 { errors.append(FieldError(pointer: "/note", detail: "must be at most 200 characters")) }
        return errors
    }

    /// The rule in plain words, e.g. "auto-grant contact.email to verified organisations for ServiceProvision, up to 365 days".
    public var summary: String {
        let verb = switch action {
        case .grant: "auto-grant"
        case .refuse: "auto-refuse"
        case .ask: "always ask me about"
        }
        var text = "\(verb) \(keys.map(\.description).joined(separator: ", "))"
        if let verified = organisationVerified { text += verified ? " to verified organisations" : " to unverified organisations" }
        if !purposes.isEmpty { text += " for \(purposes.joined(separator: " or "))" }
        if let days = maxDurationDays { text += ", up to \(days) days" }
        return text
    }
}
