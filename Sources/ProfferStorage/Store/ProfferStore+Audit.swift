import ProfferCore
import SQLKit

extension ProfferStore {
    /// Appends one event to a person's chain inside the caller's write transaction.
    /// Refuses a closed account: whatever a concurrent writer was about to change for the person is rolled back
    /// with it, so nothing is added after the chain's `account.closed` link. On PostgreSQL the person's row is
    /// share-locked first (erasure holds it for update), so a writer racing an erasure waits for it and then sees it.
    /// `charge` is the transfer the event pays (a person's earnings are found through these links).
    static func appendAudit(_ event: AuditEvent, for person: PersonID, charge: TransferID? = nil, on db: any SQLDatabase,
                            kind: EngineKind) async throws -> AuditEntry {
        if let row = try await db.raw("SELECT handle, erased_at FROM people WHERE id = \(bind: person.rawValue)\(unsafeRaw: kind.forShare)").first(),
           let erasedAt = try row.optionalTimestamp("erased_at") {
            throw DomainError.personErased(handle: try row.decode(column: "handle", as: String.self), at: erasedAt)
        }
        let head = try await db.raw("SELECT seq, hash FROM audit_heads WHERE person_id = \(bind: person.rawValue)\(unsafeRaw: kind.forUpdate)").first()
        let previousSequence = try head?.decode(column: "seq", as: Int64.self) ?? 0
        let previousHash = try head?.decode(column: "hash", as: String.self) ?? AuditEntry.genesisHash
        let entry = AuditEntry(event: event, personID: person, previousSequence: previousSequence, previousHash: previousHash)
        try await db.raw("""
            INSERT INTO audit_entries (person_id, seq, kind, actor, organisation_id, request_id, grant_id, keys, note, at, previous_hash, hash, transfer_id)
            VALUES (\(bind: person.rawValue), \(bind: entry.sequence), \(bind: entry.kind.rawValue), \(bind: entry.actor),
                    \(bind: entry.organisationID?.rawValue), \(bind: entry.requestID?.rawValue), \(bind: entry.grantID?.rawValue),
                    \(bind: entry.keysJSON), \(bind: entry.note), \(bind: entry.at.millisecondsSinceEpoch),
                    \(bind: entry.previousHash), \(bind: entry.hash), \(bind: charge?.rawValue))
            """).run()
        try await db.raw("""
            INSERT INTO audit_heads (person_id, seq, hash) VALUES (\(bind: person.rawValue), \(bind: entry.sequence), \(bind: entry.hash))
            ON CONFLICT (person_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash
            """).run()
        return entry
    }

    /// A page of a person's audit log in ascending order, after sequence `after`.
    public func auditEntries(for person: PersonID, after: Int64 = 0, limit: Int = 100) async throws -> [AuditEntry] {
        try await read { db in
            try await db.raw("""
                SELECT * FROM audit_entries WHERE person_id = \(bind: person.rawValue) AND seq > \(bind: after)
                ORDER BY seq LIMIT \(bind: limit)
                """).all().map(Self.auditEntry)
        }
    }

    /// A page of a person's audit log newest first, optionally about one organisation and of some kinds, before
    /// sequence `before` (for the next page).
    public func auditEntriesNewestFirst(for person: PersonID, organisation: OrganisationID? = nil, kinds: [AuditKind]? = nil,
                                        before: Int64? = nil, limit: Int = 100) async throws -> [AuditEntry] {
        try await read { db in
            let query = db.select().column("*").from("audit_entries").where("person_id", .equal, person.rawValue)
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
                SELECT DISTINCT organisation_id FROM audit_entries WHERE person_id = \(bind: person.rawValue) AND organisation_id IS NOT NULL
                """).all().map { OrganisationID(trusted: try $0.decode(column: "organisation_id", as: String.self)) }
        }
    }

    /// The newest link of a person's chain: (sequence, hash), or (0, genesis) for an empty chain.
    public func auditHead(for person: PersonID) async throws -> (sequence: Int64, hash: String) {
        try await read { db in
            guard let row = try await db.raw("SELECT seq, hash FROM audit_heads WHERE person_id = \(bind: person.rawValue)").first() else {
                return (Int64(0), AuditEntry.genesisHash)
            }
            return (try row.decode(column: "seq", as: Int64.self), try row.decode(column: "hash", as: String.self))
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
