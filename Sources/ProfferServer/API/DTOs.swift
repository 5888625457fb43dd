import Foundation
import ProfferCore

// The JSON shapes the API answers with. The OpenAPI document describes exactly these.

struct PersonDTO: Codable, Sendable {
    var id: String
    var handle: String
    var email: String
    var createdAt: Timestamp

    init(_ person: Person) {
        id = person.id.rawValue
        handle = person.handle
        email = person.email
        createdAt = person.createdAt
    }
}

struct SessionDTO: Codable, Sendable {
    var token: String
    var tokenType = "Bearer"
    var expiresAt: Timestamp
    var person: PersonDTO
}

struct PersonalTokenDTO: Codable, Sendable {
    var id: String
    var name: String
    var createdAt: Timestamp
    var expiresAt: Timestamp?
    var revokedAt: Timestamp?
    /// Present only in the answer that creates the token.
    var token: String?

    init(_ token: PersonToken, secret: String? = nil) {
        id = token.id.rawValue
        name = token.name
        createdAt = token.createdAt
        expiresAt = token.expiresAt
        revokedAt = token.revokedAt
        self.token = secret
    }
}

struct RecordDTO: Codable, Sendable {
    var key: String
    var value: JSONValue
    var version: Int64
    var updatedAt: Timestamp
}

struct RecordVersionDTO: Codable, Sendable {
    var version: Int64
    /// Absent for a deletion.
    var value: JSONValue?
    var deleted: Bool
    var changedAt: Timestamp
}

struct OrganisationSummaryDTO: Codable, Sendable {
    var id: String
    var name: String
    var domain: String
    var verified: Bool

    init(_ organisation: Organisation) {
        id = organisation.id.rawValue
        name = organisation.name
        domain = organisation.domain
        verified = organisation.verified
    }
}

struct OrganisationDTO: Codable, Sendable {
    var id: String
    var name: String
    var domain: String
    var verified: Bool
    var clientId: String
    var createdAt: Timestamp
    var contact: OrganisationContact
    /// Present only when the secret was just created or rotated.
    var clientSecret: String?

    init(_ organisation: Organisation, secret: String? = nil) {
        contact = organisation.contact
        id = organisation.id.rawValue
        name = organisation.name
        domain = organisation.domain
        verified = organisation.verified
        clientId = organisation.clientID
        createdAt = organisation.createdAt
        clientSecret = secret
    }
}

struct RequestDTO: Codable, Sendable {
    var id: String
    var organisation: OrganisationSummaryDTO
    var person: String
    var keys: [String]
    var purpose: String
    var retentionDays: Int
    var thirdParties: [ThirdParty]
    var durationDays: Int
    var reason: String
    var state: DataRequest.State
    var createdAt: Timestamp
    var decidedAt: Timestamp?
    var grantId: String?
    var acceptedTerms: [TermID]
    var tracking: Bool
    var sale: Bool
    var automatedDecisions: Bool
    /// Who decided: `person`, `rule:<id>` or `terms`.
    var decidedBy: String?
    /// The decision in plain words.
    var decision: String?
    var offer: Offer
    /// Whether the organisation asks to be sent new values when they change (webhook `record.updated`).
    var pushValues: Bool

    init(_ request: DataRequest, organisation: Organisation, personHandle: String) {
        pushValues = request.pushValues
        acceptedTerms = request.acceptedTerms
        tracking = request.declarations.tracking
        sale = request.declarations.sale
        automatedDecisions = request.declarations.automatedDecisions
        decidedBy = request.decidedBy
        decision = request.decisionNote
        offer = request.offer
        id = request.id.rawValue
        self.organisation = OrganisationSummaryDTO(organisation)
        person = personHandle
        keys = request.keys
        purpose = request.purpose
        retentionDays = request.retentionDays
        thirdParties = request.thirdParties
        durationDays = request.durationDays
        reason = request.reason
        state = request.state
        createdAt = request.createdAt
        decidedAt = request.decidedAt
        grantId = request.grantID?.rawValue
    }
}

struct GrantDTO: Codable, Sendable {
    var id: String
    var requestId: String
    var organisation: OrganisationSummaryDTO
    var person: String
    var keys: [String]
    var purpose: String
    var retentionDays: Int
    var thirdParties: [ThirdParty]
    var status: Grant.Status
    var createdAt: Timestamp
    var expiresAt: Timestamp
    var revokedAt: Timestamp?
    /// The agreed compensation, fixed at grant time.
    var offer: Offer
    /// Per-month grants: paid up to here.
    var paidUntil: Timestamp?
    var suspendedAt: Timestamp?
    /// Whether new values of the granted keys are pushed to the organisation when they change.
    var pushValues: Bool

    init(_ grant: Grant, organisation: Organisation, personHandle: String, now: Timestamp = .now()) {
        pushValues = grant.pushValues
        offer = grant.offer
        paidUntil = grant.paidUntil
        suspendedAt = grant.suspendedAt
        id = grant.id.rawValue
        requestId = grant.requestID.rawValue
        self.organisation = OrganisationSummaryDTO(organisation)
        person = personHandle
        keys = grant.keys
        purpose = grant.purpose
        retentionDays = grant.retentionDays
        thirdParties = grant.thirdParties
        status = grant.status(at: now)
        createdAt = grant.createdAt
        expiresAt = grant.expiresAt
        revokedAt = grant.revokedAt
    }
}

struct AuditEntryDTO: Codable, Sendable {
    var sequence: Int64
    var kind: String
    var actor: String
    var organisation: String?
    var request: String?
    var grant: String?
    var keys: [String]
    var note: String?
    var at: Timestamp
    var previousHash: String
    var hash: String

    init(_ entry: AuditEntry) {
        sequence = entry.sequence
        kind = entry.kind.rawValue
        actor = entry.actor
        organisation = entry.organisationID?.rawValue
        request = entry.requestID?.rawValue
        grant = entry.grantID?.rawValue
        keys = entry.keys
        note = entry.note
        at = entry.at
        previousHash = entry.previousHash
        hash = entry.hash
    }
}

struct AuditPageDTO: Codable, Sendable {
    var person: String
    /// The person's id, which every entry's hash binds; needed to verify the chain offline.
    var personId: String
    var entries: [AuditEntryDTO]
    /// Pass as `after` to get the next page; absent on the last page.
    var nextAfter: Int64?
    var head: AuditHeadDTO
}

struct AuditHeadDTO: Codable, Sendable {
    var sequence: Int64
    var hash: String
}

struct ListDTO<Item: Encodable & Sendable>: Encodable, Sendable {
    var items: [Item]
}

struct ReceiptDTO: Codable, Sendable {
    var id: String
    var event: ReceiptEvent
    var requestId: String
    var grantId: String?
    var organisation: String
    var issuedAt: Timestamp
    var kid: String
    /// The signed receipt: a compact JWS (EdDSA) whose payload is the Kantara v1.1 document.
    var jws: String
    /// The payload, decoded for convenience; the JWS is what to keep and verify.
    var receipt: JSONValue?

    init(_ record: ReceiptRecord, includeDocument: Bool) {
        id = record.id.rawValue
        event = record.event
        requestId = record.requestID.rawValue
        grantId = record.grantID?.rawValue
        organisation = record.organisationID.rawValue
        issuedAt = record.issuedAt
        kid = record.kid
        jws = record.jws
        receipt = includeDocument ? Self.payload(of: record.jws) : nil
    }

    static func payload(of jws: String) -> JSONValue? {
        let parts = jws.split(separator: ".")
        guard parts.count == 3, let data = Data(base64URLEncoded: String(parts[1])) else { return nil }
        return try? JSONDecoder().decode(JSONValue.self, from: data)
    }
}

struct TermDefinitionDTO: Codable, Sendable {
    var id: TermID
    var title: String
    var text: String
    var parameters: [TermParameter]
    var isDefault: Bool

    init(_ definition: TermDefinition) {
        id = definition.id
        title = definition.title
        text = definition.text(with: [:])
        parameters = definition.parameters
        isDefault = definition.isDefault
    }
}

struct ProfferedTermDTO: Codable, Sendable {
    var id: TermID
    var title: String
    /// The term in plain words, with the person's parameter values filled in.
    var text: String
    var parameters: [String: Int]

    init(_ term: ProfferedTerm, roster: TermRoster) {
        let definition = roster.definition(term.id)
        id = term.id
        title = definition.title
        text = definition.text(with: term.parameters)
        var values: [String: Int] = [:]
        for parameter in definition.parameters { values[parameter.name] = term.value(parameter.name) }
        parameters = values
    }
}

struct PersonTermsDTO: Codable, Sendable {
    var person: String
    var terms: [ProfferedTermDTO]
    /// The person's prices: binding when `minimum-price` is among `terms`, a guide otherwise.
    var prices: [PriceEntry]
}

struct RuleDTO: Codable, Sendable {
    var id: String
    var action: RuleAction
    var keys: [KeyPattern]
    var purposes: [String]
    var organisationVerified: Bool?
    var maxDurationDays: Int?
    var note: String?
    /// The rule in plain words.
    var summary: String
    var createdAt: Timestamp

    init(_ rule: DecisionRule) {
        id = rule.id.rawValue
        action = rule.action
        keys = rule.keys
        purposes = rule.purposes
        organisationVerified = rule.organisationVerified
        maxDurationDays = rule.maxDurationDays
        note = rule.note
        summary = rule.summary
        createdAt = rule.createdAt
    }
}

struct RulePreviewDTO: Codable, Sendable {
    var requestId: String
    var organisation: String
    var keys: [String]
    var purpose: String
    var actualState: DataRequest.State
    /// What the current terms and rules would decide: `refused-by-terms`, `refused-by-rule`, `granted-by-rule` or `ask`.
    var wouldBe: String
    var explanation: String
}
