/// The broad area of a person's life a catalogue key belongs to.
public enum RecordCategory: String, Sendable, Hashable, Codable, CaseIterable {
    case identity, contact, address, finance, employment, education, health, preferences
}

/// The type of a catalogue key's value.
public enum RecordType: Sendable, Hashable {
    /// A non-empty line of text (trimmed) without control characters, at most `maxLength` Unicode scalars.
    case text(maxLength: Int)
    /// A practical RFC 5322 addr-spec: `local@domain`; the domain is lowercased.
    case email
    /// An E.164 number: "+" then 8 to 15 digits; spaces and hyphens in the input are removed.
    case phone
    /// An ISO 8601 calendar date `YYYY-MM-DD` that exists, with a year from 1800 to 2200.
    case date
    /// An assigned ISO 3166-1 alpha-2 code, normalised to uppercase.
    case country
    /// An ISO 639-1 two-letter language code, normalised to lowercase.
    case languageCode
    /// `{"amount": minor units as a non-negative integer, "currency": active ISO 4217 code}`.
    case money
    /// `{"lines", "locality", "region"?, "postalCode"?, "country"}`.
    case postalAddress
    /// `{"title", "institution", "awardedOn", "level"?, "grade"?}`.
    case qualification
    /// `{"employer", "title", "startedOn", "endedOn"?}`.
    case employment
    /// An absolute http or https URL of at most 2048 characters.
    case url
    case boolean
    case integer(min: Int64, max: Int64)
    /// One of the listed strings.
    case choice([String])
    /// An array of 0 to `maxItems` values of the element type.
    indirect case list(RecordType, maxItems: Int)
}

extension RecordType {
    /// Short type name for publishing.
    var typeName: String {
        switch self {
        case .text: "text"
        case .email: "email"
        case .phone: "phone"
        case .date: "date"
        case .country: "country"
        case .languageCode: "language"
        case .money: "money"
        case .postalAddress: "postal-address"
        case .qualification: "qualification"
        case .employment: "employment"
        case .url: "url"
        case .boolean: "boolean"
        case .integer: "integer"
        case .choice: "choice"
        case .list: "list"
        }
    }

    /// The noun used in messages about a value of this type when it has no member name.
    var noun: String {
        switch self {
        case .email: "email address"
        case .phone: "phone number"
        case .date: "date"
        case .country: "country"
        case .languageCode: "language"
        case .url: "URL"
        case .text, .money, .postalAddress, .qualification, .employment,
             .boolean, .integer, .choice, .list:
            "value"
        }
    }
}

// MARK: - Object shapes

/// Member names and limits of the structured types, shared by validation and schemas.
enum RecordShape {
    static let moneyMembers = ["amount", "currency"]

    static let addressMembers = ["lines", "locality", "region", "postalCode", "country"]
    static let addressMaxLines = 4
    static let addressLineLength = 100
    static let localityLength = 100
    static let regionLength = 100
    static let postalCodeLength = 20

    static let qualificationMembers = ["title", "institution", "awardedOn", "level", "grade"]
    static let qualificationTitleLength = 200
    static let institutionLength = 200
    static let qualificationLevels = ["secondary", "vocational", "bachelor", "master", "doctorate", "other"]
    static let gradeLength = 50

    static let employmentMembers = ["employer", "title", "startedOn", "endedOn"]
    static let employerLength = 200
    static let jobTitleLength = 200

    static let emailMaxLength = 254
    static let emailLocalMaxLength = 64
    static let urlMaxLength = 2048
    static let minYear = 1800
    static let maxYear = 2200
}

// MARK: - JSON Schema

extension RecordType {
    /// A JSON Schema (2020-12 subset) for a value of this type, after normalisation.
    var schema: JSONValue {
        switch self {
        case .text(let maxLength):
            return ValueSchema.text(maxLength)
        case .email:
            return .object([
                "type": .string("string"),
                "format": .string("email"),
                "maxLength": .integer(Int64(RecordShape.emailMaxLength)),
                "description": .string("An email address local@domain; the domain is stored in lowercase."),
            ])
        case .phone:
            return .object([
                "type": .string("string"),
                "pattern": .string("^\\+[1-9][0-9]{7,14}$"),
                "description": .string("An E.164 telephone number: \"+\" then 8 to 15 digits, without spaces."),
            ])
        case .date:
            return ValueSchema.date
        case .country:
            return ValueSchema.country
        case .languageCode:
            return .object([
                "type": .string("string"),
                "pattern": .string("^[a-z]{2}$"),
                "description": .string("An ISO 639-1 two-letter language code, lowercase."),
            ])
        case .money:
            return ValueSchema.object(
                properties: [
                    "amount": .object([
                        "type": .string("integer"),
                        "minimum": .integer(0),
                        "maximum": .integer(Int64.max),
                        "description": .string("The amount in the currency's minor units (e.g. cents)."),
                    ]),
                    "currency": .object([
                        "type": .string("string"),
                        "pattern": .string("^[A-Z]{3}$"),
                        "description": .string("An active ISO 4217 currency code."),
                    ]),
                ],
                required: RecordShape.moneyMembers
            )
        case .postalAddress:
            return ValueSchema.object(
                properties: [
                    "lines": .object([
                        "type": .string("array"),
                        "minItems": .integer(1),
                        "maxItems": .integer(Int64(RecordShape.addressMaxLines)),
                        "items": ValueSchema.text(RecordShape.addressLineLength),
                    ]),
                    "locality": ValueSchema.text(RecordShape.localityLength),
                    "region": ValueSchema.text(RecordShape.regionLength),
                    "postalCode": ValueSchema.text(RecordShape.postalCodeLength),
                    "country": ValueSchema.country,
                ],
                required: ["lines", "locality", "country"]
            )
        case .qualification:
            return ValueSchema.object(
                properties: [
                    "title": ValueSchema.text(RecordShape.qualificationTitleLength),
                    "institution": ValueSchema.text(RecordShape.institutionLength),
                    "awardedOn": ValueSchema.date,
                    "level": ValueSchema.choice(RecordShape.qualificationLevels),
                    "grade": ValueSchema.text(RecordShape.gradeLength),
                ],
                required: ["title", "institution", "awardedOn"]
            )
        case .employment:
            return ValueSchema.object(
                properties: [
                    "employer": ValueSchema.text(RecordShape.employerLength),
                    "title": ValueSchema.text(RecordShape.jobTitleLength),
                    "startedOn": ValueSchema.date,
                    "endedOn": ValueSchema.date,
                ],
                required: ["employer", "title", "startedOn"]
            )
        case .url:
            return .object([
                "type": .string("string"),
                "format": .string("uri"),
                "pattern": .string("^[Hh][Tt][Tt][Pp][Ss]?://"),
                "maxLength": .integer(Int64(RecordShape.urlMaxLength)),
            ])
        case .boolean:
            return .object(["type": .string("boolean")])
        case .integer(let min, let max):
            return .object(["type": .string("integer"), "minimum": .integer(min), "maximum": .integer(max)])
        case .choice(let options):
            return ValueSchema.choice(options)
        case .list(let element, let maxItems):
            return .object([
                "type": .string("array"),
                "minItems": .integer(0),
                "maxItems": .integer(Int64(maxItems)),
                "items": element.schema,
            ])
        }
    }
}

enum ValueSchema {
    static func text(_ maxLength: Int) -> JSONValue {
        .object(["type": .string("string"), "minLength": .integer(1), "maxLength": .integer(Int64(maxLength))])
    }

    static let date: JSONValue = .object([
        "type": .string("string"),
        "format": .string("date"),
        "pattern": .string("^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
        "description": .string("An ISO 8601 calendar date YYYY-MM-DD with a year from 1800 to 2200."),
    ])

    static let country: JSONValue = .object([
        "type": .string("string"),
        "pattern": .string("^[A-Z]{2}$"),
        "description": .string("An assigned ISO 3166-1 alpha-2 country code, uppercase."),
    ])

    static func choice(_ options: [String]) -> JSONValue {
        .object(["type": .string("string"), "enum": .array(options.map(JSONValue.string))])
    }

    static func object(properties: [String: JSONValue], required: [String]) -> JSONValue {
        .object([
            "type": .string("object"),
            "properties": .object(properties),
            "required": .array(required.map(JSONValue.string)),
            "additionalProperties": .bool(false),
        ])
    }
}
