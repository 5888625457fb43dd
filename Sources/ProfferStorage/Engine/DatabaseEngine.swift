import Logging
import SQLKit

/// Which SQL engine is behind a store; the few dialect differences are looked up here.
public enum EngineKind: String, Sendable {
    case sqlite, postgres

    /// Opens a write transaction; SQLite takes the write lock at once so a transaction never
    /// fails half-way on a lock upgrade.
    var beginTransaction: String { self == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN" }
    /// Row lock for read-modify-write on PostgreSQL (SQLite's single writer already excludes others).
    var forUpdate: String { self == .sqlite ? "" : " FOR UPDATE" }
    /// Shared row lock on PostgreSQL: others may read and share-lock the row, but not change it until commit.
    var forShare: String { self == .sqlite ? "" : " FOR SHARE" }
    var blobType: String { self == .sqlite ? "BLOB" : "BYTEA" }
    var bigintType: String { self == .sqlite ? "INTEGER" : "BIGINT" }
    /// The number a new person gets (migrations 13 and 14): on SQLite, whose one writer inserts people one at a
    /// time, the highest so far plus one; on PostgreSQL, whose writers run concurrently, the next of a sequence.
    var nextPersonNumber: String {
        self == .sqlite ? "(SELECT COALESCE(MAX(number), 0) + 1 FROM people)" : "nextval('people_number_seq')"
    }
}

/// A connection provider for one database: many readers, one write connection.
public protocol DatabaseEngine: Sendable {
    var kind: EngineKind { get }
    /// Runs a read-only unit of work on some reader connection.
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// Runs `body` with the connection reserved for writes; the caller manages the transaction.
    func withWriteConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// Folds committed changes into the database file and empties the write-ahead log, so that bytes deleted by
    /// an erasure linger in neither. Returns false when readers kept it from finishing. Nothing to do on PostgreSQL,
    /// whose dead row versions no dump or query can read and which VACUUM reclaims.
    func checkpoint() async throws -> Bool
    /// Called by the write queue after a batch's commit, before the next batch's transaction: housekeeping that must
    /// not overlap a write transaction (SQLite finishes a WAL checkpoint here). Never fails a write.
    func betweenWrites() async
    func shutdown() async
}

/// Where the data lives, parsed from configuration.
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(url: String)

    /// `postgres://` / `postgresql://` URLs select PostgreSQL; anything else is an SQLite file path
    /// (an optional `sqlite://` prefix is stripped).
    public init(_ text: String) {
        if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            self = .postgres(url: text)
        } else if text.hasPrefix("sqlite://") {
            self = .sqlite(path: String(text.dropFirst("sqlite://".count)))
        } else {
            self = .sqlite(path: text)
        }
    }

    /// Safe to log: never includes a password.
    public var description: String {
        switch self {
        case .sqlite(let path):
            return "sqlite \(path)"
        case .postgres(let url):
            guard let parts = URLParts(url) else { return "postgres (unparseable URL)" }
            return "postgres \(parts.redacted)"
        }
    }
}

/// Durability of SQLite commits: NORMAL survives process crashes (kill -9) in WAL mode,
/// FULL also survives power loss.
public enum SQLiteSynchronous: String, Sendable, CaseIterable {
    case normal = "NORMAL", full = "FULL"
}

/// Opens the engine for a location.
public func openDatabase(_ location: DatabaseLocation, synchronous: SQLiteSynchronous = .normal, logger: Logger) async throws -> any DatabaseEngine {
    switch location {
    case .sqlite(let path):
        return try await SQLiteEngine.open(path: path, synchronous: synchronous, logger: logger)
    case .postgres(let url):
        return try await PostgresEngine.open(url: url, logger: logger)
    }
}
