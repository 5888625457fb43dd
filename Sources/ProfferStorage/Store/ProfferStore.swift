import Foundation
import Logging
import PostgresNIO
import ProfferCore
import SQLKit

/// All persistent state of Proffer, over either SQL engine. Reads go to reader connections; every
/// write goes through the group-commit `WriteQueue` as one transaction that also appends the audit entries
/// it causes, so a change and its audit record are committed together or not at all.
public struct ProfferStore: Sendable {
    public let engine: any DatabaseEngine
    let writes: WriteQueue
    let disclosures: DisclosureBatcher
    /// Only with SQLite, where this process is the only writer; other PostgreSQL instances could change records.
    let recordCache: RecordCache?
    /// The operator's share of every payment for data.
    public let fees: FeePolicy

    public init(engine: any DatabaseEngine, fees: FeePolicy = .standard) {
        self.engine = engine
        self.fees = fees
        self.writes = WriteQueue(engine: engine)
        let recordCache = engine.kind == .sqlite ? RecordCache() : nil
        self.recordCache = recordCache
        self.disclosures = DisclosureBatcher(writes: writes, kind: engine.kind, recordCache: recordCache, fees: fees)
    }

    /// Opens the database, applies pending migrations, and returns a ready store.
    public static func open(_ location: DatabaseLocation, synchronous: SQLiteSynchronous = .normal, fees: FeePolicy = .standard,
                            logger: Logger) async throws -> ProfferStore {
        let engine = try await openDatabase(location, synchronous: synchronous, logger: logger)
        do {
            try await Migrator.migrate(engine)
        } catch {
            await engine.shutdown()
            throw error
        }
        return ProfferStore(engine: engine, fees: fees)
    }

    /// The schema version this build migrates to.
    public static var latestSchemaVersion: Int { Migrator.latestVersion }

    public func shutdown() async {
        await engine.shutdown()
    }

    var kind: EngineKind { engine.kind }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await engine.read(body)
    }

    /// Runs a write job. A unique-constraint violation means another writer (another instance, on PostgreSQL)
    /// got there between this job's checks and its insert; it becomes a conflict, never a server error.
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        do {
            return try await writes.write(body)
        } catch where Self.isUniqueViolation(error) {
            throw DomainError.conflict("a concurrent change to the same data came first, so nothing was changed; retry")
        }
    }

    static func isUniqueViolation(_ error: any Error) -> Bool {
        // On SQLite every write goes through the engine's own write connection (the SQLiteNIO ones only read).
        if let error = error as? SQLiteWriteError { return error.isUniqueViolation }
        if let error = error as? PSQLError {
            return error.serverInfo?[.sqlState] == "23505"
        }
        return false
    }
}

// MARK: - Column helpers shared by the repositories

extension SQLRow {
    func optional<T: Decodable>(_ column: String, as type: T.Type = T.self) throws -> T? {
        try decodeNil(column: column) ? nil : decode(column: column, as: T.self)
    }

    func timestamp(_ column: String) throws -> Timestamp {
        Timestamp(millisecondsSinceEpoch: try decode(column: column, as: Int64.self))
    }

    func optionalTimestamp(_ column: String) throws -> Timestamp? {
        try optional(column, as: Int64.self).map(Timestamp.init(millisecondsSinceEpoch:))
    }

    func stringList(_ column: String) throws -> [String] {
        try JSONColumn.decode([String].self, try decode(column: column, as: String.self))
    }
}

/// Small lists (keys, third parties) are kept as JSON text, the same on both engines.
enum JSONColumn {
    static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(value)).flatMap { String(data: $0, encoding: .utf8) } ?? "[]"
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw StorageError.corrupt("a stored JSON column could not be read")
        }
    }
}
