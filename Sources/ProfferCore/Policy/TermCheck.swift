/// What a request declares, as far as terms and rules care.
public struct RequestFacts: Sendable, Hashable {
    public var keys: [String]
    public var purpose: String
    public var retentionDays: Int
    public var durationDays: Int
    public var thirdParties: [ThirdParty]
    /// Whether the organisation would use the data to track the person beyond its own service.
    public var tracking: Bool
    /// Whether the organisation would sell or trade the data.
    public var sale: Bool
    /// Whether the organisation would make automated decisions with legal effect.
    public var automatedDecisions: Bool
    public var acceptedTerms: Set<TermID>
    public var organisationVerified: Bool

    public init(keys: [String], purpose: String, retentionDays: Int, durationDays: Int, thirdParties: [ThirdParty],
                tracking: Bool, sale: Bool, automatedDecisions: Bool, acceptedTerms: Set<TermID>, organisationVerified: Bool) {
        self.keys = keys
        self.purpose = purpose
        self.retentionDays = retentionDays
        self.durationDays = durationDays
        self.thirdParties = thirdParties
        self.tracking = tracking
        self.sale = sale
        self.automatedDecisions = automatedDecisions
        self.acceptedTerms = acceptedTerms
        self.organisationVerified = organisationVerified
    }
}

/// One proffered term a request breaks, and why in plain words.
public struct BrokenTerm: Sendable, Hashable, Codable {
    public var term: TermID
    public var reason: String
}

/// Checks a request against the person's proffered terms. A request must accept every proffered term,
/// and must not declare anything a term forbids.
public enum TermChecker {
    public static func brokenTerms(_ proffered: [ProfferedTerm], request: RequestFacts,
                                   purposes: PurposeTaxonomy = .standard) -> [BrokenTerm] {
        var broken: [BrokenTerm] = []
        for term in proffered {
            var reasons: [String] = []
            if !request.acceptedTerms.contains(term.id) {
                reasons.append("the request does not accept it")
            }
            switch term.id {
            case .noOnwardSharing:
                if !request.thirdParties.isEmpty {
                    reasons.append("the request would pass data to \(request.thirdParties.map(\.name).joined(separator: ", "))")
                }
            case .noStalking:
                if request.tracking { reasons.append("the request would track the person beyond the service") }
            case .serviceOnly:
                if !purposes.isPurpose(request.purpose, within: "ServiceProvision") {
                    reasons.append("the purpose \(request.purpose) is not under ServiceProvision")
                }
            case .maxRetention:
                let days = term.value("days") ?? 0
                if request.retentionDays > days {
                    reasons.append("the request would keep data \(request.retentionDays) days, more than the \(days) allowed")
                }
            case .noSale:
                if request.sale { reasons.append("the request would sell the data") }
            case .noAutomatedDecisions:
                if request.automatedDecisions { reasons.append("the request would make automated decisions with legal effect") }
            case .deleteOnServiceEnd, .breachNotification:
                break  // commitments: acceptance is what they ask
            }
            if !reasons.isEmpty {
                broken.append(BrokenTerm(term: term.id, reason: reasons.joined(separator: "; ")))
            }
        }
        return broken
    }
}
