import Foundation
import ProfferCore
import SQLKit

/// Whose money a statement follows: a person's earnings or an organisation's wallet.
public enum StatementParty: Sendable {
    case person(PersonID)
    case organisation(OrganisationID)

    var accountKind: LedgerAccountKind {
        switch self {
        case .person: .personEarnings
        case .organisation: .organisationWallet
        }
    }

    /// Every account of the party starts with this (the currency follows).
    var accountPrefix: String {
        switch self {
        case .person(let id): "earnings:\(id.rawValue):"
        case .organisation(let id): "wallet:\(id.rawValue):"
        }
    }

    /// The transfer column naming the other side.
    var counterpartColumn: String {
        switch self {
        case .person: "t.organisation_id"
        case .organisation: "t.person_id"
        }
    }
}

/// One line of a statement: what moved in or out of the party's accounts in one calendar month (UTC), with one
/// counterpart, of one kind, in one currency.
public struct StatementRow: Sendable, Hashable {
    /// `YYYY-MM`.
    public var period: String
    /// The organisation (for a person) or person (for an organisation); nil for funding from outside.
    public var counterpart: String?
    public var kind: String
    public var transfers: Int
    /// Signed: positive into the party's account, negative out of it.
    public var amount: Money
}

extension ProfferStore {
    /// A party's statement from `from` (inclusive) to `to` (exclusive), summed in SQL by month, counterpart,
    /// kind and currency, so it costs the same for ten transfers or ten million.
    public func statement(of party: StatementParty, from: Timestamp, to: Timestamp) async throws -> [StatementRow] {
        let month = kind == .sqlite
            ? "strftime('%Y-%m', t.at / 1000, 'unixepoch')"
            : "to_char(to_timestamp(t.at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM')"
        return try await read { db in
            try await db.raw("""
                SELECT \(unsafeRaw: month) AS period, \(unsafeRaw: party.counterpartColumn) AS counterpart, t.kind AS kind, t.currency AS currency,
                       COUNT(*) AS n, CAST(SUM(e.amount) AS BIGINT) AS total
                FROM ledger_entries e
                JOIN ledger_transfers t ON t.id = e.transfer_id
                JOIN ledger_accounts a ON a.id = e.account_id
                WHERE a.kind = \(bind: party.accountKind.rawValue) AND substr(a.id, 1, \(unsafeRaw: String(party.accountPrefix.count))) = \(bind: party.accountPrefix)
                  AND t.at >= \(bind: from.millisecondsSinceEpoch) AND t.at < \(bind: to.millisecondsSinceEpoch)
                GROUP BY 1, 2, 3, 4
                ORDER BY 1, 2, 3, 4
                """).all().map { row in
                StatementRow(period: try row.decode(column: "period", as: String.self), counterpart: try row.optional("counterpart", as: String.self),
                             kind: try row.decode(column: "kind", as: String.self), transfers: try row.decode(column: "n", as: Int.self),
                             amount: Money(minorUnits: try row.decode(column: "total", as: Int64.self), currency: try row.decode(column: "currency", as: String.self)))
            }
        }
    }

    /// A person's earnings balances, one per currency earned.
    public func earningsBalances(_ person: PersonID) async throws -> [Money] {
        try await balances(of: .person(person))
    }

    func balances(of party: StatementParty) async throws -> [Money] {
        try await read { db in
            if party.accountKind.balanceIsDerived {
                return try await db.raw("""
                    SELECT a.currency AS currency, CAST(COALESCE(SUM(e.amount), 0) AS BIGINT) AS balance
                    FROM ledger_accounts a LEFT JOIN ledger_entries e ON e.account_id = a.id
                    WHERE a.kind = \(bind: party.accountKind.rawValue) AND substr(a.id, 1, \(unsafeRaw: String(party.accountPrefix.count))) = \(bind: party.accountPrefix)
                    GROUP BY a.currency ORDER BY a.currency
                    """).all().map { Money(minorUnits: try $0.decode(column: "balance", as: Int64.self), currency: try $0.decode(column: "currency", as: String.self)) }
            }
            return try await db.raw("""
                SELECT currency, balance FROM ledger_accounts
                WHERE kind = \(bind: party.accountKind.rawValue) AND substr(id, 1, \(unsafeRaw: String(party.accountPrefix.count))) = \(bind: party.accountPrefix)
                ORDER BY currency
                """).all().map { Money(minorUnits: try $0.decode(column: "balance", as: Int64.self), currency: try $0.decode(column: "currency", as: String.self)) }
        }
    }
}
