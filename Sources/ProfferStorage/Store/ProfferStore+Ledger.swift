import Foundation
import ProfferCore
import SQLKit

/// The result of funding a wallet, as first answered (and answered again for a retried idempotency key).
public struct WalletCredit: Sendable, Hashable, Codable {
    public var transferId: String
    public var organisationId: String
    public var amount: Money
    public var reference: String
    /// The payment provider that confirmed the outside payment (`manual` when the operator records it).
    public var provider: String
    public var balance: Money
    public var at: Timestamp
}

/// What `proffer ledger check` found.
public struct LedgerReport: Sendable, Equatable {
    public var transfers: Int
    public var accounts: Int
    public var problems: [String]
    public var isValid: Bool { problems.isEmpty }
}

/// A caller's idempotency key and a digest of the request it came with.
public struct IdempotencyKey: Sendable, Hashable {
    public var scope: String
    public var key: String
    public var requestDigest: Data

    public init(scope: String, key: String, requestDigest: Data) {
        self.scope = scope
        self.key = key
        self.requestDigest = requestDigest
    }
}

extension ProfferStore {
    /// Funds an organisation's wallet from outside. With the same idempotency key and the same request, a retry
    /// returns the first result and moves nothing; with the same key and another request it is refused.
    public func creditWallet(_ organisation: OrganisationID, _ money: Money, reference: String, provider: String, idempotency: IdempotencyKey,
                             at now: Timestamp) async throws -> (WalletCredit, replayed: Bool) {
        let kind = self.kind
        return try await write { db in
            if let stored = try await Self.storedResponse(idempotency, on: db, kind: kind) {
                return (try JSONColumn.decode(WalletCredit.self, stored), true)
            }
            guard try await db.raw("SELECT 1 AS x FROM organisations WHERE id = \(bind: organisation.rawValue)").first() != nil else {
                throw DomainError.notFound(what: "organisation", id: organisation.rawValue)
            }
            let transfer = try Transfer.walletCredit(organisation, money, reference: reference, at: now)
            let balances = try await Self.post(transfer, provider: provider, on: db, kind: kind)
            let credit = WalletCredit(transferId: transfer.id.rawValue, organisationId: organisation.rawValue, amount: money, reference: reference, provider: provider,
                                      balance: Money(minorUnits: balances[.wallet(organisation, money.currency)] ?? 0, currency: money.currency), at: now)
            try await db.raw("""
                INSERT INTO idempotency_keys (scope, key, request_digest, response, created_at)
                VALUES (\(bind: idempotency.scope), \(bind: idempotency.key), \(bind: idempotency.requestDigest), \(bind: JSONColumn.encode(credit)), \(bind: now.millisecondsSinceEpoch))
                """).run()
            return (credit, false)
        }
    }

    /// The wallet credit already made under this idempotency key, if any (a different request under the key is
    /// refused). Lets a retry be answered before the payment provider is asked again.
    public func storedWalletCredit(_ idempotency: IdempotencyKey) async throws -> WalletCredit? {
        let kind = self.kind
        return try await read { db in
            try await Self.storedResponse(idempotency, on: db, kind: kind, lock: false).map { try JSONColumn.decode(WalletCredit.self, $0) }
        }
    }

    /// The first answer stored under an idempotency key, or nil; a different request under the same key is refused.
    static func storedResponse(_ idempotency: IdempotencyKey, on db: any SQLDatabase, kind: EngineKind, lock: Bool = true) async throws -> String? {
        guard let row = try await db.raw("""
            SELECT request_digest, response FROM idempotency_keys WHERE scope = \(bind: idempotency.scope) AND key = \(bind: idempotency.key)\(unsafeRaw: lock ? kind.forUpdate : "")
            """).first() else { return nil }
        guard try row.decode(column: "request_digest", as: Data.self) == idempotency.requestDigest else {
            throw LedgerError.idempotencyConflict(key: idempotency.key)
        }
        return try row.decode(column: "response", as: String.self)
    }

    /// Writes a balanced transfer and moves the balances of its accounts (creating them on first use), refusing
    /// to take any account below its minimum. Returns the new balances.
    static func post(_ transfer: Transfer, provider: String? = nil, on db: any SQLDatabase, kind: EngineKind) async throws -> [LedgerAccountID: Int64] {
        try await insertTransfers([transfer], provider: provider, on: db)
        var balances: [LedgerAccountID: Int64] = [:]
        for leg in transfer.legs.sorted(by: { $0.account.rawValue < $1.account.rawValue }) {
            let minimum: Int64? = leg.kind == .external ? nil : 0
            try await db.raw("""
                INSERT INTO ledger_accounts (id, kind, currency, balance, minimum)
                VALUES (\(bind: leg.account.rawValue), \(bind: leg.kind.rawValue), \(bind: transfer.currency), 0, \(bind: minimum))
                ON CONFLICT (id) DO NOTHING
                """).run()
            if leg.kind.balanceIsDerived { continue }  // derived from the entries written below
            guard let row = try await db.raw("SELECT balance, minimum FROM ledger_accounts WHERE id = \(bind: leg.account.rawValue)\(unsafeRaw: kind.forUpdate)").first() else {
                throw StorageError.corrupt("a ledger account vanished")
            }
            let balance = try row.decode(column: "balance", as: Int64.self).checkedAdding(leg.amount)
            if let minimum = try row.optional("minimum", as: Int64.self), balance < minimum {
                throw LedgerError.belowLimit(account: leg.account.rawValue, balance: balance, minimum: minimum)
            }
            try await db.raw("UPDATE ledger_accounts SET balance = \(bind: balance) WHERE id = \(bind: leg.account.rawValue)").run()
            balances[leg.account] = balance
        }
        try await insertEntries([transfer], on: db)
        return balances
    }

    /// Inserts transfers' rows (one statement), with what each pays for. Columns every row leaves empty are left
    /// out, which keeps the hottest insert (a batch of disclosure charges) small.
    static func insertTransfers(_ transfers: [Transfer], provider: String? = nil, on db: any SQLDatabase) async throws {
        if let insert = transfersInsert(transfers, provider: provider) { try await db.execute(sql: insert) { _ in } }
    }

    /// The statement inserting transfers' rows, or nil for none.
    static func transfersInsert(_ transfers: [Transfer], provider: String? = nil) -> RowsInsert? {
        guard !transfers.isEmpty else { return nil }
        let withReference = transfers.contains { $0.reference != nil }
        let withPeriod = transfers.contains { $0.subject?.periodStart != nil }
        var columns = ["id", "kind", "currency", "at", "grant_id", "organisation_id", "person_id", "audit_seq"]
        if withReference { columns.append("reference") }
        if withPeriod { columns.append("period_start") }
        if provider != nil { columns.append("provider") }
        var insert = RowsInsert(into: "ledger_transfers", columns: columns)
        for transfer in transfers {
            let subject = transfer.subject
            var values: [SQLValue] = [
                .text(transfer.id.rawValue), .text(transfer.kind.rawValue), .text(transfer.currency), .integer(transfer.at.millisecondsSinceEpoch),
                .text(subject?.grantID.rawValue), .text(subject?.organisationID.rawValue), .text(subject?.personID.rawValue), .integer(subject?.auditSequence),
            ]
            if withReference { values.append(.text(transfer.reference)) }
            if withPeriod { values.append(.integer(subject?.periodStart?.millisecondsSinceEpoch)) }
            if let provider { values.append(.text(provider)) }
            insert.append(values)
        }
        return insert
    }

    /// Inserts transfers' legs (one statement). Balances are the caller's business.
    static func insertEntries(_ transfers: [Transfer], on db: any SQLDatabase) async throws {
        if let insert = entriesInsert(transfers) { try await db.execute(sql: insert) { _ in } }
    }

    /// The statement inserting transfers' legs, or nil for none.
    static func entriesInsert(_ transfers: [Transfer]) -> RowsInsert? {
        var insert = RowsInsert(into: "ledger_entries", columns: ["transfer_id", "account_id", "amount"])
        for transfer in transfers {
            for leg in transfer.legs { insert.append([.text(transfer.id.rawValue), .text(leg.account.rawValue), .integer(leg.amount)]) }
        }
        return insert.isEmpty ? nil : insert
    }

    /// An organisation's wallet balances, one per currency it holds.
    public func walletBalances(_ organisation: OrganisationID) async throws -> [Money] {
        try await balances(of: .organisation(organisation))
    }

    /// Checks the ledger's invariants: every transfer balances, each currency sums to zero over all accounts,
    /// every balance equals the sum of its entries, no account is below its minimum, and every disclosure under
    /// a per-disclosure priced grant has exactly one charge (and every charge its disclosure) — but a retry under
    /// the same idempotency key, which repeats a paid read without a charge.
    public func checkLedger() async throws -> LedgerReport {
        try await read { db in
            var problems: [String] = []
            for row in try await db.raw("""
                SELECT transfer_id, CAST(SUM(amount) AS BIGINT) AS total FROM ledger_entries GROUP BY transfer_id HAVING SUM(amount) <> 0
                """).all() {
                problems.append("transfer \(try row.decode(column: "transfer_id", as: String.self)) does not balance (sum \(try row.decode(column: "total", as: Int64.self)))")
            }
            // Each account's balance — kept in its column, or derived from its entries — summed per currency.
            for row in try await db.raw("""
                SELECT currency, CAST(SUM(total) AS BIGINT) AS total FROM (
                    SELECT currency, balance AS total FROM ledger_accounts WHERE kind <> \(bind: LedgerAccountKind.personEarnings.rawValue)
                    UNION ALL
                    SELECT a.currency, e.amount AS total FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id
                    WHERE a.kind = \(bind: LedgerAccountKind.personEarnings.rawValue)) balances
                GROUP BY currency HAVING SUM(total) <> 0
                """).all() {
                problems.append("the accounts in \(try row.decode(column: "currency", as: String.self)) sum to \(try row.decode(column: "total", as: Int64.self)), not zero")
            }
            for row in try await db.raw("""
                SELECT a.id, a.balance, CAST(COALESCE(s.total, 0) AS BIGINT) AS total
                FROM ledger_accounts a LEFT JOIN (
                    SELECT account_id, SUM(amount) AS total FROM ledger_entries WHERE substr(account_id, 1, 9) <> 'earnings:' GROUP BY account_id
                ) s ON s.account_id = a.id
                WHERE a.kind <> \(bind: LedgerAccountKind.personEarnings.rawValue) AND a.balance <> COALESCE(s.total, 0)
                """).all() {
                problems.append("account \(try row.decode(column: "id", as: String.self)) has balance \(try row.decode(column: "balance", as: Int64.self)) but its entries sum to \(try row.decode(column: "total", as: Int64.self))")
            }
            for row in try await db.raw("SELECT id, balance, minimum FROM ledger_accounts WHERE minimum IS NOT NULL AND balance < minimum").all() {
                problems.append("account \(try row.decode(column: "id", as: String.self)) is below its limit (\(try row.decode(column: "balance", as: Int64.self)) < \(try row.decode(column: "minimum", as: Int64.self)))")
            }
            for row in try await db.raw("""
                SELECT a.person_id, a.seq, COUNT(t.id) AS n FROM audit_entries a
                JOIN grants g ON g.id = a.grant_id
                LEFT JOIN ledger_transfers t ON t.person_id = a.person_id AND t.audit_seq = a.seq
                WHERE a.kind = 'disclosure' AND g.price_basis = 'per-disclosure'
                  AND NOT EXISTS (SELECT 1 FROM disclosure_retries r WHERE r.person_id = a.person_id AND r.seq = a.seq)
                GROUP BY a.person_id, a.seq HAVING COUNT(t.id) <> 1
                """).all() {
                problems.append("disclosure \(try row.decode(column: "seq", as: Int64.self)) of person \(try row.decode(column: "person_id", as: String.self)) under a priced grant has \(try row.decode(column: "n", as: Int.self)) charges, not 1")
            }
            for row in try await db.raw("""
                SELECT t.id FROM ledger_transfers t
                LEFT JOIN people p ON p.id = t.person_id
                LEFT JOIN audit_entries a ON a.person_number = p.number AND a.seq = t.audit_seq AND a.kind = 'disclosure' AND a.grant_id = t.grant_id
                WHERE t.kind = 'disclosure-charge' AND a.seq IS NULL
                """).all() {
                problems.append("charge \(try row.decode(column: "id", as: String.self)) matches no disclosure")
            }
            for row in try await db.raw("""
                SELECT r.person_id, r.seq FROM disclosure_retries r
                LEFT JOIN ledger_transfers t ON t.person_id = r.person_id AND t.audit_seq = r.original_seq
                WHERE t.id IS NULL
                """).all() {
                problems.append("disclosure \(try row.decode(column: "seq", as: Int64.self)) of person \(try row.decode(column: "person_id", as: String.self)) is a free retry of a read that was never paid")
            }
            // A person's earnings are found through their audit log (see `partyLegs`): every earnings leg must be
            // a charge of that person whose audit entry names it, and every entry naming a charge must be named back.
            for row in try await db.raw("""
                SELECT t.id, e.account_id FROM ledger_entries e JOIN ledger_transfers t ON t.id = e.transfer_id
                WHERE substr(e.account_id, 1, 9) = 'earnings:'
                  AND (t.person_id IS NULL OR e.account_id <> 'earnings:' || t.person_id || ':' || t.currency
                       OR NOT EXISTS (SELECT 1 FROM people p JOIN audit_entries a ON a.person_number = p.number
                                      WHERE p.id = t.person_id AND a.seq = t.audit_seq AND a.transfer_id = t.id))
                """).all() {
                problems.append("transfer \(try row.decode(column: "id", as: String.self)) credits \(try row.decode(column: "account_id", as: String.self)) but that person's audit log does not link it, so their earnings miss it")
            }
            for row in try await db.raw("""
                SELECT a.person_id, a.seq, a.transfer_id FROM audit_entries a LEFT JOIN ledger_transfers t ON t.id = a.transfer_id
                WHERE a.transfer_id IS NOT NULL AND (t.id IS NULL OR t.person_id <> a.person_id OR t.audit_seq <> a.seq)
                """).all() {
                problems.append("audit entry \(try row.decode(column: "seq", as: Int64.self)) of person \(try row.decode(column: "person_id", as: String.self)) names charge \(try row.decode(column: "transfer_id", as: String.self)), which does not name it back")
            }
            let transfers = try await db.raw("SELECT COUNT(*) AS n FROM ledger_transfers").first()?.decode(column: "n", as: Int.self) ?? 0
            let accounts = try await db.raw("SELECT COUNT(*) AS n FROM ledger_accounts").first()?.decode(column: "n", as: Int.self) ?? 0
            return LedgerReport(transfers: transfers, accounts: accounts, problems: problems)
        }
    }
}
