/// How a request was (or would be) decided.
public enum AutomaticDecision: Sendable, Hashable {
    /// The request breaks proffered terms: refused at once, the person not bothered.
    case refusedByTerms([BrokenTerm])
    /// A refuse rule matched: refused without asking. `rule` is the first matching refuse rule.
    case refusedByRule(rule: RuleID, explanation: String)
    /// Grant rules cover every key: granted for `durationDays` without asking.
    case grantedByRule(rules: [RuleID], durationDays: Int, explanation: String)
    /// Left for the person.
    case askPerson(explanation: String)

    public var explanation: String {
        switch self {
        case .refusedByTerms(let broken):
            "Refused automatically because it breaks the person's terms: " + broken.map { "\($0.term.rawValue) (\($0.reason))" }.joined(separator: "; ") + "."
        case .refusedByRule(_, let text), .grantedByRule(_, _, let text), .askPerson(let text):
            text
        }
    }
}

/// Decides requests from a person's terms and rules, deterministically:
/// 1. a request that breaks a proffered term is refused, whatever the rules say;
/// 2. a refuse rule matching any key refuses the request (refuse beats grant);
/// 3. a key is granted when a grant rule covers it and no ask rule covers it at least as specifically
///    (more specific beats general; at equal specificity, asking wins);
/// 4. the request is granted only when every key is, for the shortest duration any key allows;
///    otherwise it is left for the person.
/// Grant rules only ever add access, so removing one never widens what is granted, and the decision does not
/// depend on rule order — only which rule is reported (the first matching one) does.
public struct RuleEvaluator: Sendable {
    public let purposes: PurposeTaxonomy

    public init(purposes: PurposeTaxonomy = .standard) {
        self.purposes = purposes
    }

    public func decide(terms: [ProfferedTerm], rules: [DecisionRule], request: RequestFacts, prices: PriceList = PriceList()) -> AutomaticDecision {
        let broken = TermChecker.brokenTerms(terms, request: request, prices: prices, purposes: purposes)
        if !broken.isEmpty { return .refusedByTerms(broken) }

        for rule in rules where rule.action == .refuse {
            let covered = request.keys.filter { specificity(of: rule, for: $0, request: request) != nil }
            if !covered.isEmpty {
                return .refusedByRule(rule: rule.id, explanation: "Refused automatically by the person's rule “\(rule.summary)”: it covers \(covered.joined(separator: ", "))\(purposeReason(rule, request)).")
            }
        }

        var durations: [Int] = []
        var used: [RuleID] = []
        var undecided: [String] = []
        for key in request.keys {
            let grants = rules.filter { $0.action == .grant }.compactMap { rule in specificity(of: rule, for: key, request: request).map { (rule, $0) } }
            let askLevel = rules.filter { $0.action == .ask }.compactMap { specificity(of: $0, for: key, request: request) }.max()
            guard let best = grants.map(\.1).max(), askLevel.map({ best > $0 }) ?? true else {
                undecided.append(key)
                continue
            }
            durations.append(grants.map { min($0.0.maxDurationDays ?? request.durationDays, request.durationDays) }.max() ?? request.durationDays)
            if let first = grants.first?.0.id, !used.contains(first) { used.append(first) }
        }
        if undecided.isEmpty, let days = durations.min() {
            let names = rules.filter { used.contains($0.id) }.map { "“\($0.summary)”" }.joined(separator: ", ")
            return .grantedByRule(rules: used, durationDays: days, explanation: "Granted automatically for \(days) days by the person's rule\(used.count > 1 ? "s" : "") \(names).")
        }
        // The same words whether or not the person has rules: the organisation sees this too.
        return .askPerson(explanation: "Left for the person to decide: no automatic rule grants \((undecided.isEmpty ? request.keys : undecided).joined(separator: ", ")) to this organisation for \(request.purpose).")
    }

    /// How specifically `rule` covers `key` for this request, or nil when it does not apply.
    func specificity(of rule: DecisionRule, for key: String, request: RequestFacts) -> Int? {
        guard let pattern = rule.keys.filter({ $0.matches(key) }).map(\.specificity).max() else { return nil }
        if !rule.purposes.isEmpty && !rule.purposes.contains(where: { purposes.isPurpose(request.purpose, within: $0) }) { return nil }
        if let verified = rule.organisationVerified, verified != request.organisationVerified { return nil }
        return pattern * 4 + (rule.purposes.isEmpty ? 0 : 2) + (rule.organisationVerified == nil ? 0 : 1)
    }

    func purposeReason(_ rule: DecisionRule, _ request: RequestFacts) -> String {
        guard let ancestor = rule.purposes.first(where: { purposes.isPurpose(request.purpose, within: $0) }) else { return "" }
        return ancestor == request.purpose ? " for \(ancestor)" : " because \(request.purpose) is a kind of \(ancestor)"
    }
}
