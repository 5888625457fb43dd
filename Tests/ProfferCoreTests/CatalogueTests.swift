import Foundation
import ProfferCore
import Testing

/// Validates `value` against the standard entry for `key`, returning the failure's errors (empty when it passed).
private func errors(_ key: String, _ value: JSONValue, at pointer: String = "/value") -> [FieldError] {
    guard let entry = Catalogue.standard.entry(for: key) else {
        Issue.record("no catalogue entry \(key)")
        return []
    }
    do {
        _ = try entry.validate(value, at: pointer)
        return []
    } catch {
        return error.errors
    }
}

private func normalised(_ key: String, _ value: JSONValue) throws -> JSONValue {
    let entry = try #require(Catalogue.standard.entry(for: key))
    return try entry.validate(value)
}

private func entry(_ type: RecordType) -> CatalogueEntry {
    CatalogueEntry(key: "test.value", category: .preferences, type: type, description: "A test value.")
}

private func errors(_ type: RecordType, _ value: JSONValue) -> [FieldError] {
    do {
        _ = try entry(type).validate(value)
        return []
    } catch {
        return error.errors
    }
}

/// A single error at `pointer` whose detail contains `fragment`.
private func expectSingle(
    _ found: [FieldError], at pointer: String = "/value", mentioning fragment: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(found.count == 1, "expected one error, got \(found)", sourceLocation: sourceLocation)
    guard let error = found.first else { return }
    #expect(error.pointer == pointer, sourceLocation: sourceLocation)
    #expect(error.detail.contains(fragment), "\"\(error.detail)\" does not mention \"\(fragment)\"", sourceLocation: sourceLocation)
}

private func money(_ amount: JSONValue, _ currency: String) -> JSONValue {
    .object(["amount": amount, "currency": .string(currency)])
}

private func address(
    lines: [String] = ["1 High Street"], locality: String? = "Oxford", country: String = "GB",
    extra: [String: JSONValue] = [:]
) -> JSONValue {
    var members: [String: JSONValue] = ["lines": .array(lines.map(JSONValue.string)), "country": .string(country)]
    if let locality { members["locality"] = .string(locality) }
    members.merge(extra) { _, new in new }
    return .object(members)
}

@Suite("Catalogue contents")
struct CatalogueContentsTests {
    let catalogue = Catalogue.standard

    @Test func hasEnoughKeysInEveryCategory() {
        #expect(catalogue.entries.count >= 30)
        let categories = Set(catalogue.entries.map(\.category))
        #expect(categories == Set(RecordCategory.allCases))
    }

    @Test func keysAreUniqueAndWellFormed() throws {
        let keys = catalogue.entries.map(\.key)
        #expect(Set(keys).count == keys.count)
        let pattern = try Regex("^[a-z]+(\\.[a-z][a-z0-9-]*)+$")
        for key in keys {
            #expect(key.wholeMatch(of: pattern) != nil, "malformed key \(key)")
        }
    }

    @Test func entriesAreOrderedByCategoryThenKey() {
        let ranks = catalogue.entries.map { entry in
            (RecordCategory.allCases.firstIndex(of: entry.category) ?? -1, entry.key)
        }
        for (left, right) in zip(ranks, ranks.dropFirst()) {
            #expect(left < right)
        }
    }

    @Test func sharedKeysAreTheSameTextAndUnknownKeysPassThrough() {
        for entry in catalogue.entries {
            let readBack = String(decoding: Array(entry.key.utf8), as: UTF8.self)
            #expect(catalogue.shared(readBack) == entry.key)
        }
        #expect(catalogue.shared("not.a-key") == "not.a-key")
    }

    @Test func lookupFindsEveryEntry() {
        for entry in catalogue.entries {
            #expect(catalogue.entry(for: entry.key) == entry)
            #expect(catalogue.contains(entry.key))
        }
        #expect(catalogue.entry(for: "contact.fax") == nil)
        #expect(!catalogue.contains("contact.fax"))
    }

    @Test func healthKeysAreSensitive() {
        let health = catalogue.entries.filter { $0.category == .health }
        #expect(health.count >= 5)
        #expect(health.allSatisfy { $0.sensitive })
        #expect(catalogue.entry(for: "contact.email")?.sensitive == false)
    }

    @Test func everyEntryHasAnObjectSchemaWithAType() {
        for entry in catalogue.entries {
            guard case .object(let schema) = entry.valueSchema else {
                Issue.record("schema of \(entry.key) is not an object")
                continue
            }
            #expect(schema["type"] != nil, "schema of \(entry.key) has no type")
            #expect(!entry.description.isEmpty)
            #expect(entry.description.hasSuffix("."))
        }
    }

    @Test func publishedTypeNames() throws {
        let names: [String: String] = [
            "identity.name.full": "text", "contact.email": "email", "contact.phone.mobile": "phone",
            "identity.birthdate": "date", "identity.nationality": "country", "identity.language": "language",
            "finance.income.annual": "money", "address.home": "postal-address",
            "education.qualification": "qualification", "employment.current": "employment",
            "contact.website": "url", "preference.marketing.opt-in": "boolean",
            "finance.credit.score": "integer", "identity.gender": "choice", "address.previous": "list",
        ]
        for (key, name) in names {
            #expect(try #require(catalogue.entry(for: key)).typeName == name)
        }
    }

    @Test func entryEncodesSixMembers() throws {
        let entry = try #require(catalogue.entry(for: "finance.income.annual"))
        let data = try JSONEncoder().encode(entry)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == ["key", "category", "type", "description", "sensitive", "schema"])
        #expect(object["key"] as? String == "finance.income.annual")
        #expect(object["category"] as? String == "finance")
        #expect(object["type"] as? String == "money")
        #expect(object["sensitive"] as? Bool == false)
        let schema = try #require(object["schema"] as? [String: Any])
        #expect(schema["type"] as? String == "object")
    }

    @Test func wholeCatalogueEncodes() throws {
        let data = try JSONEncoder().encode(catalogue.entries)
        let decoded = try JSONDecoder().decode([JSONValue].self, from: data)
        #expect(decoded.count == catalogue.entries.count)
    }
}

@Suite("ISO code lists")
struct ISOCodeTests {
    @Test func countries() {
        #expect(ISO3166.isAssigned("GB"))
        #expect(ISO3166.isAssigned("AX"))
        #expect(!ISO3166.isAssigned("UK"))
        #expect(!ISO3166.isAssigned("gb"))
        #expect(!ISO3166.isAssigned("XK"))
        let letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ".map(String.init)
        let assigned = letters.flatMap { first in letters.map { first + $0 } }.filter(ISO3166.isAssigned)
        #expect(assigned.count == 249)
    }

    @Test(arguments: [("JPY", 0), ("EUR", 2), ("GBP", 2), ("USD", 2), ("BHD", 3), ("KWD", 3), ("ISK", 0), ("CLP", 0)])
    func currencyMinorUnits(code: String, units: Int) {
        #expect(ISO4217.minorUnits(of: code) == units)
    }

    @Test(arguments: ["ABC", "XAU", "XAG", "XBA", "XXX", "XTS", "BOV", "usd", ""])
    func excludedCurrencies(code: String) {
        #expect(ISO4217.minorUnits(of: code) == nil)
    }

    @Test func languages() {
        #expect(ISO639.isAssigned("en"))
        #expect(ISO639.isAssigned("cy"))
        #expect(!ISO639.isAssigned("xx"))
        #expect(!ISO639.isAssigned("EN"))
        let letters = "abcdefghijklmnopqrstuvwxyz".map(String.init)
        let assigned = letters.flatMap { first in letters.map { first + $0 } }.filter(ISO639.isAssigned)
        #expect(assigned.count == 183)
    }
}

@Suite("Scalar values")
struct ScalarValueTests {
    @Test(arguments: ["alice@example.com", "a.b+tag@sub.example.co.uk", "o'neil@example.ie", "x@a-b.io"])
    func acceptsEmails(_ address: String) {
        #expect(errors("contact.email", .string(address)).isEmpty)
    }

    @Test(arguments: [
        ("alice.example.com", "@"),
        ("alice@localhost", "dot"),
        ("a..b@example.com", "dot"),
        (".a@example.com", "dot"),
        ("a@-example.com", "-"),
        ("a@b@example.com", "more than one"),
        ("al ice@example.com", "spaces"),
        ("@example.com", "empty"),
        ("a@example.123", "number"),
    ])
    func rejectsEmails(address: String, fragment: String) {
        expectSingle(errors("contact.email", .string(address)), mentioning: fragment)
    }

    @Test func emailLimits() throws {
        let local = String(repeating: "a", count: 65)
        expectSingle(errors("contact.email", .string("\(local)@example.com")), mentioning: "64")
        let domain = String(repeating: "abcdefghi.", count: 25) + "com"
        expectSingle(errors("contact.email", .string("a@\(domain)")), mentioning: "254")
        #expect(try normalised("contact.email", .string(" Alice@Example.COM ")) == .string("Alice@example.com"))
    }

    @Test func phoneNormalisation() throws {
        #expect(try normalised("contact.phone.mobile", .string("+44 7700 900-123")) == .string("+447700900123"))
        #expect(try normalised("contact.phone.home", .string("+12025550123")) == .string("+12025550123"))
    }

    @Test(arguments: [
        ("07700 900123", "+"),
        ("+44 (7700) 900123", "E.164"),
        ("+1234567", "7 digits"),
        ("+1234567890123456", "16 digits"),
        ("+0447700900123", "0"),
    ])
    func rejectsPhones(number: String, fragment: String) {
        expectSingle(errors("contact.phone.mobile", .string(number)), mentioning: fragment)
    }

    @Test(arguments: ["2024-02-29", "2000-02-29", "1800-01-01", "2200-12-31", "1999-12-31"])
    func acceptsDates(_ date: String) {
        #expect(errors("identity.birthdate", .string(date)).isEmpty)
    }

    @Test(arguments: [
        ("2023-02-29", "2023-02-29 does not exist"),
        ("1900-02-29", "1900-02-29 does not exist"),
        ("2026-02-30", "2026-02-30 does not exist"),
        ("2026-04-31", "does not exist"),
        ("2026-13-01", "does not exist"),
        ("2026-00-10", "does not exist"),
        ("1799-12-31", "1800 to 2200"),
        ("2201-01-01", "1800 to 2200"),
        ("2026-2-3", "YYYY-MM-DD"),
        ("03/02/2026", "YYYY-MM-DD"),
        ("2026-02-03T10:00:00Z", "YYYY-MM-DD"),
    ])
    func rejectsDates(date: String, fragment: String) {
        expectSingle(errors("identity.birthdate", .string(date)), mentioning: fragment)
    }

    @Test func countryNormalisedAndChecked() throws {
        #expect(try normalised("identity.nationality", .string("gb")) == .string("GB"))
        #expect(try normalised("identity.nationality", .string("FR")) == .string("FR"))
        expectSingle(
            errors("identity.nationality", .string("UK")),
            mentioning: "country must be an ISO 3166-1 alpha-2 code such as \"GB\"; \"UK\" is not assigned"
        )
        expectSingle(errors("identity.nationality", .string("GBR")), mentioning: "two letters")
    }

    @Test func languageNormalisedAndChecked() throws {
        #expect(try normalised("preference.language", .string("EN")) == .string("en"))
        expectSingle(errors("identity.language", .string("xx")), mentioning: "ISO 639-1")
        expectSingle(errors("identity.language", .string("eng")), mentioning: "two letters")
    }

    @Test func textRules() throws {
        #expect(try normalised("identity.name.given", .string("  Ada  ")) == .string("Ada"))
        expectSingle(errors("identity.name.given", .string(String(repeating: "x", count: 101))), mentioning: "at most 100 characters")
        #expect(errors("identity.name.given", .string(String(repeating: "é", count: 100))).isEmpty)
        expectSingle(errors("identity.name.given", .string("   ")), mentioning: "must not be empty")
        expectSingle(errors("identity.name.given", .string("Ada\u{7}Lovelace")), mentioning: "control characters")
        expectSingle(errors("identity.name.given", .string("Ada\nLovelace")), mentioning: "U+000A")
        expectSingle(errors("identity.name.given", .string("Ada\u{202E}ecalevoL")), mentioning: "control characters")
    }

    @Test func wrongJSONTypes() {
        expectSingle(errors("identity.name.given", .integer(3)), mentioning: "expected a string, got an integer")
        expectSingle(errors("preference.marketing.opt-in", .string("yes")), mentioning: "expected a boolean, got a string")
        expectSingle(errors("finance.dependants", .string("2")), mentioning: "expected an integer, got a string")
        expectSingle(errors("finance.income.annual", .string("£12")), mentioning: "expected an object")
        expectSingle(errors("address.previous", .object([:])), mentioning: "expected an array, got an object")
        expectSingle(errors("contact.email", .null), mentioning: "expected a string, got null")
    }

    @Test func longInputIsNotEchoedInFull() {
        let long = String(repeating: "abcdefghij", count: 10) + "@"
        let found = errors("identity.nationality", .string(long))
        expectSingle(found, mentioning: "two letters")
        #expect(found.first.map { !$0.detail.contains(long.prefix(41)) } == true)
        #expect(found.first.map { $0.detail.contains(long.prefix(40)) } == true)
    }

    @Test func integersAndChoices() throws {
        #expect(try normalised("finance.credit.score", .integer(720)) == .integer(720))
        #expect(try normalised("finance.credit.score", .number(720)) == .integer(720))
        expectSingle(errors("finance.credit.score", .integer(1001)), mentioning: "between 0 and 1000")
        expectSingle(errors("finance.dependants", .integer(-1)), mentioning: "between 0 and 20")
        expectSingle(errors("finance.dependants", .number(1.5)), mentioning: "whole number")
        #expect(try normalised("preference.contact.channel", .string("Email")) == .string("email"))
        expectSingle(errors("preference.contact.channel", .string("pigeon")), mentioning: "one of email, phone, post, none")
        #expect(try normalised("health.blood-type", .string("ab+")) == .string("AB+"))
    }

    @Test func urls() throws {
        #expect(try normalised("contact.website", .string("HTTPS://Example.COM/Path?q=1#top")) == .string("https://example.com/Path?q=1#top"))
        #expect(errors("contact.website", .string("http://localhost:8080/a%20b")).isEmpty)
        #expect(errors("contact.website", .string("https://[2001:db8::1]/")).isEmpty)
        expectSingle(errors("contact.website", .string("ftp://example.com")), mentioning: "http")
        expectSingle(errors("contact.website", .string("example.com")), mentioning: "http")
        expectSingle(errors("contact.website", .string("https://")), mentioning: "host")
        expectSingle(errors("contact.website", .string("https://exa mple.com")), mentioning: "percent-encoded")
        expectSingle(errors("contact.website", .string("https://user:pw@example.com")), mentioning: "password")
        expectSingle(errors("contact.website", .string("https://example.com:99999/")), mentioning: "port")
        expectSingle(errors("contact.website", .string("https://example.com/%zz")), mentioning: "%-escape")
        let long = "https://example.com/" + String(repeating: "a", count: 2029)
        expectSingle(errors("contact.website", .string(long)), mentioning: "2048")
    }

    @Test func iban() throws {
        #expect(try normalised("finance.bank.iban", .string("gb82 west 1234 5698 7654 32")) == .string("GB82WEST12345698765432"))
        #expect(errors("finance.bank.iban", .string("DE89370400440532013000")).isEmpty)
        expectSingle(errors("finance.bank.iban", .string("GB82WEST12345698765433")), mentioning: "mod-97")
        expectSingle(errors("finance.bank.iban", .string("GB82")), mentioning: "15 to 34")
        expectSingle(errors("finance.bank.iban", .string("GB82-WEST-1234")), mentioning: "letters")
    }

    @Test func customPointer() {
        let found = (try? Catalogue.standard.entry(for: "identity.birthdate")?.validate(.string("nope"), at: "/records/3/value"))
        #expect(found == nil)
        expectSingle(errors("identity.birthdate", .string("nope"), at: "/records/3/value"), at: "/records/3/value", mentioning: "YYYY-MM-DD")
    }
}

@Suite("Structured values")
struct StructuredValueTests {
    @Test func moneyAccepted() throws {
        #expect(try normalised("finance.income.annual", money(.integer(4_200_000), "gbp")) == money(.integer(4_200_000), "GBP"))
        #expect(errors("finance.income.annual", money(.integer(0), "JPY")).isEmpty)
        #expect(errors("finance.income.annual", money(.integer(Int64.max), "BHD")).isEmpty)
        #expect(try normalised("finance.income.annual", money(.number(1000), "EUR")) == money(.integer(1000), "EUR"))
    }

    @Test func moneyRejectsFractionalAmount() {
        expectSingle(
            errors("finance.income.annual", money(.number(12.5), "GBP")), at: "/value/amount",
            mentioning: "amount must be an integer number of minor units (e.g. cents)"
        )
    }

    @Test func moneyRejectsNegativeAndHugeAmounts() {
        expectSingle(errors("finance.income.annual", money(.integer(-1), "GBP")), at: "/value/amount", mentioning: "negative")
        expectSingle(errors("finance.income.annual", money(.number(-1e30), "GBP")), at: "/value/amount", mentioning: "negative")
        expectSingle(errors("finance.income.annual", money(.number(1e30), "GBP")), at: "/value/amount", mentioning: "too large")
        expectSingle(errors("finance.income.annual", money(.number(9.3e18), "GBP")), at: "/value/amount", mentioning: "minor units")
        expectSingle(errors("finance.income.annual", money(.string("12.50"), "GBP")), at: "/value/amount", mentioning: "got a string")
    }

    @Test func hugeAmountDecodedFromJSON() throws {
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(#"{"amount": 1e30, "currency": "USD"}"#.utf8))
        expectSingle(errors("finance.income.annual", value), at: "/value/amount", mentioning: "too large")
    }

    @Test func moneyRejectsUnknownCurrency() {
        expectSingle(errors("finance.income.annual", money(.integer(100), "ABC")), at: "/value/currency", mentioning: "\"ABC\" is not")
        expectSingle(errors("finance.income.annual", money(.integer(100), "XAU")), at: "/value/currency", mentioning: "ISO 4217")
        expectSingle(errors("finance.income.annual", money(.integer(100), "£")), at: "/value/currency", mentioning: "three letters")
    }

    @Test func moneyCollectsEveryError() {
        let value: JSONValue = .object(["amount": .number(1.25), "currency": .string("ABC"), "note": .string("x")])
        let found = errors("finance.income.annual", value)
        #expect(found.map(\.pointer) == ["/value/amount", "/value/currency", "/value/note"])
        #expect(found.last?.detail == "unknown member \"note\"; allowed: amount, currency")
        expectSingle(errors("finance.income.annual", .object(["amount": .integer(1)])), at: "/value/currency", mentioning: "required")
    }

    @Test func addressAcceptedAndNormalised() throws {
        let value = address(lines: [" 10 Downing Street "], locality: "London", country: "gb",
                            extra: ["postalCode": .string("SW1A 2AA"), "region": .null])
        let result = try normalised("address.home", value)
        #expect(result == .object([
            "lines": .array([.string("10 Downing Street")]), "locality": .string("London"), "postalCode": .string("SW1A 2AA"), "country": .string("GB"),
        ]))
    }

    @Test func addressCollectsAllErrors() {
        let found = errors("address.home", address(locality: nil, country: "UK"))
        #expect(found.count == 2)
        #expect(found.contains { $0.pointer == "/value/locality" && $0.detail.contains("required") })
        #expect(found.contains { $0.pointer == "/value/country" && $0.detail.contains("\"UK\" is not assigned") })
    }

    @Test func addressLinesAndUnknownMembers() {
        expectSingle(errors("address.home", address(lines: [])), at: "/value/lines", mentioning: "1 to 4")
        expectSingle(errors("address.home", address(lines: ["a", "b", "c", "d", "e"])), at: "/value/lines", mentioning: "1 to 4")
        expectSingle(
            errors("address.home", address(lines: ["ok", String(repeating: "x", count: 101)])),
            at: "/value/lines/1", mentioning: "at most 100 characters"
        )
        expectSingle(
            errors("address.home", address(extra: ["foo": .string("bar")])), at: "/value/foo",
            mentioning: "unknown member \"foo\"; allowed: lines, locality, region, postalCode, country"
        )
        expectSingle(errors("address.home", address(extra: ["a/b": .string("x")])), at: "/value/a~1b", mentioning: "unknown member")
        expectSingle(
            errors("address.home", address(extra: ["postalCode": .string(String(repeating: "9", count: 21))])),
            at: "/value/postalCode", mentioning: "at most 20"
        )
    }

    @Test func listsPointAtItems() {
        let value: JSONValue = .array([address(), address(country: "ZZ"), address(locality: nil)])
        let found = errors("address.previous", value)
        #expect(found.map(\.pointer) == ["/value/1/country", "/value/2/locality"])
        let tooMany: JSONValue = .array(Array(repeating: address(), count: 6))
        expectSingle(errors("address.previous", tooMany), mentioning: "at most 5 items")
        #expect(errors("address.previous", .array([])).isEmpty)
        expectSingle(errors("health.allergies", .array([.string("peanuts"), .integer(3)])), at: "/value/1", mentioning: "expected a string")
        expectSingle(errors("health.dietary-requirements", .array([.string("vegan"), .string("paleo")])), at: "/value/1", mentioning: "one of")
    }

    @Test func qualification() throws {
        let good: JSONValue = .object([
            "title": .string("BSc Mathematics"), "institution": .string("University of Leeds"), "awardedOn": .string("2015-07-01"),
            "level": .string("bachelor"), "grade": .string("First"),
        ])
        #expect(try normalised("education.qualification", good) == good)
        let bad: JSONValue = .object([
            "title": .string(String(repeating: "t", count: 201)), "awardedOn": .string("2015-02-29"), "level": .string("phd"),
        ])
        let found = errors("education.qualification", bad)
        #expect(found.map(\.pointer) == ["/value/title", "/value/institution", "/value/awardedOn", "/value/level"])
        #expect(found.first { $0.pointer == "/value/awardedOn" }?.detail.contains("awardedOn must be an ISO 8601 calendar date") == true)
    }

    @Test func employmentDates() throws {
        let good: JSONValue = .object(["employer": .string("Acme"), "title": .string("Engineer"), "startedOn": .string("2019-03-01"), "endedOn": .string("2021-06-30")])
        #expect(try normalised("employment.current", good) == good)
        let reversed: JSONValue = .object(["employer": .string("Acme"), "title": .string("Engineer"), "startedOn": .string("2021-03-01"), "endedOn": .string("2020-06-30")])
        expectSingle(errors("employment.current", reversed), at: "/value/endedOn", mentioning: "must not be before startedOn")
        let history: JSONValue = .array([good, reversed])
        expectSingle(errors("employment.history", history), at: "/value/1/endedOn", mentioning: "startedOn")
    }

    @Test func customTypes() {
        #expect(errors(.list(.country, maxItems: 2), .array([.string("gb"), .string("fr")])).isEmpty)
        expectSingle(errors(.list(.country, maxItems: 2), .array([.string("gb"), .string("fr"), .string("de")])), mentioning: "at most 2 items")
        expectSingle(errors(.integer(min: -5, max: 5), .number(1e30)), mentioning: "out of range")
    }
}
