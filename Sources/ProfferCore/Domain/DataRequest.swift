/// A third party an organisation says it would pass data on to.
public struct ThirdParty: Sendable, Hashable, Codable {
    public var name: String
    public var purpose: String?

    public init(name: String, purpose: String? = nil) {
        self.name = name
        self.purpose = purpose
    }
}

/// What an organisation asks of a person: keys, purpose and conditions.
public struct DataRequest: Sendable, Hashable {
    public enum State: String, Sendable, Hashable, Codable {
        case pending, granted, refused
    }

    public var id: RequestID
    public var organisationID: OrganisationID
    public var personID: PersonID
    public var keys: [String]
    public var purpose: String
    public var retentionDays: Int
    public var thirdParties: [ThirdParty]
    public var durationDays: Int
    public var reason: String
    public var state: State
    public var createdAt: Timestamp
    public var decidedAt: Timestamp?
    public var grantID: GrantID?
    /// The person's proffered terms the organisation accepts.
    public var acceptedTerms: [TermID]
    public var declarations: Declarations
    /// Who decided: `person`, `rule:<id>` or `terms`; nil while pending.
    public var decidedBy: String?
    /// The decision in plain words (an automatic decision's explanation, or the person's reason).
    public var decisionNote: String?
    /// What the organisation offers in return for the data.
    public var offer: Offer
    /// Whether the organisation asks to be sent new values of the keys when they change (not only told of the change).
    public var pushValues: Bool

    public init(
        id: RequestID, organisationID: OrganisationID, personID: PersonID, keys: [String], purpose: String,
        retentionDays: Int, thirdParties: [ThirdParty], durationDays: Int, reason: String,
        state: State, createdAt: Timestamp, decidedAt: Timestamp?, grantID: GrantID?,
        acceptedTerms: [TermID] = [], declarations: Declarations = Declarations(), decidedBy: String? = nil, decisionNote: String? = nil,
        offer: Offer = .nothing, pushValues: Bool = false
    ) {
        self.offer = offer
        self.pushValues = pushValues
        self.acceptedTerms = acceptedTerms
        self.declarations = declarations
        self.decidedBy = decidedBy
        self.decisionNote = decisionNote
        self.id = id
        self.organisationID = organisationID
        self.personID = personID
        self.keys = keys
        self.purpose = purpose
        self.retentionDays = retentionDays
        self.thirdParties = thirdParties
        self.durationDays = durationDays
        self.reason = reason
        self.state = state
        self.createdAt = createdAt
        self.decidedAt = decidedAt
        self.grantID = grantID
    }
}

/// What an organisation declares it would do with the data, checked against the person's terms.
public struct Declarations: Sendable, Hashable, Codable {
    /// Use the data to track the person beyond the organisation's own service.
    public var tracking: Bool
    /// Sell or trade the data.
    public var sale: Bool
    /// Make automated decisions with legal or similarly significant effect.
    public var automatedDecisions: Bool

    public init(tracking: Bool = false, sale: Bool = false, automatedDecisions: Bool = false) {
        self.tracking = tracking
        self.sale = sale
        self.automatedDecisions = automatedDecisions
    }

    /// Absent declarations are `false`: an organisation that says nothing declares nothing risky.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        tracking = try container.decodeIfPresent(Bool.self, forKey: .tracking) ?? false
        sale = try container.decodeIfPresent(Bool.self, forKey: .sale) ?? false
        automatedDecisions = try container.decodeIfPresent(Bool.self, forKey: .automatedDecisions) ?? false
    }
}

extension DataRequest {
    /// Marks the request decided.
    public mutating func decide(_ state: State, by decidedBy: String, note: String?, at now: Timestamp) {
        self.state = state
        self.decidedBy = decidedBy
        self.decisionNote = note
        self.decidedAt = now
    }

    /// The facts terms and rules are checked against.
    public func facts(organisationVerified: Bool) -> RequestFacts {
        RequestFacts(keys: keys, purpose: purpose, retentionDays: retentionDays, durationDays: durationDays, thirdParties: thirdParties,
                     tracking: declarations.tracking, sale: declarations.sale, automatedDecisions: declarations.automatedDecisions,
                     acceptedTerms: Set(acceptedTerms), organisationVerified: organisationVerified, offer: offer)
    }
}

/// A person's decision to let one organisation read some keys, until it expires or is revoked.
public struct Grant: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable, Codable {
        /// `suspended`: a per-month grant whose period could not be paid; nothing is disclosed until it is.
        case active, suspended, revoked, expired
    }

    public var id: GrantID
    public var requestID: RequestID
    public var organisationID: OrganisationID
    public var personID: PersonID
    public var keys: [String]
    public var purpose: String
    public var retentionDays: Int
    public var thirdParties: [ThirdParty]
    public var createdAt: Timestamp
    public var expiresAt: Timestamp
    public var revokedAt: Timestamp?
    /// The agreed compensation, fixed when the person granted the request.
    public var offer: Offer
    /// For a per-month grant: the end of the last period paid for (nil before the first is charged).
    public var paidUntil: Timestamp?
    /// When a per-month grant was suspended for want of payment; nil while paid up.
    public var suspendedAt: Timestamp?
    /// Whether the organisation is sent new values of the granted keys when they change; otherwise it is only told
    /// which key changed, and reads the value (an audited disclosure) if it needs it.
    public var pushValues: Bool

    public init(
        id: GrantID, requestID: RequestID, organisationID: OrganisationID, personID: PersonID, keys: [String],
        purpose: String, retentionDays: Int, thirdParties: [ThirdParty], createdAt: Timestamp,
        expiresAt: Timestamp, revokedAt: Timestamp?, offer: Offer = .nothing, paidUntil: Timestamp? = nil, suspendedAt: Timestamp? = nil,
        pushValues: Bool = false
    ) {
        self.pushValues = pushValues
        self.offer = offer
        self.paidUntil = paidUntil
        self.suspendedAt = suspendedAt
        self.id = id
        self.requestID = requestID
        self.organisationID = organisationID
        self.personID = personID
        self.keys = keys
        self.purpose = purpose
        self.retentionDays = retentionDays
        self.thirdParties = thirdParties
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
    }

    /// What may change about a grant after it is made: its expiry, revocation, paid period and suspension. Everything
    /// else (keys, purpose, parties, price) is fixed at creation, so a grant can be kept as created and this part read
    /// again, or known unchanged, before the grant is relied on (the disclosure batch's grant cache and memory).
    public struct Changing: Sendable, Hashable {
        public var expiresAt: Timestamp
        public var revokedAt: Timestamp?
        public var paidUntil: Timestamp?
        public var suspendedAt: Timestamp?

        public init(expiresAt: Timestamp, revokedAt: Timestamp?, paidUntil: Timestamp?, suspendedAt: Timestamp?) {
            self.expiresAt = expiresAt
            self.revokedAt = revokedAt
            self.paidUntil = paidUntil
            self.suspendedAt = suspendedAt
        }
    }

    public var changing: Changing {
        get { Changing(expiresAt: expiresAt, revokedAt: revokedAt, paidUntil: paidUntil, suspendedAt: suspendedAt) }
        set {
            expiresAt = newValue.expiresAt
            revokedAt = newValue.revokedAt
            paidUntil = newValue.paidUntil
            suspendedAt = newValue.suspendedAt
        }
    }

    /// The grant's status at an instant: revocation wins over expiry when both happened.
    public func status(at now: Timestamp) -> Status {
        if revokedAt != nil { return .revoked }
        if now >= expiresAt { return .expired }
        if suspendedAt != nil { return .suspended }
        return .active
    }

    /// Whether the grant may still change state: active or suspended (a suspended grant resumes when paid).
    public func isLive(at now: Timestamp) -> Bool {
        revokedAt == nil && now < expiresAt
    }

    /// The instant the grant stopped being usable, for refusals: revocation, expiry or suspension.
    public var stoppedAt: Timestamp { revokedAt ?? suspendedAt ?? expiresAt }
}

/// Limits on what a request may ask for; enforced before anything is stored.
public enum RequestLimits {
    public static let maxKeys = 50
    public static let maxDurationDays = 3650
    public static let maxRetentionDays = 3650
    public static let maxThirdParties = 20
    public static let maxReasonLength = 1000
    public static let maxNameLength = 200
}
