import SQLKit

enum Migration0015AuditEntriesWithoutForeignKey {
    // The audit log's `person_id` no longer references `people`. Every entry is appended by the store for a person it
    // has just resolved — the disclosure batch through the person's number, which comes from `people` — and people are
    // never deleted (erasure keeps the row), so the check could never fail; yet on every insert it looked the person
    // up in `people`'s text key (SQLite: one more index seek per entry; PostgreSQL: a trigger and a locking read), on
    // the path every disclosure takes: ~3 µs of the server's CPU per disclosure on SQLite (BENCHMARKS.md, run 13).
    //
    // SQLite cannot drop a constraint with ALTER TABLE; removing a foreign key changes nothing stored, so its table
    // definition is edited in place, as SQLite documents for that case ("Making Other Kinds Of Table Schema Changes"):
    // rewrite the `CREATE TABLE` text in the schema table and bump the schema version so every connection reloads it.
    // No rows are copied.
    static let migration = Migration(version: 15, name: "audit entries without a foreign key to people", statements: [], then: dropForeignKey)

    static let constrained = "person_id TEXT NOT NULL REFERENCES people(id)"

    @Sendable static func dropForeignKey(on db: any SQLDatabase, kind: EngineKind) async throws {
        switch kind {
        case .postgres:
            // Named after the table it was created as (migration 13 renamed it); dropped by what it is, not its name.
            try await db.raw("""
                DO $$ DECLARE c text; BEGIN
                    FOR c IN SELECT conname FROM pg_constraint WHERE conrelid = 'audit_entries'::regclass AND contype = 'f' LOOP
                        EXECUTE format('ALTER TABLE audit_entries DROP CONSTRAINT %I', c);
                    END LOOP;
                END $$
                """).run()
        case .sqlite:
            let version = try await db.raw("PRAGMA schema_version").first()?.decode(column: "schema_version", as: Int.self)
            guard let version else { throw StorageError.corrupt("SQLite did not report its schema version") }
            try await db.raw("PRAGMA writable_schema=ON").run()
            try await db.raw("""
                UPDATE sqlite_master SET sql = replace(sql, \(bind: constrained), 'person_id TEXT NOT NULL')
                WHERE type = 'table' AND name = 'audit_entries'
                """).run()
            try await db.raw(SQLQueryString("PRAGMA schema_version=" + String(version + 1))).run()
            try await db.raw("PRAGMA writable_schema=OFF").run()
        }
        let left = try await foreignKeys(of: "audit_entries", on: db, kind: kind)
        guard left.isEmpty else {
            throw StorageError.corrupt("the audit log still has a foreign key after migration 15 (\(left.joined(separator: ", ")))")
        }
    }

    /// The tables a table's foreign keys refer to.
    static func foreignKeys(of table: String, on db: any SQLDatabase, kind: EngineKind) async throws -> [String] {
        switch kind {
        case .postgres:
            try await db.raw("""
                SELECT confrelid::regclass::text AS parent FROM pg_constraint WHERE conrelid = \(bind: table)::regclass AND contype = 'f'
                """).all().map { try $0.decode(column: "parent", as: String.self) }
        case .sqlite:
            try await db.raw("SELECT \"table\" AS parent FROM pragma_foreign_key_list(\(bind: table))").all()
                .map { try $0.decode(column: "parent", as: String.self) }
        }
    }
}
