import Foundation
import ProfferCore
import ProfferStorage

/// What a person does, once, for both ways in — the JSON API and the web pages. Each action checks its input
/// (throwing `ValidationFailure` with JSON pointers such as `/email` or `/keys`, which each way in shows its own
/// way), makes the change with its audit entry and receipt, and returns the result.
extension Services {
    /// Signs a new person up and opens their first session.
    func signUp(email rawEmail: String, password: String, handle: String) async throws -> (Person, SessionDTO) {
        var errors: [FieldError] = []
        var email = rawEmail
        do {
            if case .string(let normalised) = try Catalogue.standard.entry(for: "contact.email")?.validate(.string(rawEmail), at: "/email") {
                email = normalised
            }
        } catch {
            errors += error.errors
        }
        email = email.lowercased()
        if !AccountController.isValidHandle(handle) {
            errors.append(FieldError(pointer: "/handle", detail: "must be 3 to 32 characters of lowercase letters, digits and hyphens, starting with a letter or digit"))
        }
        errors += AccountController.passwordErrors(password)
        if !errors.isEmpty { throw ValidationFailure(errors) }
        let id = PersonID.generate()
        let (_, wrapped) = try vault.masterKey.newDataKey(for: id)
        let now = Timestamp.now()
        let person = Person(id: id, handle: handle, email: email, passwordHash: try await passwords.hash(password),
                            wrappedDataKey: wrapped, createdAt: now)
        try await store.createPerson(person)
        return (person, try await startSession(for: person, now: now))
    }

    /// Opens a session for the right email and password; nil otherwise, taking as long either way.
    func signIn(email: String, password: String) async throws -> (Person, SessionDTO)? {
        guard email.count <= 254, password.utf8.count <= 72 else { return nil }
        guard let person = try await store.person(email: email.lowercased()) else {
            // Spend the same time as a real check so timing does not reveal which emails have accounts.
            _ = try await passwords.verify(password, hash: passwords.decoyHash)
            return nil
        }
        guard try await passwords.verify(password, hash: person.passwordHash) else { return nil }
        return (person, try await startSession(for: person, now: .now()))
    }

    /// Validates a value against its catalogue entry and stores it as the record's next version.
    func putRecord(_ value: JSONValue, entry: CatalogueEntry, for person: Person, pointer: String = "/value") async throws -> (JSONValue, SealedRecord) {
        let valid = try entry.validate(value, at: pointer)
        let dataKey = try vault.dataKey(for: person)
        let vault = self.vault
        let record = try await store.putRecord(person: person.id, key: entry.key, at: .now()) { version in
            try vault.seal(valid, key: entry.key, version: version, with: dataKey)
        }
        vault.dropOpened(person.id)
        return (valid, record)
    }

    /// Deletes a record (its history stays, ended by a deletion marker); `DomainError.notFound` if it has no value.
    func deleteRecord(_ entry: CatalogueEntry, for person: Person) async throws {
        try await store.deleteRecord(person: person.id, key: entry.key, at: .now())
        vault.dropOpened(person.id)
    }

    /// Grants (part of) one of the person's pending requests, with its receipt. A per-month grant comes back with
    /// its first period paid (or suspended when it could not be).
    func grant(_ found: DataRequest, keys: [String], days: Int, pushValues: Bool) async throws -> Grant {
        var errors: [FieldError] = []
        if keys.isEmpty { errors.append(FieldError(pointer: "/keys", detail: "grant at least one key, or refuse the request instead")) }
        if Set(keys).count != keys.count { errors.append(FieldError(pointer: "/keys", detail: "lists a key more than once")) }
        for (index, key) in keys.enumerated() where !found.keys.contains(key) {
            errors.append(FieldError(pointer: "/keys/\(index)", detail: "\(key.prefix(80)) was not asked for; you can grant only keys of the request"))
        }
        if !(1...found.durationDays).contains(days) {
            errors.append(FieldError(pointer: "/durationDays", detail: "must be from 1 to the \(found.durationDays) days requested"))
        }
        if !errors.isEmpty { throw ValidationFailure(errors) }
        let now = Timestamp.now()
        let grant = grant(of: found, keys: keys, days: days, pushValues: pushValues, at: now)
        guard let organisation = try await store.organisation(id: found.organisationID) else { throw DomainError.notFound(what: "request", id: found.id.rawValue) }
        var decided = found
        decided.decide(.granted, by: "person", note: nil, at: now)
        decided.grantID = grant.id
        let receipt = try await receipt(grant.keys.count < found.keys.count ? .partiallyGranted : .granted, request: decided, grant: grant,
                                        organisation: organisation, decidedBy: "person", explanation: nil, at: now)
        return try await store.grantRequest(grant, by: found.personID, receipt: receipt)
    }

    /// Refuses one of the person's pending requests, with its receipt.
    func refuse(_ found: DataRequest, reason: String?) async throws -> DataRequest {
        if let reason, reason.count > 500 { throw ValidationFailure(pointer: "/reason", detail: "must be at most 500 characters") }
        let now = Timestamp.now()
        guard let organisation = try await store.organisation(id: found.organisationID) else { throw DomainError.notFound(what: "request", id: found.id.rawValue) }
        var decided = found
        decided.decide(.refused, by: "person", note: reason, at: now)
        let receipt = try await receipt(.refused, request: decided, grant: nil, organisation: organisation, decidedBy: "person", explanation: reason, at: now)
        return try await store.refuseRequest(found.id, by: found.personID, note: reason, at: now, receipt: receipt)
    }

    /// Revokes one of the person's grants, with its receipt; the very next read is refused.
    func revoke(_ grant: Grant, reason: String?) async throws -> Grant {
        if let reason, reason.count > 500 { throw ValidationFailure(pointer: "/reason", detail: "must be at most 500 characters") }
        let now = Timestamp.now()
        guard let original = try await store.request(id: grant.requestID),
              let organisation = try await store.organisation(id: grant.organisationID) else { throw DomainError.notFound(what: "grant", id: grant.id.rawValue) }
        var revokedGrant = grant
        revokedGrant.revokedAt = now
        let receipt = try await receipt(.revoked, request: original, grant: revokedGrant, organisation: organisation,
                                        decidedBy: "person", explanation: reason, at: now)
        return try await store.revokeGrant(grant.id, by: grant.personID, reason: reason, at: now, receipt: receipt)
    }

    /// Adds one of the person's standing rules: its shape checked, and refused when it exactly contradicts (or repeats)
    /// a rule they have — same keys, purposes and organisation condition — so their intent is never ambiguous.
    func addRule(_ rule: DecisionRule, for person: Person) async throws -> DecisionRule {
        let existing = try await store.rules(of: person.id)
        var errors = rule.problems(purposes: purposes)
        errors += existing.filter {
            Set($0.keys) == Set(rule.keys) && Set($0.purposes) == Set(rule.purposes) && $0.organisationVerified == rule.organisationVerified
        }.map { other in
            other.action == rule.action
                ? FieldError(pointer: "/keys", detail: "you already have this rule (\(other.id)); change it by removing it first")
                : FieldError(pointer: "/action", detail: "contradicts your rule \(other.id) (\(other.summary)); remove that rule first")
        }
        if !errors.isEmpty { throw ValidationFailure(errors) }
        try await store.addRule(rule, for: person.id)
        return rule
    }

    /// How the person's current terms and rules would decide one of their recent requests.
    struct RulePreview: Sendable {
        let request: DataRequest
        let organisation: Organisation
        /// `refused-by-terms`, `refused-by-rule`, `granted-by-rule` or `ask`.
        let outcome: String
        let explanation: String
    }

    /// How the person's current terms and rules would decide their `limit` most recent requests.
    func rulePreview(for person: Person, limit: Int) async throws -> [RulePreview] {
        let terms = try await proffered(by: person.id)
        let rules = try await store.rules(of: person.id)
        let prices = try await store.prices(of: person.id)
        let requests = try await store.requests(of: .person(person.id), limit: limit)
        let organisations = try await organisations(requests.map(\.organisationID))
        return requests.compactMap { item in
            guard let organisation = organisations[item.organisationID] else { return nil }
            let decision = evaluator.decide(terms: terms, rules: rules, request: item.facts(organisationVerified: organisation.verified), prices: prices)
            let outcome = switch decision {
            case .refusedByTerms: "refused-by-terms"
            case .refusedByRule: "refused-by-rule"
            case .grantedByRule: "granted-by-rule"
            case .askPerson: "ask"
            }
            return RulePreview(request: item, organisation: organisation, outcome: outcome, explanation: decision.explanation)
        }
    }
}
