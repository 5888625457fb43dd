import Foundation
import ProfferCore
import SQLKit

extension ProfferStore {
    // MARK: Terms

    /// The terms a person proffers; nil when they never chose (the roster's defaults apply).
    public func terms(of person: PersonID) async throws -> [ProfferedTerm]? {
        try await read { db in
            guard let row = try await db.raw("SELECT terms FROM person_terms WHERE person_id = \(bind: person.rawValue)").first() else { return nil }
            return try JSONColumn.decode([ProfferedTerm].self, try row.decode(column: "terms", as: String.self))
        }
    }

    public func setTerms(_ terms: [ProfferedTerm], of person: PersonID, at now: Timestamp) async throws {
        let kind = self.kind
        try await write { db in
            try await db.raw("""
                INSERT INTO person_terms (person_id, terms, updated_at) VALUES (\(bind: person.rawValue), \(bind: JSONColumn.encode(terms)), \(bind: now.millisecondsSinceEpoch))
                ON CONFLICT (person_id) DO UPDATE SET terms = excluded.terms, updated_at = excluded.updated_at
                """).run()
            _ = try await Self.appendAudit(
                AuditEvent(kind: .termsUpdated, actor: "person", note: "now proffering: " + (terms.isEmpty ? "no terms" : terms.map(\.id.rawValue).joined(separator: ", ")), at: now),
                for: person, on: db, kind: kind)
        }
    }

    // MARK: Rules

    public func rules(of person: PersonID) async throws -> [DecisionRule] {
        try await read { db in
            try await db.raw("SELECT * FROM decision_rules WHERE person_id = \(bind: person.rawValue) ORDER BY created_at, id").all().map { row in
                try Self.rule(row)
            }
        }
    }

    public func addRule(_ rule: DecisionRule, for person: PersonID, limit: Int = 100) async throws {
        let kind = self.kind
        try await write { db in
            let count = try await db.raw("SELECT COUNT(*) AS n FROM decision_rules WHERE person_id = \(bind: person.rawValue)").first()?.decode(column: "n", as: Int.self) ?? 0
            guard count < limit else { throw DomainError.conflict("you already have \(limit) rules, the most allowed; remove one first") }
            try await db.raw("""
                INSERT INTO decision_rules (id, person_id, body, created_at)
                VALUES (\(bind: rule.id.rawValue), \(bind: person.rawValue), \(bind: JSONColumn.encode(StoredRule(rule))), \(bind: rule.createdAt.millisecondsSinceEpoch))
                """).run()
            _ = try await Self.appendAudit(AuditEvent(kind: .ruleAdded, actor: "person", note: rule.summary, at: rule.createdAt), for: person, on: db, kind: kind)
        }
    }

    public func removeRule(_ id: RuleID, of person: PersonID, at now: Timestamp) async throws {
        let kind = self.kind
        try await write { db in
            guard let row = try await db.raw("SELECT * FROM decision_rules WHERE id = \(bind: id.rawValue) AND person_id = \(bind: person.rawValue)").first() else {
                throw DomainError.notFound(what: "rule", id: id.rawValue)
            }
            let rule = try Self.rule(row)
            try await db.raw("DELETE FROM decision_rules WHERE id = \(bind: id.rawValue)").run()
            _ = try await Self.appendAudit(AuditEvent(kind: .ruleRemoved, actor: "person", note: rule.summary, at: now), for: person, on: db, kind: kind)
        }
    }

    static func rule(_ row: any SQLRow) throws -> DecisionRule {
        let stored = try JSONColumn.decode(StoredRule.self, try row.decode(column: "body", as: String.self))
        return DecisionRule(id: RuleID(trusted: try row.decode(column: "id", as: String.self)), action: stored.action, keys: stored.keys,
                            purposes: stored.purposes, organisationVerified: stored.organisationVerified, maxDurationDays: stored.maxDurationDays,
                            note: stored.note, createdAt: try row.timestamp("created_at"))
    }

    /// A rule's body as kept in its JSON column.
    struct StoredRule: Codable {
        var action: RuleAction
        var keys: [KeyPattern]
        var purposes: [String]
        var organisationVerified: Bool?
        var maxDurationDays: Int?
        var note: String?

        init(_ rule: DecisionRule) {
            action = rule.action
            keys = rule.keys
            purposes = rule.purposes
            organisationVerified = rule.organisationVerified
            maxDurationDays = rule.maxDurationDays
            note = rule.note
        }
    }

    // MARK: Receipts

    static func insertReceipt(_ receipt: ReceiptRecord, on db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO receipts (id, person_id, organisation_id, request_id, grant_id, event, kid, jws, issued_at)
            VALUES (\(bind: receipt.id.rawValue), \(bind: receipt.personID.rawValue), \(bind: receipt.organisationID.rawValue),
                    \(bind: receipt.requestID.rawValue), \(bind: receipt.grantID?.rawValue), \(bind: receipt.event.rawValue),
                    \(bind: receipt.kid), \(bind: receipt.jws), \(bind: receipt.issuedAt.millisecondsSinceEpoch))
            """).run()
    }

    /// Receipts of one party, newest first, optionally about one grant or one request.
    public func receipts(of party: PartyFilter, grant: GrantID? = nil, request: RequestID? = nil, limit: Int = 100, offset: Int = 0) async throws -> [ReceiptRecord] {
        try await read { db in
            var query = db.select().column("*").from("receipts").where(SQLIdentifier(party.column), .equal, party.value)
            if let grant { query = query.where("grant_id", .equal, grant.rawValue) }
            if let request { query = query.where("request_id", .equal, request.rawValue) }
            return try await query.orderBy("issued_at", .descending).orderBy("id").limit(limit).offset(offset).all().map(Self.receipt)
        }
    }

    public func receipt(id: ReceiptID) async throws -> ReceiptRecord? {
        try await read { db in try await db.raw("SELECT * FROM receipts WHERE id = \(bind: id.rawValue)").first().map(Self.receipt) }
    }

    static func receipt(_ row: any SQLRow) throws -> ReceiptRecord {
        ReceiptRecord(
            id: ReceiptID(trusted: try row.decode(column: "id", as: String.self)),
            personID: PersonID(trusted: try row.decode(column: "person_id", as: String.self)),
            organisationID: OrganisationID(trusted: try row.decode(column: "organisation_id", as: String.self)),
            requestID: RequestID(trusted: try row.decode(column: "request_id", as: String.self)),
            grantID: try row.optional("grant_id", as: String.self).map(GrantID.init(trusted:)),
            event: ReceiptEvent(rawValue: try row.decode(column: "event", as: String.self)) ?? .granted,
            kid: try row.decode(column: "kid", as: String.self),
            jws: try row.decode(column: "jws", as: String.self),
            issuedAt: try row.timestamp("issued_at"))
    }

    // MARK: Expiry

    /// Grants whose expiry has passed but is not yet recorded (no audit entry or receipt yet).
    public func unrecordedExpiries(at now: Timestamp, limit: Int = 100) async throws -> [Grant] {
        try await read { db in
            try await db.raw("""
                SELECT * FROM grants WHERE expiry_recorded = 0 AND revoked_at IS NULL AND expires_at <= \(bind: now.millisecondsSinceEpoch)
                ORDER BY expires_at LIMIT \(bind: limit)
                """).all().map(Self.grant)
        }
    }

    /// Records a grant's expiry once: the audit entry and the receipt. Returns false when it was already
    /// recorded (by another instance) or the grant was revoked meanwhile.
    @discardableResult
    public func recordExpiry(of grant: Grant, receipt: ReceiptRecord, at now: Timestamp) async throws -> Bool {
        let kind = self.kind
        return try await write { db in
            guard let row = try await db.raw("SELECT expiry_recorded, revoked_at FROM grants WHERE id = \(bind: grant.id.rawValue)\(unsafeRaw: kind.forUpdate)").first(),
                  try row.decode(column: "expiry_recorded", as: Int.self) == 0, try row.decodeNil(column: "revoked_at")
            else { return false }
            try await db.raw("UPDATE grants SET expiry_recorded = 1 WHERE id = \(bind: grant.id.rawValue)").run()
            _ = try await Self.appendAudit(
                AuditEvent(kind: .grantExpired, actor: "system", organisationID: grant.organisationID, requestID: grant.requestID,
                           grantID: grant.id, keys: grant.keys, note: "expired at \(grant.expiresAt)", at: now),
                for: grant.personID, on: db, kind: kind)
            try await Self.insertReceipt(receipt, on: db)
            try await Self.emitGrantChange(.grantExpired, of: grant, extra: ["expiredAt": .string(grant.expiresAt.rfc3339)], at: now, on: db)
            return true
        }
    }
}
