import Foundation
import ProfferCore
import SQLKit

/// A filter on lists of requests or grants: everything, or one organisation's or one person's.
public enum PartyFilter: Sendable {
    case person(PersonID)
    case organisation(OrganisationID)

    var column: String {
        switch self {
        case .person: "person_id"
        case .organisation: "organisation_id"
        }
    }

    var value: String {
        switch self {
        case .person(let id): id.rawValue
        case .organisation(let id): id.rawValue
        }
    }
}

extension ProfferStore {
    // MARK: Requests

    /// Stores a new request and tells the person's audit log it arrived. A request decided at once (by the
    /// person's terms or rules) arrives with its state, its grant if granted, and its consent receipt, all in
    /// the same transaction.
    public func createRequest(_ request: DataRequest, grant: Grant? = nil, receipt: ReceiptRecord? = nil) async throws {
        let kind = self.kind
        let fees = self.fees
        try await write { db in
            try await db.raw("""
                INSERT INTO requests (id, organisation_id, person_id, keys, purpose, retention_days, third_parties,
                                      duration_days, reason, state, created_at, decided_at, grant_id,
                                      accepted_terms, declarations, decided_by, decision_note, offer, push_values)
                VALUES (\(bind: request.id.rawValue), \(bind: request.organisationID.rawValue), \(bind: request.personID.rawValue),
                        \(bind: JSONColumn.encode(request.keys)), \(bind: request.purpose), \(bind: request.retentionDays),
                        \(bind: JSONColumn.encode(request.thirdParties)), \(bind: request.durationDays), \(bind: request.reason),
                        \(bind: request.state.rawValue), \(bind: request.createdAt.millisecondsSinceEpoch),
                        \(bind: request.decidedAt?.millisecondsSinceEpoch), \(bind: grant?.id.rawValue),
                        \(bind: JSONColumn.encode(request.acceptedTerms)), \(bind: JSONColumn.encode(request.declarations)),
                        \(bind: request.decidedBy), \(bind: request.decisionNote), \(bind: JSONColumn.encode(request.offer)),
                        \(bind: request.pushValues ? 1 : 0))
                """).run()
            _ = try await Self.appendAudit(
                AuditEvent(kind: .requestReceived, actor: "organisation:\(request.organisationID)", organisationID: request.organisationID,
                           requestID: request.id, keys: request.keys, note: "purpose \(request.purpose)", at: request.createdAt),
                for: request.personID, on: db, kind: kind)
            if let grant {
                try await Self.insertGrant(grant, on: db)
                _ = try await Self.appendAudit(
                    AuditEvent(kind: .requestGranted, actor: request.decidedBy ?? "person", organisationID: request.organisationID,
                               requestID: request.id, grantID: grant.id, keys: grant.keys, note: request.decisionNote, at: grant.createdAt),
                    for: request.personID, on: db, kind: kind)
                _ = try await Self.chargePeriod(of: grant, at: grant.createdAt, on: db, kind: kind, fees: fees)
            } else if request.state == .refused {
                _ = try await Self.appendAudit(
                    AuditEvent(kind: .requestRefused, actor: request.decidedBy ?? "person", organisationID: request.organisationID,
                               requestID: request.id, keys: request.keys, note: request.decisionNote, at: request.decidedAt ?? request.createdAt),
                    for: request.personID, on: db, kind: kind)
            }
            if let receipt { try await Self.insertReceipt(receipt, on: db) }
            if request.state != .pending {
                try await Self.emitDecision(of: request, grant: grant, at: request.decidedAt ?? request.createdAt, on: db)
            }
        }
    }

    public func request(id: RequestID) async throws -> DataRequest? {
        try await read { db in try await db.raw("SELECT * FROM requests WHERE id = \(bind: id.rawValue)").first().map(Self.request) }
    }

    /// Requests of one party, newest first, optionally in one state.
    public func requests(of party: PartyFilter, state: DataRequest.State? = nil, limit: Int = 100, offset: Int = 0) async throws -> [DataRequest] {
        try await read { db in
            var query = db.select().column("*").from("requests").where(SQLIdentifier(party.column), .equal, party.value)
            if let state { query = query.where("state", .equal, state.rawValue) }
            return try await query.orderBy("created_at", .descending).orderBy("id", .descending).limit(limit).offset(offset).all().map(Self.request)
        }
    }

    /// Grants a pending request: `grant` names the keys (a subset of the request's) and the expiry.
    public func grantRequest(_ grant: Grant, by person: PersonID, decidedBy: String = "person", note: String? = nil,
                             receipt: ReceiptRecord? = nil) async throws -> Grant {
        let kind = self.kind
        let fees = self.fees
        return try await write { db in
            let request = try await Self.pendingRequest(grant.requestID, of: person, on: db, kind: kind)
            guard grant.personID == person, grant.organisationID == request.organisationID, Set(grant.keys).isSubset(of: request.keys) else {
                throw DomainError.invalid(ValidationFailure(pointer: "/keys", detail: "a grant may cover only keys of its request"))
            }
            try await Self.insertGrant(grant, on: db)
            try await db.raw("""
                UPDATE requests SET state = 'granted', decided_at = \(bind: grant.createdAt.millisecondsSinceEpoch), grant_id = \(bind: grant.id.rawValue),
                       decided_by = \(bind: decidedBy), decision_note = \(bind: note)
                WHERE id = \(bind: request.id.rawValue)
                """).run()
            let partial = grant.keys.count < request.keys.count ? "partially granted: \(grant.keys.count) of \(request.keys.count) keys" : "granted"
            _ = try await Self.appendAudit(
                AuditEvent(kind: .requestGranted, actor: decidedBy, organisationID: request.organisationID, requestID: request.id,
                           grantID: grant.id, keys: grant.keys, note: note ?? "\(partial) until \(grant.expiresAt)", at: grant.createdAt),
                for: person, on: db, kind: kind)
            let charged = try await Self.chargePeriod(of: grant, at: grant.createdAt, on: db, kind: kind, fees: fees)
            if let receipt { try await Self.insertReceipt(receipt, on: db) }
            var decided = request
            decided.decide(.granted, by: decidedBy, note: note, at: grant.createdAt)
            try await Self.emitDecision(of: decided, grant: charged.grant, at: grant.createdAt, on: db)
            return charged.grant
        }
    }

    static func insertGrant(_ grant: Grant, on db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO grants (id, request_id, organisation_id, person_id, keys, purpose, retention_days, third_parties,
                                created_at, expires_at, revoked_at, offer, price_basis, paid_until, suspended_at, push_values)
            VALUES (\(bind: grant.id.rawValue), \(bind: grant.requestID.rawValue), \(bind: grant.organisationID.rawValue),
                    \(bind: grant.personID.rawValue), \(bind: JSONColumn.encode(grant.keys)), \(bind: grant.purpose), \(bind: grant.retentionDays),
                    \(bind: JSONColumn.encode(grant.thirdParties)), \(bind: grant.createdAt.millisecondsSinceEpoch),
                    \(bind: grant.expiresAt.millisecondsSinceEpoch), NULL, \(bind: JSONColumn.encode(grant.offer)),
                    \(bind: grant.offer.price?.basis.rawValue), NULL, NULL, \(bind: grant.pushValues ? 1 : 0))
            """).run()
    }

    /// Refuses a pending request.
    public func refuseRequest(_ id: RequestID, by person: PersonID, note: String?, at now: Timestamp,
                              receipt: ReceiptRecord? = nil) async throws -> DataRequest {
        let kind = self.kind
        return try await write { db in
            var request = try await Self.pendingRequest(id, of: person, on: db, kind: kind)
            try await db.raw("""
                UPDATE requests SET state = 'refused', decided_at = \(bind: now.millisecondsSinceEpoch), decided_by = 'person',
                       decision_note = \(bind: note)
                WHERE id = \(bind: id.rawValue)
                """).run()
            _ = try await Self.appendAudit(
                AuditEvent(kind: .requestRefused, actor: "person", organisationID: request.organisationID, requestID: id,
                           keys: request.keys, note: note.map { "refused: \($0)" } ?? "refused", at: now),
                for: person, on: db, kind: kind)
            if let receipt { try await Self.insertReceipt(receipt, on: db) }
            request.decide(.refused, by: "person", note: note, at: now)
            try await Self.emitDecision(of: request, grant: nil, at: now, on: db)
            return request
        }
    }

    private static func pendingRequest(_ id: RequestID, of person: PersonID, on db: any SQLDatabase, kind: EngineKind) async throws -> DataRequest {
        guard let row = try await db.raw("SELECT * FROM requests WHERE id = \(bind: id.rawValue)\(unsafeRaw: kind.forUpdate)").first() else {
            throw DomainError.notFound(what: "request", id: id.rawValue)
        }
        let request = try Self.request(row)
        guard request.personID == person else { throw DomainError.notFound(what: "request", id: id.rawValue) }
        guard request.state == .pending else { throw DomainError.requestAlreadyDecided(requestID: id, state: request.state) }
        return request
    }

    static func request(_ row: any SQLRow) throws -> DataRequest {
        DataRequest(
            id: RequestID(trusted: try row.decode(column: "id", as: String.self)),
            organisationID: OrganisationID(trusted: try row.decode(column: "organisation_id", as: String.self)),
            personID: PersonID(trusted: try row.decode(column: "person_id", as: String.self)),
            keys: try row.stringList("keys"),
            purpose: try row.decode(column: "purpose", as: String.self),
            retentionDays: try row.decode(column: "retention_days", as: Int.self),
            thirdParties: try JSONColumn.decode([ThirdParty].self, try row.decode(column: "third_parties", as: String.self)),
            durationDays: try row.decode(column: "duration_days", as: Int.self),
            reason: try row.decode(column: "reason", as: String.self),
            state: DataRequest.State(rawValue: try row.decode(column: "state", as: String.self)) ?? .pending,
            createdAt: try row.timestamp("created_at"),
            decidedAt: try row.optionalTimestamp("decided_at"),
            grantID: try row.optional("grant_id", as: String.self).map(GrantID.init(trusted:)),
            acceptedTerms: try JSONColumn.decode([TermID].self, try row.decode(column: "accepted_terms", as: String.self)),
            declarations: try JSONColumn.decode(Declarations.self, try row.decode(column: "declarations", as: String.self)),
            decidedBy: try row.optional("decided_by", as: String.self),
            decisionNote: try row.optional("decision_note", as: String.self),
            offer: try JSONColumn.decode(Offer.self, try row.decode(column: "offer", as: String.self)),
            pushValues: try row.decode(column: "push_values", as: Int.self) != 0
        )
    }

    // MARK: Grants

    public func grant(id: GrantID) async throws -> Grant? {
        try await read { db in try await db.raw("SELECT * FROM grants WHERE id = \(bind: id.rawValue)").first().map(Self.grant) }
    }

    /// Grants of one party, newest first.
    public func grants(of party: PartyFilter, limit: Int = 100, offset: Int = 0) async throws -> [Grant] {
        try await read { db in
            try await db.select().column("*").from("grants").where(SQLIdentifier(party.column), .equal, party.value)
                .orderBy("created_at", .descending).orderBy("id", .descending).limit(limit).offset(offset).all().map(Self.grant)
        }
    }

    /// Revokes one of the person's grants; the very next disclosure is refused.
    public func revokeGrant(_ id: GrantID, by person: PersonID, reason: String?, at now: Timestamp,
                            receipt: ReceiptRecord? = nil) async throws -> Grant {
        let kind = self.kind
        return try await write { db in
            guard let row = try await db.raw("SELECT * FROM grants WHERE id = \(bind: id.rawValue)\(unsafeRaw: kind.forUpdate)").first() else {
                throw DomainError.notFound(what: "grant", id: id.rawValue)
            }
            var grant = try Self.grant(row)
            guard grant.personID == person else { throw DomainError.notFound(what: "grant", id: id.rawValue) }
            let status = grant.status(at: now)
            guard grant.isLive(at: now) else {
                throw DomainError.grantNotActive(grantID: id, status: status, since: grant.stoppedAt)
            }
            let refund = try await Self.revokeLive(&grant, actor: "person", note: reason.map { "revoked: \($0)" } ?? "revoked", at: now, on: db, kind: kind)
            if let receipt { try await Self.insertReceipt(receipt, on: db) }
            try await Self.emitGrantChange(.grantRevoked, of: grant, extra: RevocationRefund.eventData(revokedAt: now, refund: refund), at: now, on: db)
            return grant
        }
    }

    /// Revokes a live grant inside the caller's transaction, with its audit entry. A month of a per-month grant
    /// charged ahead that has not begun goes back to the organisation, the refund linked from that entry (and
    /// returned, for the `grant.revoked` event); a month that has begun stays paid.
    @discardableResult
    static func revokeLive(_ grant: inout Grant, actor: String, note: String, at now: Timestamp, on db: any SQLDatabase,
                           kind: EngineKind) async throws -> RevocationRefund? {
        let unstarted = try await unstartedPeriod(of: grant, at: now, on: db)
        if let unstarted { grant.paidUntil = unstarted.start }
        try await db.raw("""
            UPDATE grants SET revoked_at = \(bind: now.millisecondsSinceEpoch), paid_until = \(bind: grant.paidUntil?.millisecondsSinceEpoch)
            WHERE id = \(bind: grant.id.rawValue)
            """).run()
        let refundID: TransferID? = unstarted == nil ? nil : .generateTimeOrdered(at: now)
        let refunded = unstarted.map { "; the month from \($0.start.rfc3339), paid ahead, is refunded to the organisation (\($0.amount.formatted))" } ?? ""
        let entry = try await appendAudit(
            AuditEvent(kind: .grantRevoked, actor: actor, organisationID: grant.organisationID, requestID: grant.requestID,
                       grantID: grant.id, keys: grant.keys, note: note + refunded, at: now),
            for: grant.personID, charge: refundID, on: db, kind: kind)
        grant.revokedAt = now
        guard let unstarted, let refundID else { return nil }
        _ = try await post(try unstarted.refund(refundID, of: grant, auditSequence: entry.sequence, at: now), on: db, kind: kind)
        return RevocationRefund(transfer: refundID, amount: unstarted.amount, periodStart: unstarted.start)
    }


    static func grant(_ row: any SQLRow) throws -> Grant {
        Grant(
            id: GrantID(trusted: try row.decode(column: "id", as: String.self)),
            requestID: RequestID(trusted: try row.decode(column: "request_id", as: String.self)),
            organisationID: OrganisationID(trusted: try row.decode(column: "organisation_id", as: String.self)),
            personID: PersonID(trusted: try row.decode(column: "person_id", as: String.self)),
            keys: try row.stringList("keys"),
            purpose: try row.decode(column: "purpose", as: String.self),
            retentionDays: try row.decode(column: "retention_days", as: Int.self),
            thirdParties: try JSONColumn.decode([ThirdParty].self, try row.decode(column: "third_parties", as: String.self)),
            createdAt: try row.timestamp("created_at"),
            expiresAt: try row.timestamp("expires_at"),
            revokedAt: try row.optionalTimestamp("revoked_at"),
            offer: try JSONColumn.decode(Offer.self, try row.decode(column: "offer", as: String.self)),
            paidUntil: try row.optionalTimestamp("paid_until"),
            suspendedAt: try row.optionalTimestamp("suspended_at"),
            pushValues: try row.decode(column: "push_values", as: Int.self) != 0
        )
    }
}

/// What revoking a grant gave back to its organisation: a month of a per-month grant charged ahead that had not begun.
struct RevocationRefund: Sendable {
    let transfer: TransferID
    let amount: Money
    let periodStart: Timestamp

    /// The `grant.revoked` event's own fields: when, and the refund if there was one.
    static func eventData(revokedAt: Timestamp, refund: RevocationRefund?, extra: [String: JSONValue] = [:]) -> [String: JSONValue] {
        var data = extra
        data["revokedAt"] = .string(revokedAt.rfc3339)
        if let refund {
            data["refund"] = .object(["transferId": .string(refund.transfer.rawValue), "amount": refund.amount.json,
                                      "periodStart": .string(refund.periodStart.rfc3339)])
        }
        return data
    }
}
