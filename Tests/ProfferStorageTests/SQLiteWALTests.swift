import Foundation
import SQLKit
import SQLiteKit
import Testing
@testable import ProfferStorage
import ProfferTestSupport

/// The SQLite engine's write-ahead log under steady writes: it must start over rather than grow without bound.
/// And opening a file that is not a database fails cleanly.
///
/// SQLite rewinds the WAL only when a write transaction begins with every frame already copied back. Under steady
/// writes the background checkpoint never sees that (a commit always lands while it copies), so the write pipeline
/// finishes the checkpoint between two transactions once the WAL has passed its bound. The test plays that race out
/// step by step instead of by timing: a reader's open snapshot keeps a background pass from copying everything, as a
/// commit landing during the pass would.
@Suite struct SQLiteWALTests {
    static let row = Data(repeating: 0xA5, count: 4_000)

    @Test func theWALStartsOverOncePastItsBoundEvenWhenCommitsFollowEachCheckpoint() async throws {
        try await Self.withEngine(walFramesBeforeRestart: 100) { engine, writes, directory in
            let grown = try await Self.growWALPastAnIncompleteBackgroundPass(engine, writes, directory)
            #expect(grown >= 320, "40 commits of eight 4 kB rows should fill at least 320 frames, not \(grown)")

            try await Self.commitEightPages(writes)  // the WAL is not fully copied, so this one appends; the pipeline then finishes
            try await Self.commitEightPages(writes)  // begins on a fully copied WAL, so it starts it over
            let afterwards = try await engine.checkpointPass.run()
            #expect(afterwards < 40, "the WAL held \(afterwards) frames after starting over (was \(grown))")

            let count = try await engine.read { db in try await db.raw("SELECT COUNT(*) AS n FROM blobs").first()?.decode(column: "n", as: Int.self) }
            #expect(count == 42 * 8, "every acknowledged row is there")
        }
    }

    @Test func aPassThatCopiesEverythingAlsoLetsTheWALStartOver() async throws {
        try await Self.withEngine(walFramesBeforeRestart: 100) { engine, writes, _ in
            for _ in 0..<20 { try await Self.commitEightPages(writes) }
            // Nothing holds the pass back: it copies every frame in its first round, and past the bound it still asks
            // the pipeline to finish (only a transaction can start the WAL over).
            let grown = try await engine.checkpointPass.run()
            #expect(grown >= 160)
            try await Self.commitEightPages(writes)  // appends, then the pipeline finishes
            try await Self.commitEightPages(writes)  // starts the WAL over
            let afterwards = try await engine.checkpointPass.run()
            #expect(afterwards < 40, "the WAL held \(afterwards) frames after starting over (was \(grown))")
        }
    }

    @Test func belowItsBoundTheWALIsLeftToGrowWithoutStallingWrites() async throws {
        try await Self.withEngine(walFramesBeforeRestart: 100_000) { engine, writes, directory in
            let grown = try await Self.growWALPastAnIncompleteBackgroundPass(engine, writes, directory)
            try await Self.commitEightPages(writes)
            try await Self.commitEightPages(writes)
            let afterwards = try await engine.checkpointPass.run()
            #expect(afterwards > grown, "no finishing pass was asked for, so the WAL kept growing (\(grown) → \(afterwards) frames)")
        }
    }

    @Test func aFileThatIsNotADatabaseIsRefusedAndNothingIsLeftOpen() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("proffer-wal-\(UUID().uuidString.prefix(12))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("garbage.sqlite").path
        try Data(repeating: 0x5A, count: 8_192).write(to: URL(fileURLWithPath: path))
        // The write connection opens (SQLite reads lazily) and then its first statement fails; what was opened so far is
        // closed again (an unclosed SQLiteNIO connection would trip its check when released).
        await #expect(throws: (any Error).self) {
            _ = try await SQLiteEngine.open(path: path, synchronous: .normal, logger: TestDatabase.logger)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(repeating: 0x5A, count: 8_192), "the file is left as it was")
    }

    /// Runs `body` with an engine whose background task stays out of the way (the test runs the passes itself), then
    /// shuts it down and removes its files, whether or not `body` threw.
    static func withEngine(walFramesBeforeRestart: Int, _ body: (SQLiteEngine, WriteQueue, URL) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("proffer-wal-\(UUID().uuidString.prefix(12))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let engine = try await SQLiteEngine.open(path: directory.appendingPathComponent("wal.sqlite").path, synchronous: .normal,
                                                 walFramesBeforeRestart: walFramesBeforeRestart, checkpointInterval: .seconds(3600),
                                                 logger: TestDatabase.logger)
        do {
            let writes = WriteQueue(engine: engine)
            try await writes.write { db in try await db.raw("CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB NOT NULL)").run() }
            try await body(engine, writes, directory)
            await engine.shutdown()
        } catch {
            await engine.shutdown()
            throw error
        }
    }

    /// Forty commits, with a reader holding a snapshot taken after the first thirty while the background pass runs:
    /// the pass copies only what that reader's snapshot allows. Returns the frames the WAL held.
    static func growWALPastAnIncompleteBackgroundPass(_ engine: SQLiteEngine, _ writes: WriteQueue, _ directory: URL) async throws -> Int {
        for _ in 0..<30 { try await commitEightPages(writes) }
        let reader = try await SQLiteConnection.open(storage: .file(path: directory.appendingPathComponent("wal.sqlite").path),
                                                     logger: TestDatabase.logger)
        let snapshot = reader.sql(queryLogLevel: nil)
        try await snapshot.raw("BEGIN").run()
        _ = try await snapshot.raw("SELECT COUNT(*) AS n FROM blobs").first()
        for _ in 0..<10 { try await commitEightPages(writes) }
        let frames = try await engine.checkpointPass.run()
        try await snapshot.raw("COMMIT").run()
        try await reader.close()
        return frames
    }

    /// One commit of eight rows of 4 kB: at least eight new frames in the WAL.
    static func commitEightPages(_ writes: WriteQueue) async throws {
        try await writes.write { db in
            let insert = db.insert(into: "blobs").columns("body")
            for _ in 0..<8 { insert.values([row]) }
            try await insert.run()
        }
    }
}
