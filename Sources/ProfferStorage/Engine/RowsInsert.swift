import Foundation
import NIOCore
import SQLKit
import SQLiteNIO

/// A value to bind, typed so that the SQLite write connection binds it without a dynamic cast or an encoder.
/// A `nil` is NULL, bound on PostgreSQL with its column's Swift type as before.
enum SQLValue: Sendable, Equatable {
    case text(String?)
    case integer(Int64?)
    case blob(Data?)

    /// The value as sql-kit binds it (PostgreSQL).
    var encodable: any Encodable & Sendable {
        switch self {
        case .text(let value): value
        case .integer(let value): value
        case .blob(let value): value
        }
    }

    /// The value as the SQLite write connection binds it.
    var sqlite: SQLiteData {
        switch self {
        case .text(let value?): .text(value)
        case .integer(let value?): .integer(Int(value))
        case .blob(let value?): .blob(ByteBuffer(bytes: value))
        case .text(nil), .integer(nil), .blob(nil): .null
        }
    }
}

/// An `INSERT` of one or many rows for the write path's hottest tables (audit entries, ledger transfers and legs),
/// written straight to SQL text and a flat list of binds. sql-kit's insert builder wraps every value in expressions and serialises that tree for every batch (with
/// the binding, most of the write pipeline's Swift time for a priced batch); on SQLite this is run as text with `?`
/// placeholders and typed binds, on PostgreSQL serialised with the dialect's placeholders.
struct RowsInsert: SQLExpression {
    let table: String
    let columns: [String]
    private(set) var rows: [[SQLValue]] = []

    /// `table` and `columns` are the schema's own plain names (never input), written unquoted.
    init(into table: String, columns: [String]) {
        self.table = table
        self.columns = columns
    }

    var isEmpty: Bool { rows.isEmpty }

    /// Adds a row: one value per column, in the columns' order.
    mutating func append(_ row: [SQLValue]) {
        rows.append(row)
    }

    private var head: String { "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES " }

    func serialize(to serializer: inout SQLSerializer) {
        serializer.write(head)
        for (index, row) in rows.enumerated() {
            serializer.write(index == 0 ? "(" : ", (")
            for (offset, value) in row.enumerated() {
                if offset > 0 { serializer.write(", ") }
                serializer.write(bind: value.encodable)
            }
            serializer.write(")")
        }
    }

    /// The statement for SQLite: text with `?` placeholders, and its binds.
    var sqlite: (sql: String, binds: [SQLiteData]) {
        let placeholders = "(" + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
        var sql = head
        sql.reserveCapacity(sql.utf8.count + rows.count * (placeholders.utf8.count + 2))
        var binds: [SQLiteData] = []
        binds.reserveCapacity(rows.count * columns.count)
        for (index, row) in rows.enumerated() {
            if index > 0 { sql += ", " }
            sql += placeholders
            for value in row { binds.append(value.sqlite) }
        }
        return (sql, binds)
    }
}
