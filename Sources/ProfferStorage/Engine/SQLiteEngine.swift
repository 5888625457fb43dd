import Glibc
import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO
import Synchronization

/// SQLite in WAL mode: one connection for writes (SQLite allows one writer at a time anyway),
/// a few read-only connections for concurrent reads, and one that checkpoints the WAL in the background
/// so that no commit on the write path pays for a checkpoint's copying and fsync.
///
/// A background checkpoint alone never lets the WAL start over under steady writes: SQLite rewinds the WAL only when
/// a write transaction begins with every frame already copied back, and the writer keeps appending while the
/// checkpointer copies. So once the WAL has grown past its bound, the write pipeline finishes the background pass's
/// job between two transactions (`betweenWrites`), copying the few frames added meanwhile; the next transaction then
/// reuses the WAL from its start. Only a checkpoint that empties the WAL makes SQLite flush the database file, so the
/// background pass flushes what it copied itself, leaving that finishing step little to wait for.
final class SQLiteEngine: DatabaseEngine {
    let kind = EngineKind.sqlite
    /// Runs its statements on the write pipeline's own thread (see `SQLiteWriteConnection`).
    private let writer: SQLiteWriteConnection
    /// The checkpointer's thread, for its copying and flushing, so that slow I/O never holds up readers' queries.
    private let checkpointPool: NIOThreadPool
    private let readers: [SQLiteConnection]
    private let checkpointer: SQLiteConnection
    private let databaseFile: DatabaseFile
    private let checkpointTask: Task<Void, Never>
    /// What the background task does every `checkpointInterval` (a second unless a test says otherwise). Each pass
    /// copies every page written since the last one once, however often it was written meanwhile: every disclosure
    /// writes a page of the audit log's key, and the longer the interval, the more of them are the same page. At half
    /// a second the checkpointer spent ~3 µs per disclosure, at a second ~2 (BENCHMARKS.md, run 13); the WAL's
    /// length is bounded by `walBytesLimit` either way.
    let checkpointPass: CheckpointPass
    /// Set by a background checkpoint pass that found the WAL too long, cleared by the pipeline's finishing pass.
    private let finishCheckpoint = Flag()
    /// How large the WAL may grow under steady writes before the pipeline makes it start over: 512 MiB. Each start-over
    /// stalls the pipeline for a few milliseconds (the finishing step's flushes); at 64 MiB that came twice a second
    /// under full load and put the 99th percentile over 20 ms, and at 256 MiB, once disclosures passed ~17,000/s, every
    /// three seconds or so with p99 at 22–32 ms (BENCHMARKS.md, run 10). A longer WAL costs disk space and a moment at
    /// start-up (SQLite reads it back to rebuild its index), nothing per query.
    static let walBytesLimit = 512 << 20
    /// The same bound in WAL frames (a 4 KiB page and its 24-byte header each).
    static let defaultWALFramesBeforeRestart = walBytesLimit / (4_096 + 24)

    private init(writer: SQLiteWriteConnection, readers: [SQLiteConnection], checkpointer: SQLiteConnection, checkpointPool: NIOThreadPool,
                 databaseFile: DatabaseFile, walFramesBeforeRestart: Int, checkpointInterval: Duration, logger: Logger) {
        self.writer = writer
        self.checkpointPool = checkpointPool
        self.readers = readers
        self.checkpointer = checkpointer
        self.databaseFile = databaseFile
        let pass = CheckpointPass(checkpointer: checkpointer, pool: checkpointPool, databaseFile: databaseFile, finish: finishCheckpoint,
                                  walFramesBeforeRestart: walFramesBeforeRestart)
        self.checkpointPass = pass
        self.checkpointTask = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: checkpointInterval)
                do {
                    _ = try await pass.run()
                } catch where !Task.isCancelled {
                    logger.warning("WAL checkpoint failed; will retry", metadata: ["error.type": "\(type(of: error))"])
                } catch {
                    return  // shutting down
                }
            }
        }
    }

    static func open(path: String, synchronous: SQLiteSynchronous, readerCount: Int = 4,
                     walFramesBeforeRestart: Int = defaultWALFramesBeforeRestart, checkpointInterval: Duration = .seconds(1),
                     logger: Logger) async throws -> SQLiteEngine {
        let checkpointPool = NIOThreadPool(numberOfThreads: 1)
        checkpointPool.start()
        // What is open so far, closed again if a later step fails (a bad path, a locked or corrupt file).
        var opened: [SQLiteConnection] = []
        var openedWriter: SQLiteWriteConnection?
        var databaseFile: DatabaseFile?
        do {
            let writer = try SQLiteWriteConnection.open(path: path, logger: logger)
            openedWriter = writer
            let file = try DatabaseFile(path: path)
            databaseFile = file
            try await configureWriter(writer.sql(), synchronous: synchronous)
            var readers: [SQLiteConnection] = []
            for _ in 0..<readerCount {
                let reader = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
                opened.append(reader)
                try await reader.sql(queryLogLevel: nil).raw("PRAGMA query_only=ON").run()
                readers.append(reader)
            }
            let checkpointer = try await SQLiteConnection.open(storage: .file(path: path), threadPool: checkpointPool, logger: logger,
                                                               on: MultiThreadedEventLoopGroup.singleton.any())
            opened.append(checkpointer)
            try await checkpointer.sql(queryLogLevel: nil).raw(SQLQueryString("PRAGMA synchronous=" + synchronous.rawValue)).run()
            return SQLiteEngine(writer: writer, readers: readers, checkpointer: checkpointer, checkpointPool: checkpointPool,
                                databaseFile: file, walFramesBeforeRestart: walFramesBeforeRestart,
                                checkpointInterval: checkpointInterval, logger: logger)
        } catch {
            for connection in opened { try? await connection.close() }
            openedWriter?.close()
            databaseFile?.close()
            try? await checkpointPool.shutdownGracefully()
            throw error
        }
    }

    private static func configureWriter(_ db: any SQLDatabase, synchronous: SQLiteSynchronous) async throws {
        try await db.raw("PRAGMA journal_mode=WAL").run()
        try await db.raw(SQLQueryString("PRAGMA synchronous=" + synchronous.rawValue)).run()
        try await db.raw("PRAGMA foreign_keys=ON").run()
        // Deleted and overwritten content is zeroed in the file, not merely unlinked: an erased person's ciphertext,
        // email and wrapped key must not survive in free pages or free space inside pages.
        try await db.raw("PRAGMA secure_delete=ON").run()
        // Checkpoints happen on the checkpointer's connection instead of inside commits.
        try await db.raw("PRAGMA wal_autocheckpoint=0").run()
        // When the WAL starts over, a file grown well past its bound by a burst is cut back (to twice the bound: a
        // file only a little over it is reused as it is, since cutting it frees its blocks only for the next round of
        // writes to allocate them again, and the freeing made the commit that started the WAL over wait on the disk).
        try await db.raw(SQLQueryString("PRAGMA journal_size_limit=" + String(2 * walBytesLimit))).run()
        // The pages every write revisits (each person's audit head and latest entries, grant states) stay in memory
        // instead of being read back from the file at each batch: 8 MiB, four times SQLite's default. Not more: when
        // a page split renumbers pages, SQLite parks one at the lock-byte page's number, far past the end of the
        // file, and the commit then walks the whole page cache to drop pages past the end — per batch, a walk over
        // every cached page. With 32 MiB that walk cost a priced disclosure ~9 µs of the write pipeline's time.
        try await db.raw("PRAGMA cache_size=-8192").run()
        // A multi-row statement inside a transaction first copies each existing page it changes to a statement
        // journal (so that it alone can be undone); past 64 KiB that journal spills to a temporary file, written
        // with a system call per page. In memory instead: a priced batch spent a tenth of its time there.
        try await db.raw("PRAGMA temp_store=MEMORY").run()
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        guard let reader = readers.randomElement() else { return try await body(writer.sql()) }
        return try await body(reader.sql(queryLogLevel: nil))
    }

    func withWriteConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await body(writer.sql())
    }

    func betweenWrites() async {
        guard finishCheckpoint.lower() else { return }
        // Copies what the background pass left behind; a busy or failed attempt is simply retried after the next pass.
        _ = try? await writer.sql().raw("PRAGMA wal_checkpoint(PASSIVE)").run()
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
        for connection in readers + [checkpointer] {
            try? await connection.close()
        }
        writer.close()
        try? await checkpointPool.shutdownGracefully()
        databaseFile.close()
    }
}

/// One background checkpoint pass: PASSIVE never blocks the writer or readers; it copies what it can and leaves the
/// rest for next time. Then it flushes the database file, and asks the write pipeline to finish the job once the WAL
/// has grown past its bound (finishing stalls the pipeline for a moment, so below the bound it is left to light
/// traffic, which lets the WAL start over by itself).
///
/// The pipeline's finishing step copies whatever the background pass left, and the pipeline waits for it. A pass over
/// a long WAL takes a while, and the writer keeps appending meanwhile, so past the bound the pass goes round again at
/// once until what is left is small (`framesLeftToFinish`) — each round copies what the last one let pile up, a
/// shrinking remainder — and only then asks the pipeline to finish. The finishing step flushes the WAL to disk before
/// copying (SQLite's rule for a checkpoint), so what it waits for is the writing out of every frame appended since the
/// last round: a whole pass's worth of commits made that wait tens of milliseconds, which showed in the 99th percentile.
struct CheckpointPass: Sendable {
    fileprivate let checkpointer: SQLiteConnection
    fileprivate let pool: NIOThreadPool
    fileprivate let databaseFile: DatabaseFile
    fileprivate let finish: Flag
    let walFramesBeforeRestart: Int
    /// Frames a finishing step may be left to copy (1 MiB). It flushes the WAL before copying, and the pipeline waits
    /// for that flush: the fewer frames written since the last round flushed it, the shorter the wait.
    static let framesLeftToFinish = 256
    /// Rounds at most before the pipeline is asked to finish whatever is left (a reader holding an old snapshot can
    /// keep every round from copying the newest frames).
    static let rounds = 8

    /// Returns the number of frames the WAL held.
    func run() async throws -> Int {
        var frames = 0
        for _ in 0..<Self.rounds {
            let result = try await checkpointer.sql(queryLogLevel: nil).raw("PRAGMA wal_checkpoint(PASSIVE)").first()
            try await databaseFile.flush(on: pool)
            frames = try result?.decode(column: "log", as: Int.self) ?? 0
            let copied = try result?.decode(column: "checkpointed", as: Int.self) ?? 0
            if frames <= walFramesBeforeRestart { return frames }
            if frames - copied <= Self.framesLeftToFinish { break }
        }
        finish.raise()
        return frames
    }
}

/// A flag one task raises and another lowers.
private final class Flag: Sendable {
    private let raised = Atomic<Bool>(false)

    func raise() { raised.store(true, ordering: .releasing) }

    /// Lowers the flag; whether it was raised.
    func lower() -> Bool { raised.exchange(false, ordering: .acquiring) }
}

/// The database file, held open to flush it (`fdatasync`) after background checkpoints. Opened once and closed only
/// after every connection: closing any descriptor of the file would drop the POSIX locks SQLite holds on it.
private struct DatabaseFile: Sendable {
    private let descriptor: Int32

    init(path: String) throws {
        descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw StorageError.unreachable("cannot open the database file to flush it (errno \(errno))") }
    }

    /// Waits, on a thread of `pool`, until what was written to the file is on disk.
    func flush(on pool: NIOThreadPool) async throws {
        let descriptor = self.descriptor
        try await pool.runIfActive {
            guard fdatasync(descriptor) == 0 else { throw StorageError.unreachable("flushing the database file failed (errno \(errno))") }
        }
    }

    func close() { _ = Glibc.close(descriptor) }
}
