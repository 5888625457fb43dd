import Foundation

/// How a price is charged: once per disclosure, or once per month of access.
public enum PriceBasis: String, Sendable, Hashable, Codable, CaseIterable {
    case perDisclosure = "per-disclosure"
    case perMonth = "per-month"

    public var phrase: String {
        switch self {
        case .perDisclosure: "per disclosure"
        case .perMonth: "per month"
        }
    }
}

/// A person's price for one catalogue key or a whole category, on one basis.
public struct PriceEntry: Sendable, Hashable, Codable {
    /// Exactly one of `key` and `category` is set.
    public var key: String?
    public var category: RecordCategory?
    public var basis: PriceBasis
    public var price: Money

    public init(key: String? = nil, category: RecordCategory? = nil, basis: PriceBasis, price: Money) {
        self.key = key
        self.category = category
        self.basis = basis
        self.price = price
    }

    public var target: String { key ?? category.map { "category \($0.rawValue)" } ?? "?" }
}

/// A person's price list: what an organisation must offer, at least, for the keys it asks for when the person
/// proffers the `minimum-price` term. A key's own price wins over its category's. One currency per list.
public struct PriceList: Sendable, Hashable, Codable {
    public var entries: [PriceEntry]

    public init(entries: [PriceEntry] = []) {
        self.entries = entries
    }

    public static let maxEntries = 100

    public var currency: String? { entries.first?.price.currency }

    /// The price that applies to `key` on `basis`: the key's own, else its category's, else none.
    public func price(for key: String, basis: PriceBasis, catalogue: Catalogue = .standard) -> Money? {
        if let own = entries.first(where: { $0.key == key && $0.basis == basis }) { return own.price }
        guard let category = catalogue.entry(for: key)?.category else { return nil }
        return entries.first { $0.category == category && $0.key == nil && $0.basis == basis }?.price
    }

    /// Whether any price at all applies to `key`.
    public func isPriced(_ key: String, catalogue: Catalogue = .standard) -> Bool {
        PriceBasis.allCases.contains { price(for: key, basis: $0, catalogue: catalogue) != nil }
    }

    /// The least an offer on `basis` must be for `keys`: the sum of their prices on that basis. Keys priced only
    /// on the other basis are returned in `unpricedOnBasis`. Nil total when no key is priced on this basis.
    public func minimum(for keys: [String], basis: PriceBasis, catalogue: Catalogue = .standard) throws(LedgerError) -> (total: Money?, priced: [String], unpricedOnBasis: [String]) {
        var total: Int64 = 0
        var priced: [String] = []
        var other: [String] = []
        for key in keys {
            if let price = price(for: key, basis: basis, catalogue: catalogue) {
                total = try total.checkedAdding(price.minorUnits)
                priced.append(key)
            } else if isPriced(key, catalogue: catalogue) {
                other.append(key)
            }
        }
        guard let currency, !priced.isEmpty else { return (nil, priced, other) }
        return (Money(minorUnits: total, currency: currency), priced, other)
    }

    /// Parses and validates a price list from JSON: known keys and categories, positive whole minor units, one
    /// currency throughout, no target priced twice on the same basis.
    public static func parse(_ value: JSONValue, catalogue: Catalogue = .standard, at pointer: String = "/prices") throws(ValidationFailure) -> PriceList {
        guard case .array(let items) = value else {
            throw ValidationFailure(pointer: pointer, detail: "must be an array of prices, not \(value.typeName)")
        }
        guard items.count <= maxEntries else {
            throw ValidationFailure(pointer: pointer, detail: "must list at most \(maxEntries) prices")
        }
        var errors: [FieldError] = []
        var entries: [PriceEntry] = []
        var seen = Set<String>()
        for (index, item) in items.enumerated() {
            let at = "\(pointer)/\(index)"
            guard case .object(let members) = item else {
                errors.append(FieldError(pointer: at, detail: "must be an object with key or category, basis and price"))
                continue
            }
            for name in members.keys.sorted() where !["key", "category", "basis", "price"].contains(name) {
                errors.append(FieldError(pointer: "\(at)/\(pointerToken(name))", detail: "unknown field; allowed fields are key, category, basis, price"))
            }
            var key: String?
            var category: RecordCategory?
            switch (members["key"], members["category"]) {
            case (.string(let name)?, nil):
                if catalogue.contains(name) { key = name } else {
                    errors.append(FieldError(pointer: "\(at)/key", detail: "\"\(name.prefix(60))\" is not a key in the catalogue (GET /v1/catalogue)"))
                }
            case (nil, .string(let name)?):
                if let known = RecordCategory(rawValue: name) { category = known } else {
                    errors.append(FieldError(pointer: "\(at)/category", detail: "must be one of \(RecordCategory.allCases.map(\.rawValue).joined(separator: ", "))"))
                }
            case (nil, nil), (.some, .some):
                errors.append(FieldError(pointer: at, detail: "must name exactly one of key (a catalogue key) or category"))
            default:
                errors.append(FieldError(pointer: at, detail: "key and category must be strings"))
            }
            var basis: PriceBasis?
            if case .string(let text)? = members["basis"], let known = PriceBasis(rawValue: text) { basis = known } else {
                errors.append(FieldError(pointer: "\(at)/basis", detail: "must be per-disclosure or per-month"))
            }
            var money: Money?
            if let price = members["price"] {
                do { money = try Money.positive(from: price, at: "\(at)/price") } catch { errors += error.errors }
            } else {
                errors.append(FieldError(pointer: "\(at)/price", detail: "is required: {\"amount\": minor units, \"currency\": \"EUR\"}"))
            }
            guard let basis, let money, key != nil || category != nil else { continue }
            let entry = PriceEntry(key: key, category: category, basis: basis, price: money)
            if !seen.insert("\(entry.target)|\(basis.rawValue)").inserted {
                errors.append(FieldError(pointer: at, detail: "\(entry.target) is already priced \(basis.phrase)"))
            }
            if let first = entries.first, first.price.currency != money.currency {
                errors.append(FieldError(pointer: "\(at)/price/currency", detail: "all prices must be in one currency; the first is \(first.price.currency)"))
            }
            entries.append(entry)
        }
        guard errors.isEmpty else { throw ValidationFailure(errors) }
        return PriceList(entries: entries)
    }
}

/// What an organisation offers in return for the data: a price (per disclosure or per month), a non-cash
/// compensation, or nothing. Fixed in the grant and its consent receipt once granted.
public enum Offer: Sendable, Hashable {
    case nothing
    case price(PriceBasis, Money)
    /// A discount on the organisation's own products or services.
    case discount(percentage: Int, conditions: String)
    /// A voucher, optionally with a face value.
    case voucher(description: String, value: Money?)

    public static let maxTextLength = 500

    /// The cash price and its basis, when the offer is one.
    public var price: (basis: PriceBasis, money: Money)? {
        if case .price(let basis, let money) = self { return (basis, money) }
        return nil
    }

    public var summary: String {
        switch self {
        case .nothing: "nothing in return"
        case .price(let basis, let money): "\(money.formatted) \(basis.phrase)"
        case .discount(let percentage, let conditions): "a \(percentage)% discount (\(conditions))"
        case .voucher(let description, let value): "a voucher: \(description)\(value.map { " worth \($0.formatted)" } ?? "")"
        }
    }

    /// The offer as JSON: `{"kind": "none" | "per-disclosure" | "per-month" | "discount" | "voucher", ...}`.
    public var json: JSONValue {
        switch self {
        case .nothing:
            return .object(["kind": .string("none")])
        case .price(let basis, let money):
            return .object(["kind": .string(basis.rawValue), "price": money.json])
        case .discount(let percentage, let conditions):
            return .object(["kind": .string("discount"), "percentage": .integer(Int64(percentage)), "conditions": .string(conditions)])
        case .voucher(let description, let value):
            var object: [String: JSONValue] = ["kind": .string("voucher"), "description": .string(description)]
            if let value { object["value"] = value.json }
            return .object(object)
        }
    }

    /// Parses and validates an offer.
    public static func parse(_ value: JSONValue, at pointer: String = "/offer") throws(ValidationFailure) -> Offer {
        guard case .object(let members) = value else {
            throw ValidationFailure(pointer: pointer, detail: "must be an object with a kind: none, per-disclosure, per-month, discount or voucher")
        }
        guard case .string(let kind)? = members["kind"] else {
            throw ValidationFailure(pointer: "\(pointer)/kind", detail: "is required: none, per-disclosure, per-month, discount or voucher")
        }
        let allowed: [String]
        switch kind {
        case "none": allowed = ["kind"]
        case "per-disclosure", "per-month": allowed = ["kind", "price"]
        case "discount": allowed = ["kind", "percentage", "conditions"]
        case "voucher": allowed = ["kind", "description", "value"]
        default:
            throw ValidationFailure(pointer: "\(pointer)/kind", detail: "must be none, per-disclosure, per-month, discount or voucher")
        }
        var errors = members.keys.sorted().filter { !allowed.contains($0) }.map {
            FieldError(pointer: "\(pointer)/\(pointerToken($0))", detail: "unknown field for a \(kind) offer; allowed fields are \(allowed.joined(separator: ", "))")
        }
        func text(_ name: String) -> String? {
            guard case .string(let raw)? = members[name] else {
                errors.append(FieldError(pointer: "\(pointer)/\(name)", detail: "is required: 1 to \(maxTextLength) characters"))
                return nil
            }
            let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            guard (1...maxTextLength).contains(trimmed.count), !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                errors.append(FieldError(pointer: "\(pointer)/\(name)", detail: "must be 1 to \(maxTextLength) characters without control characters"))
                return nil
            }
            return trimmed
        }
        var offer: Offer?
        switch kind {
        case "per-disclosure", "per-month":
            let basis = PriceBasis(rawValue: kind) ?? .perDisclosure
            if let price = members["price"] {
                do { offer = .price(basis, try Money.positive(from: price, at: "\(pointer)/price")) } catch { errors += error.errors }
            } else {
                errors.append(FieldError(pointer: "\(pointer)/price", detail: "is required: {\"amount\": minor units, \"currency\": \"EUR\"}"))
            }
        case "discount":
            let conditions = text("conditions")
            var percentage: Int?
            if case .integer(let number)? = members["percentage"], (1...100).contains(number) { percentage = Int(number) } else {
                errors.append(FieldError(pointer: "\(pointer)/percentage", detail: "must be a whole number from 1 to 100"))
            }
            if let percentage, let conditions { offer = .discount(percentage: percentage, conditions: conditions) }
        case "voucher":
            let description = text("description")
            var worth: Money?
            if let value = members["value"] {
                do { worth = try Money.positive(from: value, at: "\(pointer)/value") } catch { errors += error.errors }
            }
            if let description { offer = .voucher(description: description, value: worth) }
        default:
            offer = .nothing
        }
        guard errors.isEmpty, let offer else { throw ValidationFailure(errors) }
        return offer
    }
}

extension Offer: Codable {
    public init(from decoder: any Decoder) throws {
        let value = try JSONValue(from: decoder)
        do {
            self = try Offer.parse(value)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a valid offer"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        try json.encode(to: encoder)
    }
}

extension Money {
    /// `{"amount": minor units, "currency": code}`.
    public var json: JSONValue {
        .object(["amount": .integer(minorUnits), "currency": .string(currency)])
    }

    /// The amount in major units for people, e.g. "0.25 EUR", "300 JPY". Exact: built from the integer.
    public var formatted: String { "\(decimal) \(currency)" }

    /// The amount in major units without the currency, e.g. "0.25", "-0.80", "300" (for CSV).
    public var decimal: String {
        let digits = ISO4217.minorUnits(of: currency) ?? 2
        guard digits > 0 else { return String(minorUnits) }
        let magnitude = minorUnits.magnitude
        var divisor: UInt64 = 1
        for _ in 0..<digits { divisor *= 10 }
        let fraction = String(magnitude % divisor)
        let padded = String(repeating: "0", count: digits - fraction.count) + fraction
        return "\(minorUnits < 0 ? "-" : "")\(magnitude / divisor).\(padded)"
    }
}

/// How the operator's fee is taken from each payment: a share in basis points (1/100 of a percent), rounded
/// down, so the person never receives less than their share and no fraction of a minor unit is ever created.
public struct FeePolicy: Sendable, Hashable {
    public let basisPoints: Int

    public init(basisPoints: Int) {
        self.basisPoints = max(0, min(10_000, basisPoints))
    }

    public static let standard = FeePolicy(basisPoints: 500)

    /// Splits a payment into the person's share and the operator's fee; they sum to the payment exactly.
    public func split(_ amount: Int64) -> (person: Int64, fee: Int64) {
        let fee = amount.multipliedFullWidth(by: Int64(basisPoints))
        let (quotient, _) = Int64(10_000).dividingFullWidth(fee)
        return (amount - quotient, quotient)
    }
}

/// A member name as an RFC 6901 reference token, shortened for error messages.
func pointerToken(_ name: String) -> String {
    String(name.prefix(40)).replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
}
