/// The published list of record keys a person can keep and an organisation can ask for.
public struct Catalogue: Sendable {
    /// Every entry, ordered by category (in `RecordCategory` order) then key.
    public let entries: [CatalogueEntry]
    private let positions: [String: Int]

    /// A catalogue of `entries`; when two entries share a key, the first wins.
    public init(_ entries: [CatalogueEntry]) {
        var seen = Set<String>()
        let unique = entries.filter { seen.insert($0.key).inserted }
        let sorted = unique.sorted { lhs, rhs in
            let left = Self.rank(lhs.category)
            let right = Self.rank(rhs.category)
            return left != right ? left < right : lhs.key < rhs.key
        }
        self.entries = sorted
        var positions: [String: Int] = [:]
        for (offset, entry) in sorted.enumerated() {
            positions[entry.key] = offset
        }
        self.positions = positions
    }

    public func entry(for key: String) -> CatalogueEntry? {
        positions[key].map { entries[$0] }
    }

    public func contains(_ key: String) -> Bool {
        positions[key] != nil
    }

    /// `key` as the catalogue's own copy of that text (or `key` itself if the catalogue has no such key). Keys read
    /// back from storage are each a string of their own; shared with the catalogue, two equal keys compare by
    /// identity instead of byte by byte, which the disclosure batch does for every record it hands out.
    public func shared(_ key: String) -> String {
        positions[key].map { entries[$0].key } ?? key
    }

    private static func rank(_ category: RecordCategory) -> Int {
        RecordCategory.allCases.firstIndex(of: category) ?? RecordCategory.allCases.count
    }
}

extension Catalogue {
    /// The catalogue this server publishes.
    public static let standard = Catalogue(standardEntries)

    private static func entry(
        _ key: String, _ category: RecordCategory, _ type: RecordType, _ description: String,
        refinement: ValueRefinement? = nil
    ) -> CatalogueEntry {
        CatalogueEntry(
            key: key, category: category, type: type, description: description,
            sensitive: category == .health, refinement: refinement
        )
    }

    private static let standardEntries: [CatalogueEntry] = [
        // identity
        entry("identity.name.full", .identity, .text(maxLength: 200),
              "The person's full name as they wish it to be written."),
        entry("identity.name.given", .identity, .text(maxLength: 100),
              "The person's given (first) name or names."),
        entry("identity.name.family", .identity, .text(maxLength: 100),
              "The person's family name or surname."),
        entry("identity.name.preferred", .identity, .text(maxLength: 100),
              "The name the person prefers to be addressed by."),
        entry("identity.birthdate", .identity, .date,
              "The person's date of birth."),
        entry("identity.nationality", .identity, .country,
              "The country of which the person is a national."),
        entry("identity.gender", .identity,
              .choice(["female", "male", "non-binary", "other", "prefer-not-to-say"]),
              "The gender the person identifies with."),
        entry("identity.language", .identity, .languageCode,
              "The person's first language."),

        // contact
        entry("contact.email", .contact, .email,
              "The email address at which the person can be reached."),
        entry("contact.phone.mobile", .contact, .phone,
              "The person's mobile telephone number."),
        entry("contact.phone.home", .contact, .phone,
              "The person's home landline telephone number."),
        entry("contact.phone.work", .contact, .phone,
              "The telephone number at which the person can be reached at work."),
        entry("contact.website", .contact, .url,
              "The person's personal website or public profile page."),

        // address
        entry("address.home", .address, .postalAddress,
              "The address where the person lives."),
        entry("address.postal", .address, .postalAddress,
              "The address to which the person wants post sent, if different from home."),
        entry("address.work", .address, .postalAddress,
              "The address of the person's usual place of work."),
        entry("address.previous", .address, .list(.postalAddress, maxItems: 5),
              "Addresses where the person lived before, most recent first."),

        // finance
        entry("finance.income.annual", .finance, .money,
              "The person's gross annual income before tax."),
        entry("finance.employment.status", .finance,
              .choice(["employed", "self-employed", "unemployed", "student", "retired", "homemaker",
                       "unable-to-work", "other"]),
              "The person's employment status for financial purposes."),
        entry("finance.bank.iban", .finance, .text(maxLength: 34),
              "The International Bank Account Number of the person's main account.",
              refinement: .iban),
        entry("finance.credit.score", .finance, .integer(min: 0, max: 1000),
              "The person's credit score on a scale from 0 to 1000."),
        entry("finance.housing.status", .finance,
              .choice(["owner-outright", "owner-mortgaged", "renter", "social-tenant", "living-with-family", "other"]),
              "Whether the person owns, rents or otherwise occupies their home."),
        entry("finance.dependants", .finance, .integer(min: 0, max: 20),
              "The number of people who depend on the person financially."),

        // employment
        entry("employment.current", .employment, .employment,
              "The person's current job."),
        entry("employment.history", .employment, .list(.employment, maxItems: 20),
              "The person's previous jobs, most recent first."),
        entry("employment.occupation", .employment, .text(maxLength: 100),
              "The person's occupation or profession."),

        // education
        entry("education.qualification", .education, .qualification,
              "The person's highest or most relevant qualification."),
        entry("education.qualifications", .education, .list(.qualification, maxItems: 20),
              "All qualifications the person chooses to list."),
        entry("education.level", .education,
              .choice(["none", "secondary", "vocational", "bachelor", "master", "doctorate", "other"]),
              "The highest level of education the person has completed."),

        // health (all sensitive)
        entry("health.blood-type", .health, .choice(["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"]),
              "The person's ABO and Rh blood type."),
        entry("health.allergies", .health, .list(.text(maxLength: 100), maxItems: 50),
              "Substances the person is allergic to."),
        entry("health.conditions", .health, .list(.text(maxLength: 200), maxItems: 50),
              "Medical conditions the person chooses to disclose."),
        entry("health.dietary-requirements", .health,
              .list(.choice(["vegetarian", "vegan", "pescatarian", "halal", "kosher", "gluten-free",
                             "lactose-free", "nut-free", "other"]), maxItems: 9),
              "Dietary requirements the person has for health, ethical or religious reasons."),
        entry("health.disability", .health, .text(maxLength: 500),
              "A description of any disability the person chooses to disclose."),

        // preferences
        entry("preference.contact.channel", .preferences, .choice(["email", "phone", "post", "none"]),
              "How the person prefers to be contacted."),
        entry("preference.language", .preferences, .languageCode,
              "The language the person prefers to be addressed in."),
        entry("preference.marketing.opt-in", .preferences, .boolean,
              "Whether the person agrees to receive marketing messages."),
        entry("preference.newsletter.topics", .preferences, .list(.text(maxLength: 50), maxItems: 20),
              "Topics the person wants to hear about."),
        entry("preference.accessibility", .preferences, .text(maxLength: 500),
              "Adjustments the person needs in order to use a service or read correspondence."),
    ]
}
