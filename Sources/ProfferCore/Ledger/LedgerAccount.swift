/// The kinds of account in Proffer's double-entry ledger. Every account holds one currency.
public enum LedgerAccountKind: String, Sendable, Hashable, Codable {
    /// An organisation's prepaid wallet: debited by charges, credited by funding.
    case organisationWallet = "organisation-wallet"
    /// A person's earnings from disclosures of their data.
    case personEarnings = "person-earnings"
    /// The operator's fees.
    case operatorFees = "operator-fees"
    /// Money entering or leaving the system (payments received from outside); its balance is the negative of
    /// everything inside, so the sum over all accounts is always zero.
    case external

    /// Whether the account's balance is derived from its entries instead of kept in a column. People's earnings
    /// only ever grow by one entry per paid disclosure, spread over every person: keeping a column would cost
    /// each disclosure a write to a random page. Wallets and the fee account, which few transfers share and
    /// whose limits must be enforced under lock, keep theirs in the same transaction as their entries.
    public var balanceIsDerived: Bool { self == .personEarnings }
}

/// A ledger account's identity: kind, owner and currency make it, so accounts can be created on first use.
public struct LedgerAccountID: Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init(trusted rawValue: String) { self.rawValue = rawValue }

    public static func wallet(_ organisation: OrganisationID, _ currency: String) -> Self {
        Self(trusted: "wallet:\(organisation.rawValue):\(currency)")
    }

    public static func external(_ currency: String) -> Self { Self(trusted: "external:\(currency)") }

    public static func earnings(_ person: PersonID, _ currency: String) -> Self {
        Self(trusted: "earnings:\(person.rawValue):\(currency)")
    }

    public static func fees(_ currency: String) -> Self { Self(trusted: "fees:\(currency)") }

    public var description: String { rawValue }
}

/// One movement of money: legs that sum to zero in one currency.
public struct Transfer: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case walletCredit = "wallet-credit"
        /// One disclosure under a per-disclosure priced grant.
        case disclosureCharge = "disclosure-charge"
        /// One period of a per-month priced grant.
        case periodCharge = "period-charge"
        /// A period charged ahead and refunded because the grant was revoked before the period began.
        case periodRefund = "period-refund"
    }

    /// What a charge pays for: the grant, its parties, and the disclosure's audit entry or the period.
    public struct Subject: Sendable, Hashable {
        public var grantID: GrantID
        public var organisationID: OrganisationID
        public var personID: PersonID
        /// The disclosure's entry in the person's audit log (per-disclosure charges).
        public var auditSequence: Int64?
        /// The start of the period paid for (per-month charges).
        public var periodStart: Timestamp?

        public init(grantID: GrantID, organisationID: OrganisationID, personID: PersonID, auditSequence: Int64? = nil, periodStart: Timestamp? = nil) {
            self.grantID = grantID
            self.organisationID = organisationID
            self.personID = personID
            self.auditSequence = auditSequence
            self.periodStart = periodStart
        }
    }

    public struct Leg: Sendable, Hashable {
        public let account: LedgerAccountID
        public let kind: LedgerAccountKind
        public let amount: Int64

        public init(account: LedgerAccountID, kind: LedgerAccountKind, amount: Int64) {
            self.account = account
            self.kind = kind
            self.amount = amount
        }
    }

    public let id: TransferID
    public let kind: Kind
    public let currency: String
    public let legs: [Leg]
    public let reference: String?
    public let at: Timestamp
    public let subject: Subject?

    /// A transfer whose legs balance; anything else is refused before it reaches storage.
    public init(id: TransferID, kind: Kind, currency: String, legs: [Leg], reference: String?, at: Timestamp,
                subject: Subject? = nil) throws(LedgerError) {
        self.subject = subject
        var sum: Int64 = 0
        for leg in legs { sum = try sum.checkedAdding(leg.amount) }
        guard sum == 0 else { throw LedgerError.unbalanced(transfer: id.rawValue, sum: sum) }
        self.id = id
        self.kind = kind
        self.currency = currency
        self.legs = legs
        self.reference = reference
        self.at = at
    }

    /// Funding an organisation's wallet from outside, e.g. a bank transfer the operator received.
    public static func walletCredit(_ organisation: OrganisationID, _ money: Money, reference: String, at: Timestamp) throws(LedgerError) -> Transfer {
        try Transfer(id: .generateTimeOrdered(at: at), kind: .walletCredit, currency: money.currency, legs: [
            Leg(account: .external(money.currency), kind: .external, amount: -money.minorUnits),
            Leg(account: .wallet(organisation, money.currency), kind: .organisationWallet, amount: money.minorUnits),
        ], reference: reference, at: at)
    }
}

extension Transfer {
    /// A payment from an organisation's wallet for a person's data: the person's share to their earnings, the
    /// operator's fee to the fee account. Zero legs are left out.
    /// `id` is given when something written before the transfer must name it (the person's audit entry).
    public static func charge(_ kind: Kind, _ money: Money, id: TransferID? = nil, subject: Subject, fees: FeePolicy, reference: String?,
                              at: Timestamp) throws(LedgerError) -> Transfer {
        let (share, fee) = fees.split(money.minorUnits)
        var legs = [Leg(account: .wallet(subject.organisationID, money.currency), kind: .organisationWallet, amount: -money.minorUnits)]
        if share != 0 { legs.append(Leg(account: .earnings(subject.personID, money.currency), kind: .personEarnings, amount: share)) }
        if fee != 0 { legs.append(Leg(account: .fees(money.currency), kind: .operatorFees, amount: fee)) }
        return try Transfer(id: id ?? .generateTimeOrdered(at: at), kind: kind, currency: money.currency, legs: legs, reference: reference, at: at, subject: subject)
    }
}
