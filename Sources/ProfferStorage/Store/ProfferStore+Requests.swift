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

    /// Stores a new request and tells the person's audit log it arrived.
    public func createRequest(_ request: DataRequest) async throws {
        let kind = self.kind
        try await write { db in
            try await db.raw("""
                INSERT INTO requests (id, organisation_id, person_id, keys, purpose, retention_days, third_parties,
                                      duration_days, reason, state, created_at, decided_at, grant_id)
                VALUES (\(bind: request.id.rawValue), \(bind: request.organisationID.rawValue), \(bind: request.personID.rawValue),
                        \(bind: JSONColumn.encode(request.keys)), \(bind: request.purpose), \(bind: request.retentionDays),
                        \(bind: JSONColumn.encode(request.thirdParties)), \(bind: request.durationDays), \(bind: request.reason),
                        \(bind: request.state.rawValue), \(bind: request.createdAt.millisecondsSinceEpoch), NULL, NULL)
                """).run()
            _ = try await Self.appendAudit(
                AuditEvent(kind: .requestReceived, actor: "organisation:\(request.organisationID)", organisationID: request.organisationID,
                           requestID: request.id, keys: request.keys, note: "purpose \(request.purpose)", at: request.createdAt),
                for: request.personID, on: db, kind: kind)
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
            return try await query.orderBy("created_at", .descending).orderBy("id").limit(limit).offset(offset).all().map(Self.request)
        }
    }

    /// Grants `keys` of a pending request until `expiresAt`, creating the grant.
    public func grantRequest(
        _ id: RequestID, by person: PersonID, keys: [String], expiresAt: Timestamp, at now: Timestamp
    ) async throws -> Grant {
        let kind = self.kind
        return try await write { db in
            let request = try await Self.pendingRequest(id, of: person, on: db, kind: kind)
            let grant = Grant(
                id: .generate(), requestID: request.id, organisationID: request.organisationID, personID: person,
                keys: keys, purpose: request.purpose, retentionDays: request.retentionDays,
                thirdParties: request.thirdParties, createdAt: now, expiresAt: expiresAt, revokedAt: nil
            )
            try await db.raw("""
                INSERT INTO grants (id, request_id, organisation_id, person_id, keys, purpose, retention_days, third_parties,
                                    created_at, expires_at, revoked_at)
                VALUES (\(bind: grant.id.rawValue), \(bind: request.id.rawValue), \(bind: grant.organisationID.rawValue),
                        \(bind: person.rawValue), \(bind: JSONColumn.encode(keys)), \(bind: grant.purpose), \(bind: grant.retentionDays),
                        \(bind: JSONColumn.encode(grant.thirdParties)), \(bind: now.millisecondsSinceEpoch),
                        \(bind: expiresAt.millisecondsSinceEpoch), NULL)
                """).run()
            try await db.raw("""
                UPDATE requests SET state = 'granted', decided_at = \(bind: now.millisecondsSinceEpoch), grant_id = \(bind: grant.id.rawValue)
                WHERE id = \(bind: id.rawValue)
                """).run()
            let partial = keys.count < request.keys.count ? "partially granted: \(keys.count) of \(request.keys.count) keys" : "granted"
            _ = try await Self.appendAudit(
                AuditEvent(kind: .requestGranted, actor: "person", organisationID: request.organisationID, requestID: id,
                           grantID: grant.id, keys: keys, note: "\(partial) until \(expiresAt)", at: now),
                for: person, on: db, kind: kind)
            return grant
        }
    }

    /// Refuses a pending request.
    public func refuseRequest(_ id: RequestID, by person: PersonID, note: String?, at now: Timestamp) async throws -> DataRequest {
        let kind = self.kind
        return try await write { db in
            var request = try await Self.pendingRequest(id, of: person, on: db, kind: kind)
            try await db.raw("""
                UPDATE requests SET state = 'refused', decided_at = \(bind: now.millisecondsSinceEpoch) WHERE id = \(bind: id.rawValue)
                """).run()
            _ = try await Self.appendAudit(
                AuditEvent(kind: .requestRefused, actor: "person", organisationID: request.organisationID, requestID: id,
                           keys: request.keys, note: note.map { "refused: \($0)" } ?? "refused", at: now),
                for: person, on: db, kind: kind)
            request.state = .refused
            request.decidedAt = now
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
            grantID: try row.optional("grant_id", as: String.self).map(GrantID.init(trusted:))
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
                .orderBy("created_at", .descending).orderBy("id").limit(limit).offset(offset).all().map(Self.grant)
        }
    }

    /// Revokes one of the person's grants; the very next disclosure is refused.
    public func revokeGrant(_ id: GrantID, by person: PersonID, reason: String?, at now: Timestamp) async throws -> Grant {
        let kind = self.kind
        return try await write { db in
            guard let row = try await db.raw("SELECT * FROM grants WHERE id = \(bind: id.rawValue)\(unsafeRaw: kind.forUpdate)").first() else {
                throw DomainError.notFound(what: "grant", id: id.rawValue)
            }
            var grant = try Self.grant(row)
            guard grant.personID == person else { throw DomainError.notFound(what: "grant", id: id.rawValue) }
            let status = grant.status(at: now)
            guard status == .active else {
                throw DomainError.grantNotActive(grantID: id, status: status, since: grant.revokedAt ?? grant.expiresAt)
            }
            try await db.raw("UPDATE grants SET revoked_at = \(bind: now.millisecondsSinceEpoch) WHERE id = \(bind: id.rawValue)").run()
            _ = try await Self.appendAudit(
                AuditEvent(kind: .grantRevoked, actor: "person", organisationID: grant.organisationID, requestID: grant.requestID,
                           grantID: id, keys: grant.keys, note: reason.map { "revoked: \($0)" } ?? "revoked", at: now),
                for: person, on: db, kind: kind)
            grant.revokedAt = now
            return grant
        }
    }

    /// Records a disclosure in the person's audit log, durably, after checking inside the same transaction
    /// that the grant is still active for this organisation. Only once this returns may the data be sent.
    public func recordDisclosure(grant id: GrantID, organisation: OrganisationID, keys: [String], at now: Timestamp) async throws -> AuditEntry {
        let kind = self.kind
        return try await write { db in
            guard let row = try await db.raw("""
                SELECT person_id, organisation_id, expires_at, revoked_at, request_id FROM grants WHERE id = \(bind: id.rawValue)
                """).first() else {
                throw DomainError.notFound(what: "grant", id: id.rawValue)
            }
            guard try row.decode(column: "organisation_id", as: String.self) == organisation.rawValue else {
                throw DomainError.notFound(what: "grant", id: id.rawValue)
            }
            if let revokedAt = try row.optionalTimestamp("revoked_at") {
                throw DomainError.grantNotActive(grantID: id, status: .revoked, since: revokedAt)
            }
            let expiresAt = try row.timestamp("expires_at")
            if now >= expiresAt {
                throw DomainError.grantNotActive(grantID: id, status: .expired, since: expiresAt)
            }
            let person = PersonID(trusted: try row.decode(column: "person_id", as: String.self))
            return try await Self.appendAudit(
                AuditEvent(kind: .disclosure, actor: "organisation:\(organisation)", organisationID: organisation,
                           requestID: RequestID(trusted: try row.decode(column: "request_id", as: String.self)),
                           grantID: id, keys: keys, at: now),
                for: person, on: db, kind: kind)
        }
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
            revokedAt: try row.optionalTimestamp("revoked_at")
        )
    }
}
