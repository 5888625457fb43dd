import Foundation
import SQLKit

/// One numbered schema change. Statements are written once, with `{BLOB}` and `{BIGINT}` standing for
/// the engine's own type names, and `{WITHOUT_ROWID}` for SQLite's clustered tables (nothing on PostgreSQL).
/// A migration `only` for one engine is recorded as applied on the other without running anything there.
/// `then`, when a change cannot be written as fixed statements, runs after them in the same transaction.
struct Migration: Sendable {
    let version: Int
    let name: String
    let statements: [String]
    var only: EngineKind? = nil
    var then: (@Sendable (any SQLDatabase, EngineKind) async throws -> Void)? = nil

    /// Whether it changes anything on `kind` (else it is only recorded as applied).
    func applies(to kind: EngineKind) -> Bool { only == nil || only == kind }

    func sql(for kind: EngineKind) -> [String] {
        guard applies(to: kind) else { return [] }
        return statements.map {
            $0.replacingOccurrences(of: "{BLOB}", with: kind.blobType)
                .replacingOccurrences(of: "{BIGINT}", with: kind.bigintType)
                .replacingOccurrences(of: "{WITHOUT_ROWID}", with: kind == .sqlite ? " WITHOUT ROWID" : "")
        }
    }
}

/// Applies pending migrations in order, each in its own transaction, recording them in `schema_migrations`.
public enum Migrator {
    static let all: [Migration] = [
        Migration0001CreatePeople.migration,
        Migration0002CreateRecords.migration,
        Migration0003CreateOrganisations.migration,
        Migration0004CreateRequestsAndGrants.migration,
        Migration0005CreateAudit.migration,
        Migration0006CreateTermsRulesReceipts.migration,
        Migration0007CreateLedger.migration,
        Migration0008AddPrices.migration,
        Migration0009CreateWebhooks.migration,
        Migration0010AddErasure.migration,
        Migration0011LinkChargesFromAudit.migration,
        Migration0012DeriveAuditHeadsOnSQLite.migration,
        Migration0013NumberPeopleForTheAuditLog.migration,
        Migration0014NumberPeopleFromASequenceOnPostgreSQL.migration,
        Migration0015AuditEntriesWithoutForeignKey.migration,
        Migration0016FindClosedAccounts.migration,
        Migration0017IndexOnlyWalletLegs.migration,
    ]

    /// The version of every migration this build knows, in order.
    public static var knownVersions: [Int] { all.map(\.version) }

    /// The newest schema version this build knows.
    public static var latestVersion: Int { all.last?.version ?? 0 }

    /// Brings the schema up to date; returns the versions applied. Refuses a database newer than this build.
    @discardableResult
    public static func migrate(_ engine: any DatabaseEngine, upTo target: Int = .max) async throws -> [Int] {
        let kind = engine.kind
        return try await engine.withWriteConnection { db in
            try await db.raw("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at \(unsafeRaw: kind.bigintType) NOT NULL)
                """).run()
            let applied = Set(try await db.raw("SELECT version FROM schema_migrations").all().map { try $0.decode(column: "version", as: Int.self) })
            if let newest = applied.max(), newest > latestVersion {
                throw StorageError.badConfiguration("the database schema is version \(newest), newer than this build's \(latestVersion); upgrade Proffer")
            }
            var done: [Int] = []
            for migration in all where !applied.contains(migration.version) && migration.version <= target {
                try await db.raw(SQLQueryString(kind.beginTransaction)).run()
                do {
                    for statement in migration.sql(for: kind) {
                        try await db.raw(SQLQueryString(statement)).run()
                    }
                    if migration.applies(to: kind) { try await migration.then?(db, kind) }
                    try await db.raw("INSERT INTO schema_migrations (version, name, applied_at) VALUES (\(bind: migration.version), \(bind: migration.name), \(bind: Int64(Date.now.timeIntervalSince1970 * 1000)))").run()
                    try await db.raw("COMMIT").run()
                } catch {
                    try? await db.raw("ROLLBACK").run()
                    throw error
                }
                done.append(migration.version)
            }
            return done
        }
    }
}
