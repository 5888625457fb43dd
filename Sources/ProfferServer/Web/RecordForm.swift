import Foundation
import ProfferCore

/// Edit forms generated from the catalogue's types: each type becomes labelled inputs, and a submitted form becomes
/// the JSON value the catalogue validates — so the page and the API accept exactly the same values, with the same
/// messages, and an invalid form comes back with what the person typed and the message next to its field.
enum RecordForm {
    /// One input of a form, as the template draws it.
    struct Field {
        var name: String
        var label: String
        var kind: String  // text, email, tel, date, url, number, select, textarea
        var value: String = ""
        var hint: String?
        var options: [(value: String, label: String)] = []
        var required = true
        var error: String?

        var view: [String: Any] {
            var view: [String: Any] = ["name": name, "id": "f-" + name.replacingOccurrences(of: ".", with: "-"), "label": label, "value": value,
                                       "required": required, "is_\(kind)": true]
            // Always present (blank when there is none), so the template never borrows a page-level value.
            view["hint"] = hint ?? ""
            view["error"] = error ?? ""
            if !options.isEmpty {
                view["options"] = options.map { ["value": $0.value, "label": $0.label, "selected": $0.value == value] }
            }
            return view
        }
    }

    /// The fields for a key, filled from a stored value or from what was typed (`typed` wins), with errors by name.
    static func fields(for entry: CatalogueEntry, stored: JSONValue?, typed: FormData? = nil, errors: [String: String] = [:]) -> [Field] {
        var fields = shape(entry.type, label: entry.description)
        for index in fields.indices {
            let name = fields[index].name
            if let typed {
                fields[index].value = typed[name] ?? ""
            } else if let stored {
                fields[index].value = text(of: stored, for: name, type: entry.type)
            }
            fields[index].error = errors[name]
        }
        if let whole = errors["value"], !fields.contains(where: { $0.name == "value" }), !fields.isEmpty {
            fields[0].error = [fields[0].error, whole].compactMap { $0 }.joined(separator: " ")
        }
        return fields
    }

    /// The inputs a type needs.
    static func shape(_ type: RecordType, label: String) -> [Field] {
        switch type {
        case .text(let max): [Field(name: "value", label: "Value", kind: max > 200 ? "textarea" : "text", hint: "At most \(max) characters.")]
        case .email: [Field(name: "value", label: "Email address", kind: "email")]
        case .phone: [Field(name: "value", label: "Phone number", kind: "tel", hint: "International format, e.g. +44 20 7946 0000.")]
        case .date: [Field(name: "value", label: "Date", kind: "date", hint: "YYYY-MM-DD.")]
        case .country: [Field(name: "value", label: "Country code", kind: "text", hint: "Two letters (ISO 3166), e.g. GB, DE, FR.")]
        case .languageCode: [Field(name: "value", label: "Language code", kind: "text", hint: "Two letters (ISO 639-1), e.g. en, de.")]
        case .url: [Field(name: "value", label: "Web address", kind: "url", hint: "Starting with https:// or http://.")]
        case .integer(let min, let max): [Field(name: "value", label: "Number", kind: "number", hint: "A whole number from \(min) to \(max).")]
        case .boolean: [Field(name: "value", label: "Answer", kind: "select", options: [("", "Choose…"), ("true", "Yes"), ("false", "No")])]
        case .choice(let choices): [Field(name: "value", label: "Choice", kind: "select", options: [("", "Choose…")] + choices.map { ($0, $0) })]
        case .money:
            [Field(name: "amount", label: "Amount", kind: "text", hint: "In the currency's units, e.g. 1250.00."),
             Field(name: "currency", label: "Currency", kind: "text", hint: "Three letters (ISO 4217), e.g. EUR, GBP.")]
        case .postalAddress:
            [Field(name: "lines", label: "Street address", kind: "textarea", hint: "One line per line of the address."),
             Field(name: "locality", label: "Town or city", kind: "text"),
             Field(name: "region", label: "Region (optional)", kind: "text", required: false),
             Field(name: "postalCode", label: "Postal code (optional)", kind: "text", required: false),
             Field(name: "country", label: "Country code", kind: "text", hint: "Two letters (ISO 3166), e.g. GB.")]
        case .qualification:
            [Field(name: "title", label: "Title", kind: "text"), Field(name: "institution", label: "Institution", kind: "text"),
             Field(name: "awardedOn", label: "Awarded on", kind: "date", hint: "YYYY-MM-DD."),
             Field(name: "level", label: "Level (optional)", kind: "select",
                   options: [("", "—")] + ["secondary", "vocational", "bachelor", "master", "doctorate", "other"].map { ($0, $0) }, required: false),
             Field(name: "grade", label: "Grade (optional)", kind: "text", required: false)]
        case .employment:
            [Field(name: "employer", label: "Employer", kind: "text"), Field(name: "title", label: "Job title", kind: "text"),
             Field(name: "startedOn", label: "Started on", kind: "date", hint: "YYYY-MM-DD."),
             Field(name: "endedOn", label: "Ended on (optional)", kind: "date", hint: "YYYY-MM-DD; empty if current.", required: false)]
        case .list(let element, let maxItems):
            [Field(name: "value", label: "Items", kind: "textarea", hint: listHint(element, maxItems: maxItems))]
        }
    }

    private static func listHint(_ element: RecordType, maxItems: Int) -> String {
        switch element {
        case .text, .choice, .email, .url, .country, .languageCode, .date, .phone:
            "One item per line, at most \(maxItems)."
        default:
            "One item per line as JSON, at most \(maxItems) — e.g. {\"employer\": \"…\", \"title\": \"…\", \"startedOn\": \"2020-01-31\"}."
        }
    }

    /// What a stored value shows in a field.
    static func text(of value: JSONValue, for field: String, type: RecordType) -> String {
        switch (type, value) {
        case (.money, .object(let money)):
            if field == "currency", case .string(let code)? = money["currency"] { return code }
            if field == "amount", case .integer(let minor)? = money["amount"], case .string(let code)? = money["currency"] {
                return Money(minorUnits: minor, currency: code).decimal
            }
            return ""
        case (.postalAddress, .object(let address)) where field == "lines":
            if case .array(let lines)? = address["lines"] { return lines.compactMap { if case .string(let s) = $0 { s } else { nil } }.joined(separator: "\n") }
            return ""
        case (.list(let element, _), .array(let items)):
            return items.map { item in
                if case .string(let text) = item { return text }
                if case .object = item, case .text = element { return "" }
                return json(item)
            }.joined(separator: "\n")
        case (_, .object(let object)):
            return object[field].map(plain) ?? ""
        default:
            return plain(value)
        }
    }

    /// A scalar as text (strings bare, numbers and booleans as written).
    static func plain(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): text
        case .integer(let number): String(number)
        case .number(let number): String(number)
        case .bool(let flag): flag ? "true" : "false"
        case .null: ""
        default: json(value)
        }
    }

    static func json(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// The JSON value a submitted form stands for; the catalogue then validates it. Errors this step finds itself
    /// (an amount that is not a number, a list item that is not JSON) come back by field name.
    static func value(for entry: CatalogueEntry, from form: FormData) -> Result<JSONValue, ValidationFailure> {
        func text(_ name: String) -> JSONValue? { form.text(name).map(JSONValue.string) }
        switch entry.type {
        case .integer:
            guard let raw = form.text("value") else { return .success(.null) }
            guard let number = Int64(raw) else { return .failure(ValidationFailure(pointer: "/value", detail: "enter a whole number")) }
            return .success(.integer(number))
        case .boolean:
            switch form["value"] {
            case "true": return .success(.bool(true))
            case "false": return .success(.bool(false))
            default: return .failure(ValidationFailure(pointer: "/value", detail: "choose yes or no"))
            }
        case .money:
            let currency = (form.text("currency") ?? "").uppercased()
            guard let raw = form.text("amount") else { return .failure(ValidationFailure(pointer: "/value/amount", detail: "enter an amount")) }
            guard let digits = ISO4217.minorUnits(of: currency) else {
                return .failure(ValidationFailure(pointer: "/value/currency", detail: "enter an ISO 4217 currency code such as EUR or GBP"))
            }
            guard let minor = minorUnits(raw, digits: digits) else {
                return .failure(ValidationFailure(pointer: "/value/amount", detail: "enter a non-negative amount with at most \(digits) decimal places"))
            }
            return .success(.object(["amount": .integer(minor), "currency": .string(currency)]))
        case .postalAddress:
            var object: [String: JSONValue] = [:]
            let lines = (form["lines"] ?? "").split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            object["lines"] = .array(lines.map(JSONValue.string))
            for name in ["locality", "region", "postalCode", "country"] { object[name] = text(name) }
            if let country = form.text("country") { object["country"] = .string(country.uppercased()) }
            return .success(.object(object))
        case .qualification, .employment:
            var object: [String: JSONValue] = [:]
            for field in shape(entry.type, label: "") { object[field.name] = text(field.name) }
            return .success(.object(object))
        case .list(let element, _):
            let lines = (form["value"] ?? "").split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            var items: [JSONValue] = []
            for (index, line) in lines.enumerated() {
                switch element {
                case .postalAddress, .qualification, .employment, .money, .list:
                    guard let item = try? JSONDecoder().decode(JSONValue.self, from: Data(line.utf8)) else {
                        return .failure(ValidationFailure(pointer: "/value", detail: "line \(index + 1) is not valid JSON"))
                    }
                    items.append(item)
                default:
                    items.append(.string(line))
                }
            }
            return .success(.array(items))
        case .country:
            return .success(form.text("value").map { .string($0.uppercased()) } ?? .null)
        default:
            return .success(form.text("value").map(JSONValue.string) ?? .null)
        }
    }

    /// "12.5" with 2 digits → 1250; nil for anything but a non-negative decimal with at most `digits` decimals.
    static func minorUnits(_ text: String, digits: Int) -> Int64? {
        let parts = text.replacingOccurrences(of: ",", with: "").split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let whole = Int64(parts[0]), whole >= 0, parts[0].allSatisfy(\.isNumber) else { return nil }
        let fraction = parts.count == 2 ? String(parts[1]) : ""
        guard fraction.count <= digits, fraction.allSatisfy(\.isNumber) else { return nil }
        let padded = fraction + String(repeating: "0", count: digits - fraction.count)
        var scale: Int64 = 1
        for _ in 0..<digits { scale *= 10 }
        let (scaled, overflow) = whole.multipliedReportingOverflow(by: scale)
        guard !overflow else { return nil }
        let (sum, overflow2) = scaled.addingReportingOverflow(Int64(padded) ?? 0)
        return overflow2 ? nil : sum
    }

    /// A stored value as readable text for lists and summaries.
    static func summary(_ value: JSONValue, type: RecordType) -> String {
        switch (type, value) {
        case (.money, .object(let money)):
            if case .integer(let minor)? = money["amount"], case .string(let code)? = money["currency"] { return Money(minorUnits: minor, currency: code).formatted }
            return json(value)
        case (.postalAddress, .object):
            return ["lines", "locality", "region", "postalCode", "country"].map { text(of: value, for: $0, type: type) }
                .filter { !$0.isEmpty }.joined(separator: "\n")
        case (.boolean, .bool(let flag)):
            return flag ? "Yes" : "No"
        case (.list(let element, _), .array(let items)):
            return items.map { summary($0, type: element) }.joined(separator: "\n")
        case (.qualification, .object(let object)), (.employment, .object(let object)):
            return object.keys.sorted().compactMap { key in object[key].map { "\(key): \(plain($0))" } }.joined(separator: "\n")
        default:
            return plain(value)
        }
    }
}
