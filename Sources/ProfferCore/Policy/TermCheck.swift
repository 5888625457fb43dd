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
    /// What the organisation offers in return.
    public var offer: Offer

    public init(keys: [String], purpose: String, retentionDays: Int, durationDays: Int, thirdParties: [ThirdParty],
                tracking: Bool, sale: Bool, automatedDecisions: Bool, acceptedTerms: Set<TermID>, organisationVerified: Bool,
                offer: Offer = .nothing) {
        self.offer = offer
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
    public static func brokenTerms(_ proffered: [ProfferedTerm], request: RequestFacts, prices: PriceList = PriceList(),
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
            case .minimumPrice:
                if let shortfall = priceShortfall(request, prices: prices) { reasons.append(shortfall) }
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

extension TermChecker {
    /// Why the request's offer is below the person's prices for the keys it asks, naming the price; nil when it
    /// pays enough (or nothing it asks for is priced).
    static func priceShortfall(_ request: RequestFacts, prices: PriceList) -> String? {
        let pricedKeys = request.keys.filter { prices.isPriced($0) }
        guard !pricedKeys.isEmpty else { return nil }
        guard let (basis, offered) = request.offer.price else {
            let asks = PriceBasis.allCases.compactMap { basis -> String? in
                guard let minimum = try? prices.minimum(for: request.keys, basis: basis), let total = minimum.total else { return nil }
                return "\(total.formatted) \(basis.phrase) for \(minimum.priced.joined(separator: ", "))"
            }
            return "the request offers \(request.offer.summary), but the person's price is \(asks.joined(separator: ", or "))"
        }
        guard let minimum = try? prices.minimum(for: request.keys, basis: basis) else {
            return "the person's prices for these keys sum beyond the 64-bit range"
        }
        if !minimum.unpricedOnBasis.isEmpty {
            let other = basis == .perDisclosure ? PriceBasis.perMonth : .perDisclosure
            return "the person prices \(minimum.unpricedOnBasis.joined(separator: ", ")) only \(other.phrase), not \(basis.phrase)"
        }
        guard let total = minimum.total else { return nil }
        if offered.currency != total.currency {
            return "the request offers \(offered.formatted) but the person's prices are in \(total.currency): \(total.formatted) \(basis.phrase)"
        }
        if offered.minorUnits < total.minorUnits {
            return "the request offers \(offered.formatted) \(basis.phrase); the person's price for \(minimum.priced.joined(separator: ", ")) is \(total.formatted) \(basis.phrase)"
        }
        return nil
    }
}
