/// Failures the domain reports; the server maps each to a specific problem answer.
public enum DomainError: Error, Sendable, Equatable {
    case notFound(what: String, id: String)
    case conflict(String)
    case invalid(ValidationFailure)
    case grantNotActive(grantID: GrantID, status: Grant.Status, since: Timestamp)
    case requestAlreadyDecided(requestID: RequestID, state: DataRequest.State)
    case keyNotCovered(key: String, grantID: GrantID, covered: [String])
    case unavailable(String)
    /// A priced grant could not be paid: the organisation's wallet is short, or a per-month period is unpaid.
    case paymentRequired(grantID: GrantID, shortfall: PaymentShortfall, detail: String)
    /// The person closed their account: only a tombstone is left, and nothing can be asked of it.
    case personErased(handle: String, at: Timestamp)
}

/// Why a priced grant's read could not be paid; the raw value is the problem type's slug.
public enum PaymentShortfall: String, Sendable, Hashable {
    /// The wallet holds less than the disclosure's price.
    case insufficientFunds = "insufficient-funds"
    /// The per-month grant is suspended: a period could not be paid.
    case suspended = "grant-suspended"
    /// The per-month grant's current period is not charged yet.
    case periodUnpaid = "period-unpaid"
}
