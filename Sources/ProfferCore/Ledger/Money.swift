/// An exact amount of money: integer minor units (cents, pence, yen) of an ISO 4217 currency. Never floating point.
public struct Money: Sendable, Hashable, Codable, CustomStringConvertible {
    public let minorUnits: Int64
    public let currency: String

    enum CodingKeys: String, CodingKey {
        case minorUnits = "amount", currency
    }

    public init(minorUnits: Int64, currency: String) {
        self.minorUnits = minorUnits
        self.currency = currency
    }

    /// Validates a JSON money value `{"amount": <integer minor units>, "currency": "<ISO 4217>"}`, requiring a
    /// positive amount (for transfers and prices).
    public static func positive(from value: JSONValue, at pointer: String) throws(ValidationFailure) -> Money {
        guard case .object(let members) = value else {
            throw ValidationFailure(pointer: pointer, detail: "must be an object {\"amount\": minor units, \"currency\": \"EUR\"}, not \(value.typeName)")
        }
        var errors: [FieldError] = []
        for name in members.keys.sorted() where name != "amount" && name != "currency" {
            errors.append(FieldError(pointer: "\(pointer)/\(name.prefix(40))", detail: "unknown member; allowed: amount, currency"))
        }
        var amount: Int64?
        switch members["amount"] {
        case .integer(let value)? where value > 0:
            amount = value
        case .integer?:
            errors.append(FieldError(pointer: "\(pointer)/amount", detail: "must be greater than zero"))
        case .number(let value)?:
            errors.append(FieldError(pointer: "\(pointer)/amount", detail: value.rounded() == value && abs(value) >= 9.2e18
                ? "is beyond the 64-bit range of minor units"
                : "must be an integer number of minor units (e.g. cents); fractions of a minor unit are not money"))
        case nil:
            errors.append(FieldError(pointer: "\(pointer)/amount", detail: "is required"))
        case let other?:
            errors.append(FieldError(pointer: "\(pointer)/amount", detail: "must be an integer, not \(other.typeName)"))
        }
        var currency: String?
        switch members["currency"] {
        case .string(let code)? where ISO4217.minorUnits(of: code) != nil:
            currency = code
        case .string(let code)?:
            errors.append(FieldError(pointer: "\(pointer)/currency", detail: "\"\(code.prefix(12))\" is not an active ISO 4217 currency code"))
        case nil:
            errors.append(FieldError(pointer: "\(pointer)/currency", detail: "is required"))
        case let other?:
            errors.append(FieldError(pointer: "\(pointer)/currency", detail: "must be a string, not \(other.typeName)"))
        }
        guard errors.isEmpty, let amount, let currency else { throw ValidationFailure(errors) }
        return Money(minorUnits: amount, currency: currency)
    }

    public var description: String { "\(minorUnits) \(currency) minor units" }
}

/// Arithmetic on ledger amounts fails loudly instead of wrapping or mixing currencies.
public enum LedgerError: Error, Sendable, Equatable {
    case overflow
    case unbalanced(transfer: String, sum: Int64)
    case belowLimit(account: String, balance: Int64, minimum: Int64)
    case idempotencyConflict(key: String)
    /// A retry came after the key's replay window: use a new key.
    case idempotencyExpired(key: String)
}

extension Int64 {
    /// Adds, throwing on 64-bit overflow.
    public func checkedAdding(_ other: Int64) throws(LedgerError) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        if overflow { throw LedgerError.overflow }
        return sum
    }
}
