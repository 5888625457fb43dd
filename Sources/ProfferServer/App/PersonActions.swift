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
        return (valid, record)
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
}
