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
                \(Self.partyLegs(party))
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

    /// `FROM … WHERE …` over a party's ledger legs, as `e` (the leg) and `t` (its transfer).
    ///
    /// A person's legs are found through their audit log: every credit to earnings is a charge whose audit entry
    /// names it, and the log is clustered by person, so no index of earnings legs by account is needed (each
    /// priced disclosure would write a random page of it). An organisation's legs are found through the index of
    /// wallet legs by account (migration 17) — hence the index's own condition, repeated for the planner.
    static func partyLegs(_ party: StatementParty) -> SQLQueryString {
        switch party {
        case .person(let person):
            """
            FROM audit_entries x
            JOIN ledger_transfers t ON t.id = x.transfer_id
            JOIN ledger_entries e ON e.transfer_id = t.id AND e.account_id = 'earnings:' || x.person_id || ':' || t.currency
            WHERE x.person_number = \(Self.numberOf(person)) AND x.transfer_id IS NOT NULL
            """
        case .organisation:
            """
            FROM ledger_entries e
            JOIN ledger_transfers t ON t.id = e.transfer_id
            WHERE e.account_id IN (SELECT id FROM ledger_accounts WHERE \(Self.isAccount(of: party))) AND substr(e.account_id, 1, 7) = 'wallet:'
            """
        }
    }

    /// The condition on `ledger_accounts` that picks a party's accounts (one per currency). No index finds an id
    /// prefix on both engines; it costs one scan of the accounts per query.
    static func isAccount(of party: StatementParty) -> SQLQueryString {
        "kind = \(bind: party.accountKind.rawValue) AND substr(id, 1, \(unsafeRaw: String(party.accountPrefix.count))) = \(bind: party.accountPrefix)"
    }

    /// A person's earnings balances, one per currency earned.
    public func earningsBalances(_ person: PersonID) async throws -> [Money] {
        try await balances(of: .person(person))
    }

    /// A party's balances, one per account (currency) it has: earnings summed from their legs (see
    /// `LedgerAccountKind.balanceIsDerived`), wallets as kept.
    func balances(of party: StatementParty) async throws -> [Money] {
        try await read { db in
            let held = try await db.raw("""
                SELECT currency, balance FROM ledger_accounts WHERE \(Self.isAccount(of: party)) ORDER BY currency
                """).all().map { Money(minorUnits: try $0.decode(column: "balance", as: Int64.self), currency: try $0.decode(column: "currency", as: String.self)) }
            guard party.accountKind.balanceIsDerived else { return held }
            var sums: [String: Int64] = [:]
            for row in try await db.raw("SELECT t.currency AS currency, CAST(SUM(e.amount) AS BIGINT) AS total \(Self.partyLegs(party)) GROUP BY t.currency").all() {
                sums[try row.decode(column: "currency", as: String.self)] = try row.decode(column: "total", as: Int64.self)
            }
            return held.map { Money(minorUnits: sums[$0.currency] ?? 0, currency: $0.currency) }
        }
    }
}
