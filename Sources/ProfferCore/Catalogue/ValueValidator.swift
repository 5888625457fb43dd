/// A stricter rule layered on a catalogue entry's published type.
enum ValueRefinement: Sendable, Hashable {
    /// An International Bank Account Number, checked with ISO 13616 mod-97.
    case iban
}

/// Validates and normalises one JSON value, collecting every problem instead of stopping at the first.
///
/// Each `check…` function returns the normalised value, or nil after recording at least one error.
struct ValueValidator {
    private(set) var errors: [FieldError] = []

    /// The most characters of a rejected input that a message may repeat.
    static let echoLimit = 40

    mutating func fail(_ pointer: String, _ detail: String) {
        errors.append(FieldError(pointer: pointer, detail: detail))
    }

    mutating func check(_ value: JSONValue, as type: RecordType, at pointer: String, label: String) -> JSONValue? {
        switch type {
        case .text(let maxLength):
            return checkText(value, maxLength: maxLength, at: pointer, label: label).map(JSONValue.string)
        case .email:
            return checkEmail(value, at: pointer, label: label).map(JSONValue.string)
        case .phone:
            return checkPhone(value, at: pointer, label: label).map(JSONValue.string)
        case .date:
            return checkDate(value, at: pointer, label: label).map(JSONValue.string)
        case .country:
            return checkCountry(value, at: pointer, label: label).map(JSONValue.string)
        case .languageCode:
            return checkLanguage(value, at: pointer, label: label).map(JSONValue.string)
        case .money:
            return checkObject(value, at: pointer, fields: [
                ObjectField("amount", .amount),
                ObjectField("currency", .currency),
            ])
        case .postalAddress:
            return checkObject(value, at: pointer, fields: [
                ObjectField("lines", .addressLines),
                ObjectField("locality", .type(.text(maxLength: RecordShape.localityLength))),
                ObjectField("region", .type(.text(maxLength: RecordShape.regionLength)), required: false),
                ObjectField("postalCode", .type(.text(maxLength: RecordShape.postalCodeLength)), required: false),
                ObjectField("country", .type(.country)),
            ])
        case .qualification:
            return checkObject(value, at: pointer, fields: [
                ObjectField("title", .type(.text(maxLength: RecordShape.qualificationTitleLength))),
                ObjectField("institution", .type(.text(maxLength: RecordShape.institutionLength))),
                ObjectField("awardedOn", .type(.date)),
                ObjectField("level", .type(.choice(RecordShape.qualificationLevels)), required: false),
                ObjectField("grade", .type(.text(maxLength: RecordShape.gradeLength)), required: false),
            ])
        case .employment:
            return checkEmployment(value, at: pointer)
        case .url:
            return checkURL(value, at: pointer, label: label).map(JSONValue.string)
        case .boolean:
            guard case .bool = value else {
                fail(pointer, "expected a boolean, got \(value.typeName)")
                return nil
            }
            return value
        case .integer(let min, let max):
            guard let number = checkWholeNumber(value, at: pointer, label: label) else { return nil }
            guard number >= min, number <= max else {
                fail(pointer, "\(label) must be between \(min) and \(max); got \(number)")
                return nil
            }
            return .integer(number)
        case .choice(let options):
            return checkChoice(value, options: options, at: pointer, label: label).map(JSONValue.string)
        case .list(let element, let maxItems):
            return checkList(value, of: element, maxItems: maxItems, at: pointer, label: label)
        }
    }

    // MARK: Strings

    mutating func checkString(_ value: JSONValue, at pointer: String) -> String? {
        guard case .string(let string) = value else {
            fail(pointer, "expected a string, got \(value.typeName)")
            return nil
        }
        return string
    }

    mutating func checkText(_ value: JSONValue, maxLength: Int, at pointer: String, label: String) -> String? {
        guard let raw = checkString(value, at: pointer) else { return nil }
        let text = CatalogueText.trimmed(raw)
        guard !text.isEmpty else {
            fail(pointer, "\(label) must not be empty")
            return nil
        }
        var valid = true
        if let bad = text.unicodeScalars.first(where: CatalogueText.isForbidden) {
            fail(pointer, "\(label) must not contain control characters (found \(CatalogueText.codePoint(bad)))")
            valid = false
        }
        let length = text.unicodeScalars.count
        if length > maxLength {
            fail(pointer, "\(label) must be at most \(maxLength) characters; got \(length)")
            valid = false
        }
        return valid ? text : nil
    }

    mutating func checkChoice(_ value: JSONValue, options: [String], at pointer: String, label: String) -> String? {
        guard let raw = checkString(value, at: pointer) else { return nil }
        let text = CatalogueText.trimmed(raw)
        if options.contains(text) { return text }
        let folded = text.lowercased()
        if let match = options.first(where: { $0.lowercased() == folded }) { return match }
        fail(pointer, "\(label) must be one of \(options.joined(separator: ", ")); \(CatalogueText.quoted(raw)) is not")
        return nil
    }

    // MARK: Email

    mutating func checkEmail(_ value: JSONValue, at pointer: String, label: String) -> String? {
        guard let raw = checkString(value, at: pointer) else { return nil }
        let address = CatalogueText.trimmed(raw)
        let rule = "\(label) must look like \"name@example.com\""
        let quoted = CatalogueText.quoted(raw)
        guard !address.isEmpty else {
            fail(pointer, "\(label) must not be empty")
            return nil
        }
        guard address.unicodeScalars.allSatisfy({ $0.value >= 0x21 && $0.value <= 0x7E }) else {
            fail(pointer, "\(rule); \(quoted) contains spaces, control or non-ASCII characters")
            return nil
        }
        guard address.utf8.count <= RecordShape.emailMaxLength else {
            fail(pointer, "\(label) must be at most \(RecordShape.emailMaxLength) characters; got \(address.utf8.count)")
            return nil
        }
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            fail(pointer, parts.count < 2 ? "\(rule); \(quoted) has no \"@\"" : "\(rule); \(quoted) has more than one \"@\"")
            return nil
        }
        let local = parts[0]
        let domain = parts[1].lowercased()
        if let problem = Self.localPartProblem(local) {
            fail(pointer, "\(rule); in \(quoted) the part before \"@\" \(problem)")
            return nil
        }
        if let problem = Self.domainProblem(domain) {
            fail(pointer, "\(rule); in \(quoted) the domain \(problem)")
            return nil
        }
        return "\(local)@\(domain)"
    }

    private static let atext: Set<Character> = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-")

    private static func localPartProblem(_ local: Substring) -> String? {
        if local.isEmpty { return "is empty" }
        if local.utf8.count > RecordShape.emailLocalMaxLength {
            return "is longer than \(RecordShape.emailLocalMaxLength) characters"
        }
        let atoms = local.split(separator: ".", omittingEmptySubsequences: false)
        if atoms.contains(where: \.isEmpty) { return "has a leading, trailing or doubled dot" }
        if let bad = local.first(where: { $0 != "." && !atext.contains($0) }) {
            return "contains \"\(bad)\", which is not allowed"
        }
        return nil
    }

    private static func domainProblem(_ domain: String) -> String? {
        if domain.isEmpty { return "is empty" }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        if labels.count < 2 { return "must contain a dot, as in example.com" }
        if labels.contains(where: \.isEmpty) { return "has a leading, trailing or doubled dot" }
        for label in labels {
            if let problem = hostLabelProblem(label) { return problem }
        }
        if let last = labels.last, last.allSatisfy(\.isNumber) {
            return "must end in a name, not a number"
        }
        return nil
    }

    /// Problems with one DNS label (letters, digits and inner hyphens, at most 63 characters).
    static func hostLabelProblem(_ label: Substring) -> String? {
        if label.utf8.count > 63 { return "has a label longer than 63 characters" }
        if label.first == "-" || label.last == "-" { return "has a label that starts or ends with \"-\"" }
        if let bad = label.first(where: { !(CatalogueText.isASCIIAlphanumeric($0) || $0 == "-") }) {
            return "contains \"\(bad)\", which is not allowed"
        }
        return nil
    }

    // MARK: Phone

    mutating func checkPhone(_ value: JSONValue, at pointer: String, label: String) -> String? {
        guard let raw = checkString(value, at: pointer) else { return nil }
        let compact = String(String.UnicodeScalarView(CatalogueText.trimmed(raw).unicodeScalars.filter { $0 != " " && $0 != "-" }))
        let rule = "\(label) must be in E.164 form: \"+\" then 8 to 15 digits, such as \"+447700900123\""
        let quoted = CatalogueText.quoted(raw)
        guard compact.first == "+" else {
            fail(pointer, "\(rule); \(quoted) does not start with \"+\"")
            return nil
        }
        let digits = compact.dropFirst()
        guard digits.allSatisfy(CatalogueText.isASCIIDigit) else {
            fail(pointer, "\(rule), optionally separated by spaces or hyphens; \(quoted) contains other characters")
            return nil
        }
        guard (8...15).contains(digits.count) else {
            fail(pointer, "\(rule); \(quoted) has \(digits.count) digits")
            return nil
        }
        guard digits.first != "0" else {
            fail(pointer, "\(rule); the country code in \(quoted) cannot start with 0")
            return nil
        }
        return compact
    }

    // MARK: Dates

    mutating func checkDate(_ value: JSONValue, at pointer: String, label: String) -> String? {
        guard let raw = checkString(value, at: pointer) else { return nil }
        let text = CatalogueText.trimmed(raw)
        let rule = "\(label) must be an ISO 8601 calendar date YYYY-MM-DD"
        guard let (year, month, day) = CalendarDateParts.parse(text) else {
            fail(pointer, "\(rule); \(CatalogueText.quoted(raw)) is not in that form")
            return nil
        }
        guard (RecordShape.minYear...RecordShape.maxYear).contains(year) else {
            fail(pointer, "\(rule) with a year from \(RecordShape.minYear) to \(RecordShape.maxYear); \(text) is out of range")
            return nil
        }
        guard (1...12).contains(month), day >= 1, day <= CalendarDateParts.days(inMonth: month, year: year) else {
            fail(pointer, "\(rule); \(text) does not exist")
            return nil
        }
        return text
    }

    // MARK: Codes

    mutating func checkCountry(_ value: JSONValue, at pointer: String, label: String) -> String? {
        guard let raw = checkString(value, at: pointer) else { return nil }
        let code = CatalogueText.trimmed(raw)
        let rule = "\(label) must be an ISO 3166-1 alpha-2 code such as \"GB\""
        guard code.utf8.count == 2, code.allSatisfy(CatalogueText.isASCIILetter) else {
            fail(pointer, "\(rule); \(CatalogueText.quoted(raw)) is not two letters")
            return nil
        }
        let upper = code.uppercased()
        guard ISO3166.isAssigned(upper) else {
            fail(pointer, "\(rule); \"\(upper)\" is not assigned")
            return nil
        }
        return upper
    }

    mutating func checkLanguage(_ value: JSONValue, at pointer: String, label: String) -> String? {
        guard let raw = checkString(value, at: pointer) else { return nil }
        let code = CatalogueText.trimmed(raw)
        let rule = "\(label) must be an ISO 639-1 two-letter language code such as \"en\""
        guard code.utf8.count == 2, code.allSatisfy(CatalogueText.isASCIILetter) else {
            fail(pointer, "\(rule); \(CatalogueText.quoted(raw)) is not two letters")
            return nil
        }
        let lower = code.lowercased()
        guard ISO639.isAssigned(lower) else {
            fail(pointer, "\(rule); \"\(lower)\" is not assigned")
            return nil
        }
        return lower
    }

    mutating func checkCurrency(_ value: JSONValue, at pointer: String, label: String) -> String? {
        guard let raw = checkString(value, at: pointer) else { return nil }
        let code = CatalogueText.trimmed(raw)
        let rule = "\(label) must be an active ISO 4217 currency code such as \"GBP\""
        guard code.utf8.count == 3, code.allSatisfy(CatalogueText.isASCIILetter) else {
            fail(pointer, "\(rule); \(CatalogueText.quoted(raw)) is not three letters")
            return nil
        }
        let upper = code.uppercased()
        guard ISO4217.minorUnits(of: upper) != nil else {
            fail(pointer, "\(rule); \"\(upper)\" is not one")
            return nil
        }
        return upper
    }

    // MARK: Numbers

    /// An exact integer: a JSON integer, or a JSON number with no fractional part that fits in Int64.
    mutating func checkWholeNumber(_ value: JSONValue, at pointer: String, label: String) -> Int64? {
        switch value {
        case .integer(let number):
            return number
        case .number(let number):
            if number.isFinite, number.rounded() == number, let exact = Int64(exactly: number) {
                return exact
            }
            if number.isFinite, number.rounded() == number {
                fail(pointer, "\(label) must be a whole number between \(Int64.min) and \(Int64.max); \(number) is out of range")
            } else {
                fail(pointer, "\(label) must be a whole number; got \(number)")
            }
            return nil
        default:
            fail(pointer, "expected an integer, got \(value.typeName)")
            return nil
        }
    }

    mutating func checkAmount(_ value: JSONValue, at pointer: String, label: String) -> Int64? {
        let rule = "\(label) must be an integer number of minor units (e.g. cents)"
        let amount: Int64
        switch value {
        case .integer(let number):
            amount = number
        case .number(let number):
            guard number.isFinite, number.rounded() == number else {
                fail(pointer, "\(rule); got \(number)")
                return nil
            }
            guard number >= 0 else {
                fail(pointer, "\(label) must not be negative; got \(number)")
                return nil
            }
            guard let exact = Int64(exactly: number) else {
                fail(pointer, "\(rule) no greater than \(Int64.max); \(number) is too large")
                return nil
            }
            amount = exact
        default:
            fail(pointer, "\(rule); expected an integer, got \(value.typeName)")
            return nil
        }
        guard amount >= 0 else {
            fail(pointer, "\(label) must not be negative; got \(amount)")
            return nil
        }
        return amount
    }

    // MARK: URL

    mutating func checkURL(_ value: JSONValue, at pointer: String, label: String) -> String? {
        guard let raw = checkString(value, at: pointer) else { return nil }
        let text = CatalogueText.trimmed(raw)
        let rule = "\(label) must be an absolute http or https URL such as \"https://example.com/\""
        let quoted = CatalogueText.quoted(raw)
        guard text.utf8.count <= RecordShape.urlMaxLength else {
            fail(pointer, "\(label) must be at most \(RecordShape.urlMaxLength) characters; got \(text.unicodeScalars.count)")
            return nil
        }
        guard text.unicodeScalars.allSatisfy({ $0.value >= 0x21 && $0.value <= 0x7E }) else {
            fail(pointer, "\(rule); \(quoted) contains spaces, control or non-ASCII characters, which must be percent-encoded")
            return nil
        }
        let lowered = text.lowercased()
        let scheme: String
        if lowered.hasPrefix("https://") {
            scheme = "https"
        } else if lowered.hasPrefix("http://") {
            scheme = "http"
        } else {
            fail(pointer, "\(rule); \(quoted) does not start with \"http://\" or \"https://\"")
            return nil
        }
        let rest = text.dropFirst(scheme.count + 3)
        let authority = rest.prefix(while: { $0 != "/" && $0 != "?" && $0 != "#" })
        let tail = rest.dropFirst(authority.count)
        guard !authority.contains("@") else {
            fail(pointer, "\(label) must not contain a user name or password")
            return nil
        }
        guard let host = Self.hostProblemFree(authority) else {
            fail(pointer, "\(rule); \(quoted) does not have a valid host name and port")
            return nil
        }
        guard Self.isValidPathQueryFragment(tail) else {
            fail(pointer, "\(rule); \(quoted) has characters that must be percent-encoded or a malformed %-escape")
            return nil
        }
        return "\(scheme)://\(host)\(tail)"
    }

    /// The lowercased `host[:port]` when the authority is a valid host name, IPv4 or bracketed IPv6 literal.
    private static func hostProblemFree(_ authority: Substring) -> String? {
        var host = authority
        var port: Substring?
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            let literal = authority[authority.index(after: authority.startIndex)..<close]
            guard !literal.isEmpty,
                  literal.contains(":"),
                  literal.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." })
            else { return nil }
            host = authority[...close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { return nil }
                port = after.dropFirst()
            }
        } else {
            if let colon = authority.lastIndex(of: ":") {
                host = authority[..<colon]
                port = authority[authority.index(after: colon)...]
            }
            let labels = host.split(separator: ".", omittingEmptySubsequences: false)
            guard !host.isEmpty, !labels.contains(where: \.isEmpty) else { return nil }
            guard labels.allSatisfy({ hostLabelProblem($0) == nil }) else { return nil }
        }
        if let port {
            guard !port.isEmpty, port.count <= 5, port.allSatisfy(CatalogueText.isASCIIDigit),
                  let number = Int(port), (1...65535).contains(number)
            else { return nil }
        }
        return authority.lowercased()
    }

    private static let uriCharacters: Set<Character> = Set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/?#[]@!$&'()*+,;=%"
    )

    private static func isValidPathQueryFragment(_ tail: Substring) -> Bool {
        var index = tail.startIndex
        while index < tail.endIndex {
            let character = tail[index]
            guard uriCharacters.contains(character) else { return false }
            if character == "%" {
                let first = tail.index(after: index)
                guard first < tail.endIndex, tail[first].isHexDigit else { return false }
                let second = tail.index(after: first)
                guard second < tail.endIndex, tail[second].isHexDigit else { return false }
                index = second
            }
            index = tail.index(after: index)
        }
        return true
    }

    // MARK: IBAN

    mutating func checkIBAN(_ value: JSONValue, at pointer: String, label: String) -> String? {
        guard let raw = checkString(value, at: pointer) else { return nil }
        let compact = String(CatalogueText.trimmed(raw).filter { $0 != " " })
        let rule = "\(label) must be an International Bank Account Number such as \"GB82 WEST 1234 5698 7654 32\""
        let quoted = CatalogueText.quoted(raw)
        guard compact.allSatisfy(CatalogueText.isASCIIAlphanumeric) else {
            fail(pointer, "\(rule); \(quoted) contains characters other than letters, digits and spaces")
            return nil
        }
        let iban = compact.uppercased()
        guard (15...34).contains(iban.count) else {
            fail(pointer, "\(rule) of 15 to 34 letters and digits; \(quoted) has \(iban.count)")
            return nil
        }
        let country = String(iban.prefix(2))
        guard country.allSatisfy(CatalogueText.isASCIILetter), ISO3166.isAssigned(country) else {
            fail(pointer, "\(rule); \(quoted) does not start with an ISO 3166-1 country code")
            return nil
        }
        guard iban.dropFirst(2).prefix(2).allSatisfy(CatalogueText.isASCIIDigit) else {
            fail(pointer, "\(rule); \(quoted) does not have two check digits after the country code")
            return nil
        }
        var remainder = 0
        for character in iban.dropFirst(4) + iban.prefix(4) {
            guard let ascii = character.asciiValue else { return nil }
            if CatalogueText.isASCIIDigit(character) {
                remainder = (remainder * 10 + Int(ascii - 48)) % 97
            } else {
                remainder = (remainder * 100 + Int(ascii - 55)) % 97
            }
        }
        guard remainder == 1 else {
            fail(pointer, "\(rule); the check digits of \(quoted) do not match (mod-97 check failed)")
            return nil
        }
        return iban
    }

    // MARK: Arrays

    mutating func checkList(_ value: JSONValue, of element: RecordType, maxItems: Int, at pointer: String, label: String) -> JSONValue? {
        guard case .array(let items) = value else {
            fail(pointer, "expected an array, got \(value.typeName)")
            return nil
        }
        guard items.count <= maxItems else {
            fail(pointer, "\(label) must have at most \(maxItems) items; got \(items.count)")
            return nil
        }
        var result: [JSONValue] = []
        var valid = true
        for (offset, item) in items.enumerated() {
            if let checked = check(item, as: element, at: "\(pointer)/\(offset)", label: "item \(offset + 1)") {
                result.append(checked)
            } else {
                valid = false
            }
        }
        return valid ? .array(result) : nil
    }

    mutating func checkAddressLines(_ value: JSONValue, at pointer: String, label: String) -> JSONValue? {
        guard case .array(let items) = value else {
            fail(pointer, "expected an array of strings, got \(value.typeName)")
            return nil
        }
        guard (1...RecordShape.addressMaxLines).contains(items.count) else {
            fail(pointer, "\(label) must have 1 to \(RecordShape.addressMaxLines) entries; got \(items.count)")
            return nil
        }
        var result: [JSONValue] = []
        var valid = true
        for (offset, item) in items.enumerated() {
            let line = checkText(item, maxLength: RecordShape.addressLineLength, at: "\(pointer)/\(offset)", label: "line \(offset + 1)")
            if let line { result.append(.string(line)) } else { valid = false }
        }
        return valid ? .array(result) : nil
    }

    // MARK: Objects

    enum FieldKind {
        case type(RecordType)
        case amount
        case currency
        case addressLines
    }

    struct ObjectField {
        let name: String
        let kind: FieldKind
        let required: Bool

        init(_ name: String, _ kind: FieldKind, required: Bool = true) {
            self.name = name
            self.kind = kind
            self.required = required
        }
    }

    mutating func checkObject(_ value: JSONValue, at pointer: String, fields: [ObjectField]) -> JSONValue? {
        guard case .object(let members) = value else {
            let names = fields.map(\.name).joined(separator: ", ")
            fail(pointer, "expected an object with members \(names), got \(value.typeName)")
            return nil
        }
        var result: [String: JSONValue] = [:]
        var valid = true
        for field in fields {
            let memberPointer = pointer + "/" + CatalogueText.escapePointerToken(field.name)
            guard let member = members[field.name], member != .null || field.required else {
                if field.required {
                    fail(memberPointer, "\(field.name) is required")
                    valid = false
                }
                continue
            }
            let checked: JSONValue?
            switch field.kind {
            case .type(let type):
                checked = check(member, as: type, at: memberPointer, label: field.name)
            case .amount:
                checked = checkAmount(member, at: memberPointer, label: field.name).map(JSONValue.integer)
            case .currency:
                checked = checkCurrency(member, at: memberPointer, label: field.name).map(JSONValue.string)
            case .addressLines:
                checked = checkAddressLines(member, at: memberPointer, label: field.name)
            }
            if let checked { result[field.name] = checked } else { valid = false }
        }
        let allowed = Set(fields.map(\.name))
        let allowedList = fields.map(\.name).joined(separator: ", ")
        for name in members.keys.sorted() where !allowed.contains(name) {
            fail(pointer + "/" + CatalogueText.escapePointerToken(name), "unknown member \(CatalogueText.quoted(name)); allowed: \(allowedList)")
            valid = false
        }
        return valid ? .object(result) : nil
    }

    mutating func checkEmployment(_ value: JSONValue, at pointer: String) -> JSONValue? {
        let checked = checkObject(value, at: pointer, fields: [
            ObjectField("employer", .type(.text(maxLength: RecordShape.employerLength))),
            ObjectField("title", .type(.text(maxLength: RecordShape.jobTitleLength))),
            ObjectField("startedOn", .type(.date)),
            ObjectField("endedOn", .type(.date), required: false),
        ])
        // Both dates are then canonical YYYY-MM-DD, so string order is date order.
        if case .object(let members) = value,
           case .string(let startRaw) = members["startedOn"] ?? .null,
           case .string(let endRaw) = members["endedOn"] ?? .null {
            let start = CatalogueText.trimmed(startRaw)
            let end = CatalogueText.trimmed(endRaw)
            if CalendarDateParts.parse(start) != nil, CalendarDateParts.parse(end) != nil, end < start {
                fail(pointer + "/endedOn", "endedOn must not be before startedOn (\(start)); got \(end)")
                return nil
            }
        }
        return checked
    }
}

// MARK: - Helpers

enum CalendarDateParts {
    /// Splits exactly `YYYY-MM-DD` (ASCII digits) into its numbers, without checking ranges.
    static func parse(_ text: String) -> (year: Int, month: Int, day: Int)? {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var result = 0
            for byte in bytes[range] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                result = result * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return result
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10) else { return nil }
        return (year, month, day)
    }

    static func isLeap(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    static func days(inMonth month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

enum CatalogueText {
    static func trimmed(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }

    /// Control characters, line and paragraph separators and bidirectional overrides.
    static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .lineSeparator, .paragraphSeparator:
            return true
        default:
            return (0x202A...0x202E).contains(scalar.value) || (0x2066...0x2069).contains(scalar.value)
        }
    }

    static func codePoint(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    /// The input in double quotes, cut to `ValueValidator.echoLimit` characters, with control characters escaped.
    static func quoted(_ text: String) -> String {
        var result = "\""
        var count = 0
        for scalar in text.unicodeScalars {
            if count == ValueValidator.echoLimit {
                result += "…"
                break
            }
            count += 1
            if isForbidden(scalar) || scalar == "\"" || scalar == "\\" {
                result += scalar.escaped(asASCII: false)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    /// Escapes one reference token of an RFC 6901 JSON pointer.
    static func escapePointerToken(_ token: String) -> String {
        var result = ""
        for character in token {
            switch character {
            case "~": result += "~0"
            case "/": result += "~1"
            default: result.append(character)
            }
        }
        return result
    }

    static func isASCIIDigit(_ character: Character) -> Bool {
        guard let ascii = character.asciiValue else { return false }
        return ascii >= 48 && ascii <= 57
    }

    static func isASCIILetter(_ character: Character) -> Bool {
        guard let ascii = character.asciiValue else { return false }
        return (ascii >= 65 && ascii <= 90) || (ascii >= 97 && ascii <= 122)
    }

    static func isASCIIAlphanumeric(_ character: Character) -> Bool {
        isASCIIDigit(character) || isASCIILetter(character)
    }
}
