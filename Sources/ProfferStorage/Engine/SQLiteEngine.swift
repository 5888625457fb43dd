import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO

/// SQLite in WAL mode: one connection for writes (SQLite allows one writer at a time anyway),
/// a few read-only connections for concurrent reads, and one that checkpoints the WAL in the background
/// so that no commit on the write path pays for a checkpoint's copying and fsync.
final class SQLiteEngine: DatabaseEngine {
    let kind = EngineKind.sqlite
    private let writer: SQLiteConnection
    private let readers: [SQLiteConnection]
    private let checkpointer: SQLiteConnection
    private let checkpointTask: Task<Void, Never>

    private init(writer: SQLiteConnection, readers: [SQLiteConnection], checkpointer: SQLiteConnection, logger: Logger) {
        self.writer = writer
        self.readers = readers
        self.checkpointer = checkpointer
        self.checkpointTask = Task {
            // PASSIVE never blocks the writer or readers; it copies what it can and leaves the rest for next time.
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(250))
                do {
                    try await checkpointer.sql(queryLogLevel: nil).raw("PRAGMA wal_checkpoint(PASSIVE)").run()
                } catch where !Task.isCancelled {
                    logger.warning("WAL checkpoint failed; will retry", metadata: ["error.type": "\(type(of: error))"])
                } catch {
                    return  // shutting down
                }
            }
        }
    }

    static func open(path: String, synchronous: SQLiteSynchronous, readerCount: Int = 4, logger: Logger) async throws -> SQLiteEngine {
        let writer = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        let writeDB = writer.sql(queryLogLevel: nil)
        try await writeDB.raw("PRAGMA journal_mode=WAL").run()
        try await writeDB.raw(SQLQueryString("PRAGMA synchronous=" + synchronous.rawValue)).run()
        try await writeDB.raw("PRAGMA foreign_keys=ON").run()
        // Deleted and overwritten content is zeroed in the file, not merely unlinked: an erased person's ciphertext,
        // email and wrapped key must not survive in free pages or free space inside pages.
        try await writeDB.raw("PRAGMA secure_delete=ON").run()
        // Checkpoints happen on the checkpointer's connection instead of inside commits.
        try await writeDB.raw("PRAGMA wal_autocheckpoint=0").run()
        var readers: [SQLiteConnection] = []
        for _ in 0..<readerCount {
            let reader = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
            try await reader.sql(queryLogLevel: nil).raw("PRAGMA query_only=ON").run()
            readers.append(reader)
        }
        let checkpointer = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        try await checkpointer.sql(queryLogLevel: nil).raw(SQLQueryString("PRAGMA synchronous=" + synchronous.rawValue)).run()
        return SQLiteEngine(writer: writer, readers: readers, checkpointer: checkpointer, logger: logger)
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let reader = readers.randomElement() ?? writer
        return try await body(reader.sql(queryLogLevel: nil))
    }

    func withWriteConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await body(writer.sql(queryLogLevel: nil))
    }

    func checkpoint() async throws -> Bool {
        // TRUNCATE waits for no writer and for every reader to be on the newest snapshot; without a busy handler it
        // answers busy at once instead, so it is retried for a while.
        for attempt in 0..<100 {
            if attempt > 0 { try await Task.sleep(for: .milliseconds(20)) }
            guard let row = try await checkpointer.sql(queryLogLevel: nil).raw("PRAGMA wal_checkpoint(TRUNCATE)").first() else { return false }
            if try row.decode(column: "busy", as: Int.self) == 0 { return true }
        }
        return false
    }

    func shutdown() async {
        checkpointTask.cancel()
        await checkpointTask.value
        // A last full checkpoint folds the WAL into the database file before closing.
        _ = try? await checkpointer.sql(queryLogLevel: nil).raw("PRAGMA wal_checkpoint(TRUNCATE)").run()
        for connection in readers + [writer, checkpointer] {
            try? await connection.close()
        }
    }
}
