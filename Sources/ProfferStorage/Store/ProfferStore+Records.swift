import Foundation
import ProfferCore
import SQLKit

extension ProfferStore {
    /// Stores a new version of a record. `seal` receives the new version number (bound into the
    /// ciphertext) and returns the sealed value. The old version stays in the history.
    public func putRecord(
        person: PersonID, key: String, at now: Timestamp,
        seal: @escaping @Sendable (Int64) throws -> Data
    ) async throws -> SealedRecord {
        let kind = self.kind
        let cache = recordCache
        return try await write { db in
            cache?.invalidate(person)
            let version = try await Self.nextVersion(person: person, key: key, on: db)
            let ciphertext = try seal(version)
            try await db.raw("""
                INSERT INTO records (person_id, key, version, ciphertext, updated_at)
                VALUES (\(bind: person.rawValue), \(bind: key), \(bind: version), \(bind: ciphertext), \(bind: now.millisecondsSinceEpoch))
                ON CONFLICT (person_id, key) DO UPDATE SET version = excluded.version, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at
                """).run()
            try await db.raw("""
                INSERT INTO record_versions (person_id, key, version, ciphertext, changed_at)
                VALUES (\(bind: person.rawValue), \(bind: key), \(bind: version), \(bind: ciphertext), \(bind: now.millisecondsSinceEpoch))
                """).run()
            _ = try await Self.appendAudit(
                AuditEvent(kind: .recordPut, actor: "person", keys: [key], note: "version \(version)", at: now),
                for: person, on: db, kind: kind)
            try await Self.emitRecordChange(person: person, key: key, version: version, deleted: false, at: now, on: db)
            return SealedRecord(key: key, version: version, ciphertext: ciphertext, changedAt: now)
        }
    }

    /// Deletes a record's current value, keeping a deletion marker in its history.
    public func deleteRecord(person: PersonID, key: String, at now: Timestamp) async throws {
        let kind = self.kind
        let cache = recordCache
        try await write { db in
            cache?.invalidate(person)
            guard try await db.raw("SELECT 1 AS x FROM records WHERE person_id = \(bind: person.rawValue) AND key = \(bind: key)").first() != nil else {
                throw DomainError.notFound(what: "record", id: key)
            }
            let version = try await Self.nextVersion(person: person, key: key, on: db)
            try await db.raw("DELETE FROM records WHERE person_id = \(bind: person.rawValue) AND key = \(bind: key)").run()
            try await db.raw("""
                INSERT INTO record_versions (person_id, key, version, ciphertext, changed_at)
                VALUES (\(bind: person.rawValue), \(bind: key), \(bind: version), NULL, \(bind: now.millisecondsSinceEpoch))
                """).run()
            _ = try await Self.appendAudit(
                AuditEvent(kind: .recordDeleted, actor: "person", keys: [key], note: "deleted (version \(version))", at: now),
                for: person, on: db, kind: kind)
            try await Self.emitRecordChange(person: person, key: key, version: version, deleted: true, at: now, on: db)
        }
    }

    private static func nextVersion(person: PersonID, key: String, on db: any SQLDatabase) async throws -> Int64 {
        let row = try await db.raw("""
            SELECT MAX(version) AS v FROM record_versions WHERE person_id = \(bind: person.rawValue) AND key = \(bind: key)
            """).first()
        return (try row?.optional("v", as: Int64.self) ?? 0) + 1
    }

    /// The person's current records, optionally only `keys`, ordered by key.
    public func records(person: PersonID, keys: [String]? = nil) async throws -> [SealedRecord] {
        try await read { db in
            let rows: [any SQLRow]
            if let keys {
                if keys.isEmpty { return [] }
                rows = try await db.select().column("*").from("records")
                    .where("person_id", .equal, person.rawValue)
                    .where("key", .in, keys)
                    .orderBy("key").all()
            } else {
                rows = try await db.raw("SELECT * FROM records WHERE person_id = \(bind: person.rawValue) ORDER BY key").all()
            }
            return try rows.map { row in
                SealedRecord(
                    key: try row.decode(column: "key", as: String.self),
                    version: try row.decode(column: "version", as: Int64.self),
                    ciphertext: try row.decode(column: "ciphertext", as: Data.self),
                    changedAt: try row.timestamp("updated_at")
                )
            }
        }
    }

    /// Every version of one record, oldest first (deletions have no ciphertext).
    /// Every key the person has ever held a record under, deleted ones included.
    public func recordKeysEverHeld(by person: PersonID) async throws -> [String] {
        try await read { db in
            try await db.raw("SELECT DISTINCT key FROM record_versions WHERE person_id = \(bind: person.rawValue) ORDER BY key").all()
                .map { try $0.decode(column: "key", as: String.self) }
        }
    }

    public func recordHistory(person: PersonID, key: String) async throws -> [SealedRecord] {
        try await read { db in
            try await db.raw("""
                SELECT * FROM record_versions WHERE person_id = \(bind: person.rawValue) AND key = \(bind: key) ORDER BY version
                """).all().map { row in
                SealedRecord(
                    key: key,
                    version: try row.decode(column: "version", as: Int64.self),
                    ciphertext: try row.optional("ciphertext", as: Data.self),
                    changedAt: try row.timestamp("changed_at")
                )
            }
        }
    }
}
