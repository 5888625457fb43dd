import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO

/// SQLite in WAL mode: one connection for writes (SQLite allows one writer at a time anyway),
/// a few read-only connections for concurrent reads.
final class SQLiteEngine: DatabaseEngine {
    let kind = EngineKind.sqlite
    private let writer: SQLiteConnection
    private let readers: [SQLiteConnection]

    private init(writer: SQLiteConnection, readers: [SQLiteConnection]) {
        self.writer = writer
        self.readers = readers
    }

    static func open(path: String, synchronous: SQLiteSynchronous, readerCount: Int = 4, logger: Logger) async throws -> SQLiteEngine {
        let writer = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        let writeDB = writer.sql(queryLogLevel: nil)
        try await writeDB.raw("PRAGMA journal_mode=WAL").run()
        try await writeDB.raw(SQLQueryString("PRAGMA synchronous=" + synchronous.rawValue)).run()
        try await writeDB.raw("PRAGMA foreign_keys=ON").run()
        var readers: [SQLiteConnection] = []
        for _ in 0..<readerCount {
            let reader = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
            try await reader.sql(queryLogLevel: nil).raw("PRAGMA query_only=ON").run()
            readers.append(reader)
        }
        return SQLiteEngine(writer: writer, readers: readers)
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let reader = readers.randomElement() ?? writer
        return try await body(reader.sql(queryLogLevel: nil))
    }

    func withWriteConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await body(writer.sql(queryLogLevel: nil))
    }

    func shutdown() async {
        for connection in readers + [writer] {
            try? await connection.close()
        }
    }
}
