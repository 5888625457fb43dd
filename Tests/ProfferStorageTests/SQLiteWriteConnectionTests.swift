import Foundation
import NIOCore
import SQLKit
import SQLiteKit
import SQLiteNIO
import Testing
@testable import ProfferStorage
import ProfferTestSupport

/// The SQLite engine's own write connection (SQLite's C API, statements kept prepared): values of every storage class
/// go in and come back unchanged, a kept statement answers each use with that use's binds, a failed statement leaves
/// nothing half done and the connection usable, and constraint failures are recognised as such.
@Suite struct SQLiteWriteConnectionTests {
    @Test func valuesOfEveryKindRoundTrip() async throws {
        try await Self.withConnection { db in
            try await db.raw("CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT, amount REAL, body BLOB, note TEXT)").run()
            let body = Data([0x00, 0xFF, 0x10, 0x00, 0x7F])
            // Text with a NUL inside and outside ASCII: read back by length, not up to the first NUL.
            let label = "pr\u{0}ix — 価格 ✓"
            try await db.raw("INSERT INTO items (id, label, amount, body, note) VALUES (\(bind: 7), \(bind: label), \(bind: 2.5), \(bind: body), \(bind: String?.none))").run()
            let row = try #require(try await db.raw("SELECT id, label, amount, body, note FROM items").first())
            #expect(row.allColumns == ["id", "label", "amount", "body", "note"])
            #expect(try row.decode(column: "id", as: Int64.self) == 7)
            #expect(try row.decode(column: "label", as: String.self) == label)
            #expect(try row.decode(column: "amount", as: Double.self) == 2.5)
            #expect(try row.decode(column: "body", as: Data.self) == body)
            #expect(try row.decodeNil(column: "note"))
            #expect(try row.decode(column: "note", as: String?.self) == nil)
            #expect(throws: (any Error).self) { try row.decode(column: "missing", as: String.self) }
        }
    }

    /// A database the server creates holds people's data: its file, WAL and shared memory are its owner's alone,
    /// whatever the umask (the test process's is the usual 022).
    @Test func aNewDatabaseIsReadableByItsOwnerOnly() async throws {
        let database = try await TestDatabase.make(.sqlite)
        guard case .sqlite(let path) = database.location else { Issue.record("not an SQLite location"); return }
        try await database.withStore { store in
            _ = try await StoreContractTests.makePerson(store)
            for file in [path, path + "-wal", path + "-shm"] {
                let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
                #expect(mode == 0o600, "\(file): \(String(mode ?? 0, radix: 8))")
            }
        }
    }

    @Test func bindsAreConvertedAsSQLiteKitConvertsThem() throws {
        let encoder = SQLiteDataEncoder()
        let values: [any Encodable & Sendable] = ["text", Int64.max, Int64.min, 42, String?.none, Optional("wrapped"), Int64?.some(-7),
                                                  2.5, Data([1, 2]), true, Int32(9)]
        for value in values {
            #expect(try SQLiteWriteDatabase.data(value, encoder: encoder) == encoder.encode(value), "\(value)")
        }
    }

    @Test func rowsInsertedAsTextAndTypedBindsComeBackAsWritten() async throws {
        try await Self.withConnection { db in
            try await db.raw("CREATE TABLE rows (label TEXT, amount INTEGER, body BLOB, note TEXT)").run()
            var insert = RowsInsert(into: "rows", columns: ["label", "amount", "body", "note"])
            insert.append([.text("first — ✓"), .integer(Int64.min), .blob(Data([0, 255])), .text(nil)])
            insert.append([.text("second"), .integer(nil), .blob(nil), .text("note")])
            // An empty text is bound as text, not NULL; a NUL inside a text is kept (bound by length, not as a C string).
            insert.append([.text(""), .integer(7), .blob(Data()), .text("a\u{0}b")])
            #expect(insert.sqlite.sql == "INSERT INTO rows (label, amount, body, note) VALUES (?, ?, ?, ?), (?, ?, ?, ?), (?, ?, ?, ?)")
            try await db.execute(sql: insert) { _ in }
            let rows = try await db.raw("SELECT label, amount, body, note FROM rows ORDER BY rowid").all()
            #expect(try rows.map { try $0.decode(column: "label", as: String?.self) } == ["first — ✓", "second", ""])
            #expect(try rows.map { try $0.decode(column: "amount", as: Int64?.self) } == [Int64.min, nil, 7])
            #expect(try rows.map { try $0.decode(column: "body", as: Data?.self) }.prefix(2) == [Data([0, 255]), nil])
            #expect(try rows.map { try $0.decode(column: "note", as: String?.self) } == [nil, "note", "a\u{0}b"])
            let kinds = try await db.raw("SELECT typeof(label) AS kind, length(CAST(note AS BLOB)) AS size FROM rows WHERE amount = 7").all()
            #expect(try kinds.map { try $0.decode(column: "kind", as: String.self) } == ["text"])
            #expect(try kinds.map { try $0.decode(column: "size", as: Int.self) } == [3])
            // Serialised through sql-kit (as on PostgreSQL): the same statement in the dialect's placeholders, one bind per value.
            var serializer = SQLSerializer(database: db)
            insert.serialize(to: &serializer)
            #expect(serializer.sql == "INSERT INTO rows (label, amount, body, note) VALUES (?1, ?2, ?3, ?4), (?5, ?6, ?7, ?8), (?9, ?10, ?11, ?12)")
            #expect(serializer.binds.count == 12)
        }
    }

    @Test func aKeptStatementAnswersEachUseWithItsOwnBinds() async throws {
        try await Self.withConnection { db in
            try await db.raw("CREATE TABLE numbers (n INTEGER PRIMARY KEY)").run()
            for n in 1...20 { try await db.raw("INSERT INTO numbers (n) VALUES (\(bind: n))").run() }
            for limit in [3, 17, 0, 20] {
                // The same SQL each time: the statement is reused, reset and rebound.
                let rows = try await db.raw("SELECT n FROM numbers WHERE n <= \(bind: limit) ORDER BY n").all()
                #expect(try rows.map { try $0.decode(column: "n", as: Int.self) } == Array(stride(from: 1, through: limit, by: 1)))
            }
        }
    }

    @Test func aFailedStatementChangesNothingAndTheConnectionGoesOn() async throws {
        try await Self.withConnection { db in
            try await db.raw("CREATE TABLE keys (k TEXT PRIMARY KEY)").run()
            try await db.raw("INSERT INTO keys (k) VALUES (\(bind: "a"))").run()
            // A multi-row insert whose second row collides: the whole statement is undone, the first row included.
            do {
                try await db.raw("INSERT INTO keys (k) VALUES (\(bind: "b")), (\(bind: "a"))").run()
                Issue.record("a duplicate primary key was accepted")
            } catch {
                #expect(ProfferStore.isUniqueViolation(error), "a primary-key collision is recognised as one: \(error)")
            }
            do {
                try await db.raw("INSERT INTO nowhere (k) VALUES (1)").run()
                Issue.record("an insert into a missing table succeeded")
            } catch {
                #expect(!ProfferStore.isUniqueViolation(error))
                #expect("\(error)".contains("no such table"))
            }
            // The statement that failed is reused with other binds and works.
            try await db.raw("INSERT INTO keys (k) VALUES (\(bind: "c")), (\(bind: "d"))").run()
            let keys = try await db.raw("SELECT k FROM keys ORDER BY k").all().map { try $0.decode(column: "k", as: String.self) }
            #expect(keys == ["a", "c", "d"])
        }
    }

    @Test func aClosedConnectionRefusesStatements() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("proffer-writer-\(UUID().uuidString.prefix(12))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let connection = try SQLiteWriteConnection.open(path: directory.appendingPathComponent("w.sqlite").path, logger: TestDatabase.logger)
        connection.close()
        await #expect(throws: SQLiteWriteError.self) {
            try await connection.sql().raw("SELECT 1 AS one").run()
        }
    }

    static func withConnection(_ body: (any SQLDatabase) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("proffer-writer-\(UUID().uuidString.prefix(12))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let connection = try SQLiteWriteConnection.open(path: directory.appendingPathComponent("w.sqlite").path, logger: TestDatabase.logger)
        defer { connection.close() }
        try await body(connection.sql())
    }
}
