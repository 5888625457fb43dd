import Foundation
import Glibc
import Logging
import NIOCore
import SQLKit
import SQLiteKit
import SQLiteNIO
import Synchronization
// SQLite's C API as SQLiteNIO builds it (its symbols carry a `sqlite_nio_` prefix): the same copy of the library
// every other connection of the process uses, which matters — two copies of SQLite in one process do not see each
// other's POSIX locks on the same file.
import VaporCSQLite

/// The SQLite engine's write connection, on SQLite's C API directly: each statement runs synchronously on the thread
/// that executes it — the write pipeline's own thread (`WriterThread`) — with prepared statements kept for reuse.
///
/// Why not SQLiteNIO, as the readers use: it runs every statement as a job on a thread pool and completes it on an event
/// loop, two thread hand-offs per statement, and prepares every statement afresh. A batch of the write pipeline runs
/// seven or more statements one after the other; under load each hand-off waited ~0.2 ms for a core, so most of a
/// batch's time went to waiting rather than to SQLite (see BENCHMARKS.md). Blocking the write pipeline's thread is what
/// it is for: nothing else runs there.
final class SQLiteWriteConnection: Sendable {
    private struct State: ~Copyable {
        var handle: OpaquePointer?
        /// Prepared statements by their SQL, reset and rebound for each use. Bounded: emptied when full.
        var statements: [String: OpaquePointer] = [:]
    }

    /// Statements longer than this are prepared, used once and finalized: large multi-row inserts rarely repeat exactly.
    private static let cachedSQLLimit = 4_096
    private static let cachedStatementLimit = 256

    private let state: Mutex<State>
    let logger: Logger

    private init(handle: sending OpaquePointer, logger: Logger) {
        self.state = Mutex(State(handle: handle))
        self.logger = logger
    }

    /// Opens (creating if missing) the database file for reading and writing. A new file is created readable by its
    /// owner only, whatever the process's umask: SQLite gives the WAL and shared-memory files the same mode.
    static func open(path: String, logger: Logger) throws -> SQLiteWriteConnection {
        let created = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if created >= 0 { Glibc.close(created) }
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_CREATE | SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_EXRESCODE
        let status = sqlite_nio_sqlite3_open_v2(path, &handle, flags, nil)
        guard status == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "cannot open"
            if let handle { sqlite_nio_sqlite3_close_v2(handle) }
            throw SQLiteWriteError(code: status, message: message)
        }
        // Another connection holding the write lock for a moment (a TRUNCATE checkpoint) is waited for, not an error.
        sqlite_nio_sqlite3_busy_timeout(handle, 60_000)
        return SQLiteWriteConnection(handle: handle, logger: logger)
    }

    /// This connection as an SQLKit database. Its statements run on the calling thread; the futures sql-kit asks for
    /// complete on the write pipeline's loop.
    func sql() -> any SQLDatabase {
        SQLiteWriteDatabase(connection: self, eventLoop: WriterThread.shared.loop)
    }

    /// Runs one statement to completion and returns its rows.
    func run(_ sql: String, _ binds: [SQLiteData]) throws -> [SQLiteWriteRow] {
        try state.withLock { state in
            guard let handle = state.handle else { throw SQLiteWriteError(code: SQLITE_MISUSE, message: "the write connection is closed") }
            let cache = sql.utf8.count <= Self.cachedSQLLimit
            var statement = cache ? state.statements[sql] : nil
            if statement == nil {
                var prepared: OpaquePointer?
                let status = sqlite_nio_sqlite3_prepare_v3(handle, sql, -1, cache ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0, &prepared, nil)
                guard status == SQLITE_OK, let prepared else { throw SQLiteWriteError(handle) }
                if cache {
                    if state.statements.count >= Self.cachedStatementLimit {
                        for kept in state.statements.values { sqlite_nio_sqlite3_finalize(kept) }
                        state.statements.removeAll(keepingCapacity: true)
                    }
                    state.statements[sql] = prepared
                }
                statement = prepared
            }
            guard let statement else { throw SQLiteWriteError(code: SQLITE_MISUSE, message: "no statement") }
            defer { if !cache { sqlite_nio_sqlite3_finalize(statement) } }
            return try Self.withBindings(binds, to: statement, handle: handle) {
                var columns: [String]?
                var rows: [SQLiteWriteRow] = []
                while true {
                    let status = sqlite_nio_sqlite3_step(statement)
                    if status == SQLITE_DONE { break }
                    guard status == SQLITE_ROW else { throw SQLiteWriteError(handle) }
                    let names = columns ?? Self.columnNames(statement)
                    columns = names
                    rows.append(SQLiteWriteRow(columns: names, values: try (0..<Int32(names.count)).map { try Self.value(statement, $0) }))
                }
                return rows
            }
        }
    }

    /// Changes a write may have made to the database since another stamp: equal stamps mean no row was inserted,
    /// updated or deleted through this connection in between (SQLite's count of changed rows, which counts changes
    /// rolled back too) and no other connection committed anything (`PRAGMA data_version`, which changes only then).
    func changeStamp() throws -> WriterChangeStamp {
        let version = try run("PRAGMA data_version", []).first?.decode(column: "data_version", as: Int64.self) ?? 0
        return WriterChangeStamp(rowsChanged: try rowsChanged(), dataVersion: version)
    }

    /// Rows inserted, updated or deleted through this connection since it was opened (rolled back ones included).
    func rowsChanged() throws -> Int64 {
        try state.withLock { state in
            guard let handle = state.handle else { throw SQLiteWriteError(code: SQLITE_MISUSE, message: "the write connection is closed") }
            return sqlite_nio_sqlite3_total_changes64(handle)
        }
    }

    /// Finalizes the kept statements and closes the connection; later statements fail.
    func close() {
        state.withLock { state in
            for statement in state.statements.values { sqlite_nio_sqlite3_finalize(statement) }
            state.statements.removeAll()
            if let handle = state.handle { sqlite_nio_sqlite3_close_v2(handle) }
            state.handle = nil
        }
    }

    /// Binds `binds` to `statement`, runs `body` and leaves the statement reset with no bindings. Every text is bound
    /// from one buffer holding them all, which SQLite reads in place (`SQLITE_STATIC`) for as long as `body` runs:
    /// bound as copies (`SQLITE_TRANSIENT`), each text of a batch's multi-row insert — a few hundred per batch — cost
    /// SQLite an allocation and a free of its own.
    private static func withBindings<T>(_ binds: [SQLiteData], to statement: OpaquePointer, handle: OpaquePointer,
                                        _ body: () throws -> T) throws -> T {
        var textBytes = 0
        for case .text(let value) in binds { textBytes += value.utf8.count }
        // One byte more than the texts need, so that even an empty text has an address to be bound at (a null pointer
        // would bind NULL).
        var texts: [UInt8] = []
        texts.reserveCapacity(textBytes + 1)
        for case .text(let value) in binds { texts.append(contentsOf: value.utf8) }
        texts.append(0)
        return try texts.withUnsafeBufferPointer { buffer in
            defer {
                sqlite_nio_sqlite3_reset(statement)
                sqlite_nio_sqlite3_clear_bindings(statement)
            }
            guard let base = buffer.baseAddress else { throw SQLiteWriteError(code: SQLITE_MISUSE, message: "no text buffer") }
            try base.withMemoryRebound(to: CChar.self, capacity: buffer.count) { chars in
                var offset = 0
                for (position, bind) in binds.enumerated() {
                    let index = Int32(position + 1)
                    let status: Int32
                    switch bind {
                    case .integer(let value): status = sqlite_nio_sqlite3_bind_int64(statement, index, Int64(value))
                    case .float(let value): status = sqlite_nio_sqlite3_bind_double(statement, index, value)
                    case .null: status = sqlite_nio_sqlite3_bind_null(statement, index)
                    case .text(let value):
                        let count = value.utf8.count
                        // No destructor: SQLITE_STATIC, the text stays where it is until the bindings are cleared.
                        status = sqlite_nio_sqlite3_bind_text64(statement, index, chars + offset, UInt64(count), nil, UInt8(SQLITE_UTF8))
                        offset += count
                    case .blob(let value):
                        status = value.withUnsafeReadableBytes {
                            sqlite_nio_sqlite3_bind_blob64(statement, index, $0.baseAddress, UInt64($0.count), transient)
                        }
                    }
                    guard status == SQLITE_OK else { throw SQLiteWriteError(handle) }
                }
            }
            return try body()
        }
    }

    private static func columnNames(_ statement: OpaquePointer) -> [String] {
        (0..<sqlite_nio_sqlite3_column_count(statement)).map { column in
            sqlite_nio_sqlite3_column_name(statement, column).map { String(cString: $0) } ?? ""
        }
    }

    private static func value(_ statement: OpaquePointer, _ column: Int32) throws -> SQLiteData {
        switch sqlite_nio_sqlite3_column_type(statement, column) {
        case SQLITE_INTEGER:
            return .integer(Int(sqlite_nio_sqlite3_column_int64(statement, column)))
        case SQLITE_FLOAT:
            return .float(sqlite_nio_sqlite3_column_double(statement, column))
        case SQLITE_TEXT:
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
            guard let text = sqlite_nio_sqlite3_column_text(statement, column) else { return .text("") }
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            if let bytes = sqlite_nio_sqlite3_column_blob(statement, column) {
                buffer.writeBytes(UnsafeRawBufferPointer(start: bytes, count: count))
            }
            return .blob(buffer)
        case SQLITE_NULL:
            return .null
        default:
            throw SQLiteWriteError(code: SQLITE_MISMATCH, message: "a column of an unknown type")
        }
    }

    /// SQLite copies a value bound with this destructor before the bind call returns.
    private static var transient: sqlite3_destructor_type { unsafeBitCast(-1, to: sqlite3_destructor_type.self) }
}

/// A failed statement on the write connection: SQLite's extended result code and its message.
struct SQLiteWriteError: Error, CustomStringConvertible {
    let code: Int32
    let message: String

    init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    /// The connection's last error, as SQLite reports it (its extended code is more precise than a call's result).
    fileprivate init(_ handle: OpaquePointer) {
        self.init(code: sqlite_nio_sqlite3_extended_errcode(handle), message: String(cString: sqlite_nio_sqlite3_errmsg(handle)))
    }

    /// A UNIQUE or PRIMARY KEY constraint failed.
    var isUniqueViolation: Bool {
        // SQLITE_CONSTRAINT_UNIQUE and SQLITE_CONSTRAINT_PRIMARYKEY, C macros Swift does not import.
        code == SQLITE_CONSTRAINT | (8 << 8) || code == SQLITE_CONSTRAINT | (6 << 8)
    }

    var description: String { "SQLite error \(code): \(message)" }
}

/// One row a statement on the write connection returned.
struct SQLiteWriteRow: SQLRow {
    let columns: [String]
    let values: [SQLiteData]

    var allColumns: [String] { columns }

    func contains(column: String) -> Bool { columns.contains(column) }

    func decodeNil(column: String) throws -> Bool { try value(column) == .null }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        try SQLiteDataDecoder().decode(D.self, from: try value(column))
    }

    private func value(_ column: String) throws -> SQLiteData {
        guard let index = columns.firstIndex(of: column) else {
            throw DecodingError.keyNotFound(SQLiteWriteColumn(column), .init(codingPath: [], debugDescription: "no column \(column) in the row"))
        }
        return values[index]
    }
}

private struct SQLiteWriteColumn: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// What the write connection has seen written (see `SQLiteWriteConnection.changeStamp`).
struct WriterChangeStamp: Equatable, Sendable {
    var rowsChanged: Int64
    var dataVersion: Int64
}

/// The write connection as SQLKit sees it: SQLite's dialect, values encoded and decoded as SQLiteKit does, and each
/// statement run on the calling thread before the call returns.
struct SQLiteWriteDatabase: SQLDatabase {
    let connection: SQLiteWriteConnection
    let eventLoop: any EventLoop

    /// See `SQLiteWriteConnection.changeStamp`.
    func changeStamp() throws -> WriterChangeStamp { try connection.changeStamp() }

    /// `stamp` with this connection's rows changed since: inside a write transaction, where no other connection can
    /// commit and so `data_version` cannot move, the stamp after the transaction's own writes without asking again.
    func changeStamp(after stamp: WriterChangeStamp) throws -> WriterChangeStamp {
        WriterChangeStamp(rowsChanged: try connection.rowsChanged(), dataVersion: stamp.dataVersion)
    }

    var logger: Logger { connection.logger }
    var dialect: any SQLDialect { SQLiteDialect() }
    var queryLogLevel: Logger.Level? { nil }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        do {
            try run(query, onRow)
            return eventLoop.makeSucceededVoidFuture()
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        try run(query, onRow)
    }

    private func run(_ query: any SQLExpression, _ onRow: (any SQLRow) -> Void) throws {
        if let insert = query as? RowsInsert {
            let (sql, binds) = insert.sqlite
            _ = try connection.run(sql, binds)
            return
        }
        let (sql, binds) = serialize(query)
        let encoder = SQLiteDataEncoder()
        let rows = try connection.run(sql, try binds.map { try Self.data($0, encoder: encoder) })
        for row in rows { onRow(row) }
    }

    /// The value as SQLiteKit's encoder would give it, the types the store binds most taken first: the encoder
    /// starts with a cast to a protocol existential, a conformance lookup per value.
    static func data(_ bind: any Encodable & Sendable, encoder: SQLiteDataEncoder) throws -> SQLiteData {
        switch bind {
        case let text as String: .text(text)
        case let number as Int64: .integer(Int(number))
        case let number as Int: .integer(number)
        default: try encoder.encode(bind)
        }
    }
}
