/// One key of the published record catalogue: what it means, the type of its value, and how sensitive it is.
public struct CatalogueEntry: Sendable, Hashable {
    /// Dotted lowercase key, e.g. "contact.email".
    public let key: String
    public let category: RecordCategory
    public let type: RecordType
    /// One plain-English sentence.
    public let description: String
    /// Special-category data (health and the like) that deserves extra care when requested.
    public let sensitive: Bool
    /// A stricter rule than `type` alone, such as an IBAN's checksum.
    let refinement: ValueRefinement?

    public init(key: String, category: RecordCategory, type: RecordType, description: String, sensitive: Bool = false) {
        self.init(key: key, category: category, type: type, description: description, sensitive: sensitive, refinement: nil)
    }

    init(key: String, category: RecordCategory, type: RecordType, description: String, sensitive: Bool, refinement: ValueRefinement?) {
        self.key = key
        self.category = category
        self.type = type
        self.description = description
        self.sensitive = sensitive
        self.refinement = refinement
    }

    /// Validates and normalises a value; `pointer` is the JSON pointer of the value in the request body (e.g. "/value").
    ///
    /// Every problem found is reported, each with the pointer of the offending part.
    public func validate(_ value: JSONValue, at pointer: String = "/value") throws(ValidationFailure) -> JSONValue {
        var validator = ValueValidator()
        let result: JSONValue?
        switch refinement {
        case .iban:
            result = validator.checkIBAN(value, at: pointer, label: "IBAN").map(JSONValue.string)
        case nil:
            result = validator.check(value, as: type, at: pointer, label: type.noun)
        }
        if let result, validator.errors.isEmpty {
            return result
        }
        if validator.errors.isEmpty {
            throw ValidationFailure(pointer: pointer, detail: "value is not a valid \(typeName) for \(key)")
        }
        throw ValidationFailure(validator.errors)
    }

    /// A JSON Schema (2020-12 subset) describing the value, for publishing.
    public var valueSchema: JSONValue {
        var schema: [String: JSONValue]
        switch refinement {
        case .iban:
            schema = [
                "type": .string("string"),
                "pattern": .string("^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$"),
                "description": .string("An IBAN without spaces, in uppercase, with valid mod-97 check digits."),
            ]
        case nil:
            if case .object(let members) = type.schema {
                schema = members
            } else {
                schema = [:]
            }
        }
        schema["$schema"] = .string("https://json-schema.org/draft/2020-12/schema")
        schema["title"] = .string(key)
        return .object(schema)
    }

    /// Short type name for publishing: "text", "email", "phone", "date", "country", "language", "money",
    /// "postal-address", "qualification", "employment", "url", "boolean", "integer", "choice", "list".
    public var typeName: String {
        type.typeName
    }
}

extension CatalogueEntry: Encodable {
    private enum CodingKeys: String, CodingKey {
        case key, category, type, description, sensitive, schema
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(key, forKey: .key)
        try container.encode(category, forKey: .category)
        try container.encode(typeName, forKey: .type)
        try container.encode(description, forKey: .description)
        try container.encode(sensitive, forKey: .sensitive)
        try container.encode(valueSchema, forKey: .schema)
    }
}
