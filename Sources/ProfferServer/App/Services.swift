import Foundation
import ProfferCore
import ProfferStorage

/// What every controller works with, built once at start-up.
struct Services: Sendable {
    let store: ProfferStore
    let vault: RecordVault
    let auth: Authenticator
    let passwords: PasswordHasher
    let accessTokens: AccessTokens
    let receiptSigner: ReceiptSigner
    let configuration: ServerConfiguration
    let payments: any PaymentProvider
    let catalogue = Catalogue.standard
    let purposes = PurposeTaxonomy.standard
    let terms = TermRoster.standard
    let evaluator = RuleEvaluator()

    /// The terms a person proffers: their choice, or the roster's defaults.
    func proffered(by person: PersonID) async throws -> [ProfferedTerm] {
        try await store.terms(of: person) ?? terms.defaults
    }

    /// Builds and signs the consent receipt for a decision; the caller stores it in the decision's transaction.
    func receipt(_ event: ReceiptEvent, request: DataRequest, grant: Grant?, organisation: Organisation,
                 decidedBy: String, explanation: String?, at now: Timestamp) async throws -> ReceiptRecord {
        let id = ReceiptID.generate()
        let document = ConsentReceipt.document(.init(
            id: id, event: event, at: now, person: request.personID, organisation: organisation, request: request, grant: grant,
            decidedBy: decidedBy, explanation: explanation, jurisdiction: configuration.jurisdiction))
        let jws = try await receiptSigner.sign(document)
        return ReceiptRecord(id: id, personID: request.personID, organisationID: organisation.id, requestID: request.id,
                             grantID: grant?.id, event: event, kid: receiptSigner.activeKid, jws: jws, issuedAt: now)
    }

    /// A grant for (part of) a request, from now for `days` days, at the price the request offered. New values are pushed
    /// to the organisation when it asked for that and the person did not decline it.
    func grant(of request: DataRequest, keys: [String], days: Int, pushValues: Bool = true, at now: Timestamp) -> Grant {
        Grant(id: .generate(), requestID: request.id, organisationID: request.organisationID, personID: request.personID,
              keys: request.keys.filter(keys.contains), purpose: request.purpose, retentionDays: request.retentionDays,
              thirdParties: request.thirdParties, createdAt: now, expiresAt: now.adding(days: days), revokedAt: nil, offer: request.offer,
              pushValues: request.pushValues && pushValues)
    }

    /// A person's handle and data key, cached after the first look-up.
    func person(_ id: PersonID) async throws -> RecordVault.KeyedPerson {
        guard let keyed = try await vault.keyed(id, load: { try await store.person(id: id) }) else {
            throw StorageError.corrupt("a grant refers to a missing person")
        }
        return keyed
    }

    /// Opens a session for a person who has just signed up or in.
    func startSession(for person: Person, now: Timestamp) async throws -> SessionDTO {
        let secret = SecretToken.generate(prefix: "ses")
        let expires = now.adding(seconds: configuration.sessionLifetimeSeconds)
        let token = PersonToken(id: .generate(), personID: person.id, kind: .session, name: "session", createdAt: now, expiresAt: expires, revokedAt: nil)
        try await store.createToken(token, digest: SecretToken.digest(secret))
        return SessionDTO(token: secret, expiresAt: expires, person: PersonDTO(person))
    }

    /// Organisations by id for a list of answers (each looked up once).
    func organisations(_ ids: some Sequence<OrganisationID>) async throws -> [OrganisationID: Organisation] {
        try await store.organisations(ids: Array(Set(ids)))
    }

    /// People's handles by id for a list of answers.
    func handles(_ ids: some Sequence<PersonID>) async throws -> [PersonID: String] {
        try await store.handles(ids: Array(Set(ids)))
    }

    func requestDTOs(_ requests: [DataRequest]) async throws -> [RequestDTO] {
        let organisations = try await organisations(requests.map(\.organisationID))
        let handles = try await handles(requests.map(\.personID))
        return try requests.map { request in
            guard let organisation = organisations[request.organisationID], let handle = handles[request.personID] else {
                throw StorageError.corrupt("a request refers to a missing party")
            }
            return RequestDTO(request, organisation: organisation, personHandle: handle)
        }
    }

    func grantDTOs(_ grants: [Grant]) async throws -> [GrantDTO] {
        let organisations = try await organisations(grants.map(\.organisationID))
        let handles = try await handles(grants.map(\.personID))
        let now = Timestamp.now()
        return try grants.map { grant in
            guard let organisation = organisations[grant.organisationID], let handle = handles[grant.personID] else {
                throw StorageError.corrupt("a grant refers to a missing party")
            }
            return GrantDTO(grant, organisation: organisation, personHandle: handle, now: now)
        }
    }

    /// The organisation whose OAuth client credentials these are, or nil.
    func authenticateClient(clientID: String, secret: String) async throws -> Organisation? {
        guard clientID.utf8.count == 35, clientID.hasPrefix("cl_"), clientID.utf8.dropFirst(3).allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }),
              secret.count <= 200, !secret.utf8.contains(0),
              let organisation = try await store.organisation(clientID: clientID),
              SecretToken.digest(secret) == organisation.secretDigest
        else { return nil }
        return organisation
    }
}
