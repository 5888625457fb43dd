import ProfferCore
import SQLKit

extension ProfferStore {
    /// Appends one event to a person's chain inside the caller's write transaction (keyed by the person's number,
    /// read with the person). Refuses an unknown person, and a closed account: whatever a concurrent writer was about to change for the person is rolled back
    /// with it, so nothing is added after the chain's `account.closed` link. On PostgreSQL the person's row is
    /// share-locked first (erasure holds it for update), so a writer racing an erasure waits for it and then sees it.
    /// `charge` is the transfer the event pays (a person's earnings are found through these links).
    static func appendAudit(_ event: AuditEvent, for person: PersonID, charge: TransferID? = nil, on db: any SQLDatabase,
                            kind: EngineKind) async throws -> AuditEntry {
        guard let row = try await db.raw("SELECT handle, erased_at, number FROM people WHERE id = \(bind: person.rawValue)\(unsafeRaw: kind.forShare)").first() else {
            throw DomainError.notFound(what: "person", id: person.rawValue)
        }
        if let erasedAt = try row.optionalTimestamp("erased_at") {
            throw DomainError.personErased(handle: try row.decode(column: "handle", as: String.self), at: erasedAt)
        }
        let number = try row.decode(column: "number", as: Int64.self)
        let head = try await auditHeads(of: [person.rawValue], on: db, kind: kind, forAppending: true)[person.rawValue]
        let entry = AuditEntry(event: event, personID: person, previousSequence: head?.sequence ?? 0, previousHash: head?.hash ?? AuditEntry.genesisHash)
        try await db.execute(sql: auditEntriesInsert([AuditRow(entry: entry, personNumber: number, charge: charge)])) { _ in }
        if kind == .postgres, let upsert = auditHeadsUpsert([(person.rawValue, entry.sequence, entry.hash)], on: db) {
            try await db.execute(sql: upsert) { _ in }
        }
        return entry
    }

    /// The newest link of each person's chain (people with an empty chain are left out).
    ///
    /// On SQLite the head is the chain's newest entry, found through the entries' primary key: its one writer appends
    /// every entry, so nothing needs a head row of its own (migration 12). On PostgreSQL, when `forAppending`, the
    /// people's `audit_heads` rows are locked for update, in order, so concurrent writers append one after the other;
    /// `auditHeadsUpsert` then records the new heads.
    static func auditHeads(of people: [String], on db: any SQLDatabase, kind: EngineKind,
                           forAppending: Bool) async throws -> [String: (sequence: Int64, hash: String)] {
        guard !people.isEmpty else { return [:] }
        let binds = people.sorted() as [any Encodable & Sendable]
        let rows = if kind == .postgres && forAppending {
            try await db.raw("SELECT person_id, seq, hash FROM audit_heads WHERE person_id IN (\(binds: binds)) ORDER BY person_id FOR UPDATE").all()
        } else {
            try await db.raw("""
                SELECT p.id AS person_id, a.seq, a.hash FROM people p JOIN audit_entries a ON a.person_number = p.number
                    AND a.seq = (SELECT m.seq FROM audit_entries m WHERE m.person_number = p.number ORDER BY m.seq DESC LIMIT 1)
                WHERE p.id IN (\(binds: binds))
                """).all()
        }
        var heads: [String: (sequence: Int64, hash: String)] = [:]
        for row in rows {
            heads[try row.decode(column: "person_id", as: String.self)] = (try row.decode(column: "seq", as: Int64.self), try row.decode(column: "hash", as: String.self))
        }
        return heads
    }

    /// An audit entry as stored: with its person's number (the log's key, migration 13) and the charge it links, if
    /// any (how a person's earnings are found).
    struct AuditRow {
        let entry: AuditEntry
        let personNumber: Int64
        let charge: TransferID?
    }

    /// The statement appending audit entries, for one entry or a disclosure batch's. The charge column only when an
    /// entry links one: an unpriced batch binds no NULL per row.
    static func auditEntriesInsert(_ rows: [AuditRow]) -> RowsInsert {
        let charging = rows.contains { $0.charge != nil }
        var columns = ["person_number", "person_id", "seq", "kind", "actor", "organisation_id", "request_id", "grant_id", "keys", "note", "at",
                       "previous_hash", "hash"]
        if charging { columns.append("transfer_id") }
        var insert = RowsInsert(into: "audit_entries", columns: columns)
        for row in rows {
            let entry = row.entry
            var values: [SQLValue] = [
                .integer(row.personNumber), .text(entry.personID.rawValue), .integer(entry.sequence), .text(entry.kind.rawValue), .text(entry.actor),
                .text(entry.organisationID?.rawValue), .text(entry.requestID?.rawValue), .text(entry.grantID?.rawValue),
                .text(entry.keysJSON), .text(entry.note), .integer(entry.at.millisecondsSinceEpoch), .text(entry.previousHash), .text(entry.hash),
            ]
            if charging { values.append(.text(row.charge?.rawValue)) }
            insert.append(values)
        }
        return insert
    }

    /// A person's number (migration 13), as a scalar subquery: the audit log is keyed by it.
    static func numberOf(_ person: PersonID) -> SQLQueryString {
        "(SELECT number FROM people WHERE id = \(bind: person.rawValue))"
    }

    /// The statement that records chains' new heads on PostgreSQL (see `auditHeads`), if there are any.
    static func auditHeadsUpsert(_ heads: [(person: String, sequence: Int64, hash: String)], on db: any SQLDatabase) -> (any SQLExpression)? {
        guard !heads.isEmpty else { return nil }
        let upsert = db.insert(into: "audit_heads").columns("person_id", "seq", "hash")
        for head in heads { upsert.values([head.person, head.sequence, head.hash] as [any Encodable & Sendable]) }
        return upsert.onConflict(with: ["person_id"]) { $0.set(excludedValueOf: "seq").set(excludedValueOf: "hash") }.query
    }

    /// A page of a person's audit log in ascending order, after sequence `after`.
    public func auditEntries(for person: PersonID, after: Int64 = 0, limit: Int = 100) async throws -> [AuditEntry] {
        try await read { db in
            try await db.raw("""
                SELECT * FROM audit_entries WHERE person_number = \(Self.numberOf(person)) AND seq > \(bind: after)
                ORDER BY seq LIMIT \(bind: limit)
                """).all().map(Self.auditEntry)
        }
    }

    /// A page of a person's audit log newest first, optionally about one organisation and of some kinds, before
    /// sequence `before` (for the next page).
    public func auditEntriesNewestFirst(for person: PersonID, organisation: OrganisationID? = nil, kinds: [AuditKind]? = nil,
                                        before: Int64? = nil, limit: Int = 100) async throws -> [AuditEntry] {
        try await read { db in
            let query = db.select().column("*").from("audit_entries").where(SQLColumn("person_number"), .equal, Self.numberOf(person))
            if let organisation { query.where("organisation_id", .equal, organisation.rawValue) }
            if let kinds { query.where("kind", .in, kinds.map(\.rawValue)) }
            if let before { query.where("seq", .lessThan, before) }
            return try await query.orderBy("seq", .descending).limit(limit).all().map(Self.auditEntry)
        }
    }

    /// The organisations a person's audit log mentions.
    public func auditOrganisations(for person: PersonID) async throws -> [OrganisationID] {
        try await read { db in
            try await db.raw("""
                SELECT DISTINCT organisation_id FROM audit_entries WHERE person_number = \(Self.numberOf(person)) AND organisation_id IS NOT NULL
                """).all().map { OrganisationID(trusted: try $0.decode(column: "organisation_id", as: String.self)) }
        }
    }

    /// The newest link of a person's chain: (sequence, hash), or (0, genesis) for an empty chain.
    public func auditHead(for person: PersonID) async throws -> (sequence: Int64, hash: String) {
        try await read { db in
            try await Self.auditHeads(of: [person.rawValue], on: db, kind: self.kind, forAppending: false)[person.rawValue] ?? (0, AuditEntry.genesisHash)
        }
    }

    static func auditEntry(_ row: any SQLRow) throws -> AuditEntry {
        guard let kind = AuditKind(rawValue: try row.decode(column: "kind", as: String.self)) else {
            throw StorageError.corrupt("unknown audit entry kind")
        }
        var entry = AuditEntry(
            event: AuditEvent(
                kind: kind,
                actor: try row.decode(column: "actor", as: String.self),
                organisationID: try row.optional("organisation_id", as: String.self).map(OrganisationID.init(trusted:)),
                requestID: try row.optional("request_id", as: String.self).map(RequestID.init(trusted:)),
                grantID: try row.optional("grant_id", as: String.self).map(GrantID.init(trusted:)),
                keys: try row.stringList("keys"),
                note: try row.optional("note", as: String.self),
                at: try row.timestamp("at")
            ),
            personID: PersonID(trusted: try row.decode(column: "person_id", as: String.self)),
            previousSequence: try row.decode(column: "seq", as: Int64.self) - 1,
            previousHash: try row.decode(column: "previous_hash", as: String.self)
        )
        // Keep the stored hash, not a recomputed one, so verification can detect tampering.
        entry.hash = try row.decode(column: "hash", as: String.self)
        return entry
    }
}
