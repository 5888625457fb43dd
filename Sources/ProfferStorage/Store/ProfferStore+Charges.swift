import Foundation
import ProfferCore
import SQLKit

/// What charging one period of a per-month grant did.
public struct PeriodCharge: Sendable {
    public enum Result: Sendable, Equatable {
        /// Nothing was due (not a per-month grant, already paid, revoked or expired).
        case nothingDue
        case charged(Money, BillingPeriod)
        /// The wallet could not pay: the grant is suspended until a later run can charge it.
        case suspended(Money, BillingPeriod)
        /// The wallet could not pay a period ahead of its start; the paid period runs on, and the next run tries
        /// again (suspending the grant only once the unpaid period has begun).
        case deferred(Money, BillingPeriod)
    }

    public var grant: Grant
    public var result: Result
}

extension ProfferStore {
    // MARK: Prices

    /// A person's price list (empty when they never set one).
    public func prices(of person: PersonID) async throws -> PriceList {
        try await read { db in
            guard let row = try await db.raw("SELECT prices FROM person_prices WHERE person_id = \(bind: person.rawValue)").first() else { return PriceList() }
            return try JSONColumn.decode(PriceList.self, try row.decode(column: "prices", as: String.self))
        }
    }

    /// Replaces a person's price list, with an audit entry.
    public func setPrices(_ prices: PriceList, of person: PersonID, at now: Timestamp) async throws {
        let kind = self.kind
        try await write { db in
            try await db.raw("""
                INSERT INTO person_prices (person_id, prices, updated_at) VALUES (\(bind: person.rawValue), \(bind: JSONColumn.encode(prices)), \(bind: now.millisecondsSinceEpoch))
                ON CONFLICT (person_id) DO UPDATE SET prices = excluded.prices, updated_at = excluded.updated_at
                """).run()
            let summary = prices.entries.isEmpty ? "no prices" : prices.entries.map { "\($0.target) \($0.price.formatted) \($0.basis.phrase)" }.joined(separator: ", ")
            _ = try await Self.appendAudit(AuditEvent(kind: .pricesUpdated, actor: "person", note: "prices now: \(summary)", at: now),
                                           for: person, on: db, kind: kind)
        }
    }

    // MARK: Per-month charges

    /// Charges every per-month grant whose next period starts by `now + lookahead`; each grant in its own
    /// transaction, each due grant looked at once per run (a cursor walks them in order, so grants that cannot pay
    /// never crowd out those that can). Safe with several instances: a grant being charged elsewhere is skipped
    /// (`SKIP LOCKED`), and the charge re-reads the grant under its lock, so no period is charged twice.
    public func chargeDuePeriods(at now: Timestamp, lookaheadSeconds: Int = 300, limit: Int = 100_000) async throws -> [PeriodCharge] {
        let kind = self.kind
        let fees = self.fees
        let horizon = now.adding(seconds: lookaheadSeconds)
        var done: [PeriodCharge] = []
        var cursor: (paidUntil: Int64, id: String) = (-1, "")
        while done.count < limit {
            let after = cursor
            let next: (PeriodCharge, (Int64, String))? = try await write { db in
                let paid = SQLFunction("COALESCE", args: SQLIdentifier("paid_until"), SQLLiteral.numeric("0"))
                let query = db.select().column("*").from("grants")
                    .where("price_basis", .equal, PriceBasis.perMonth.rawValue)
                    .where("revoked_at", .is, SQLLiteral.null)
                    .where("expires_at", .greaterThan, now.millisecondsSinceEpoch)
                    .where(paid, .lessThanOrEqual, SQLBind(horizon.millisecondsSinceEpoch))
                    .where { $0.where(paid, .greaterThan, SQLBind(after.paidUntil))
                        .orWhere { $0.where(paid, .equal, SQLBind(after.paidUntil)).where("id", .greaterThan, after.id) } }
                    .orderBy(paid).orderBy("id").limit(1)
                if kind == .postgres { query.lockingClause(SQLRaw("FOR UPDATE SKIP LOCKED")) }
                guard let row = try await query.first() else { return nil }
                let grant = try Self.grant(row)
                let charge = try await Self.chargePeriod(of: grant, at: now, lookaheadSeconds: lookaheadSeconds, on: db, kind: kind, fees: fees)
                return (charge, (grant.paidUntil?.millisecondsSinceEpoch ?? 0, grant.id.rawValue))
            }
            guard let (charge, position) = next else { break }
            done.append(charge)
            cursor = position
        }
        return done
    }

    /// Charges the next period of a per-month grant inside the caller's transaction, or suspends the grant when its
    /// organisation's wallet cannot pay (auditing the suspension once). Locks the person's audit head before the
    /// wallet, the same order disclosures use, so the two cannot deadlock.
    static func chargePeriod(of grant: Grant, at now: Timestamp, lookaheadSeconds: Int = 0, on db: any SQLDatabase, kind: EngineKind,
                             fees: FeePolicy) async throws -> PeriodCharge {
        var grant = grant
        guard let (basis, monthly) = grant.offer.price, basis == .perMonth, grant.isLive(at: now),
              let period = BillingPeriod.next(anchor: grant.createdAt, paidUntil: grant.paidUntil, now: now, expiresAt: grant.expiresAt),
              period.start <= now.adding(seconds: lookaheadSeconds)
        else { return PeriodCharge(grant: grant, result: .nothingDue) }
        // A grant resuming after a suspension pays only for what is left of the period it resumes in.
        let resuming = grant.suspendedAt != nil && period.start < now
        let amount = period.price(of: monthly, from: resuming ? now : nil)
        if kind == .postgres { _ = try await auditHeads(of: [grant.personID.rawValue], on: db, kind: kind, forAppending: true) }
        let wallet = LedgerAccountID.wallet(grant.organisationID, amount.currency)
        let balance = try await db.raw("SELECT balance FROM ledger_accounts WHERE id = \(bind: wallet.rawValue)\(unsafeRaw: kind.forUpdate)").first()?
            .decode(column: "balance", as: Int64.self) ?? 0
        let span = "\(period.start.rfc3339) to \(period.end.rfc3339)"
        guard balance >= amount.minorUnits else {
            // Charged early (the look-ahead), the paid period still runs: try again before suspending.
            if period.start > now { return PeriodCharge(grant: grant, result: .deferred(amount, period)) }
            if grant.suspendedAt == nil {
                try await db.raw("UPDATE grants SET suspended_at = \(bind: now.millisecondsSinceEpoch) WHERE id = \(bind: grant.id.rawValue)").run()
                _ = try await appendAudit(
                    AuditEvent(kind: .grantSuspended, actor: "system", organisationID: grant.organisationID, requestID: grant.requestID, grantID: grant.id,
                               keys: grant.keys, note: "suspended: the organisation could not pay \(amount.formatted) for \(span)", at: now),
                    for: grant.personID, on: db, kind: kind)
                grant.suspendedAt = now
                try await emitGrantChange(.grantSuspended, of: grant, extra: [
                    "suspendedAt": .string(now.rfc3339), "amountDue": amount.json,
                    "periodStart": .string(period.start.rfc3339), "periodEnd": .string(period.end.rfc3339),
                ], at: now, on: db)
            }
            return PeriodCharge(grant: grant, result: .suspended(amount, period))
        }
        try await db.raw("""
            UPDATE grants SET paid_until = \(bind: period.end.millisecondsSinceEpoch), suspended_at = NULL WHERE id = \(bind: grant.id.rawValue)
            """).run()
        let resumed = grant.suspendedAt == nil ? "" : " (resumed after suspension)"
        // The audit entry and the charge name each other: the person's earnings are found through their log.
        let charge: TransferID? = amount.minorUnits > 0 ? .generateTimeOrdered(at: now) : nil
        let entry = try await appendAudit(
            AuditEvent(kind: .periodCharged, actor: "system", organisationID: grant.organisationID, requestID: grant.requestID, grantID: grant.id,
                       keys: grant.keys, note: "paid \(amount.formatted) for \(span)\(resumed)", at: now),
            for: grant.personID, charge: charge, on: db, kind: kind)
        if let charge {
            let transfer = try Transfer.charge(.periodCharge, amount, id: charge,
                                               subject: .init(grantID: grant.id, organisationID: grant.organisationID, personID: grant.personID,
                                                              auditSequence: entry.sequence, periodStart: period.start),
                                               fees: fees, reference: "grant \(grant.id) \(span)", at: now)
            _ = try await post(transfer, on: db, kind: kind)
        }
        grant.paidUntil = period.end
        grant.suspendedAt = nil
        return PeriodCharge(grant: grant, result: .charged(amount, period))
    }

    /// A per-month grant's period that was charged ahead (the look-ahead) and has not begun: what revoking the grant
    /// now gives back.
    struct UnstartedPeriod {
        var charge: TransferID
        var start: Timestamp
        var amount: Money
        /// The charge's legs, each to be reversed.
        var legs: [Transfer.Leg]

        /// The refund: the charge's legs reversed, linked to the revocation's audit entry.
        func refund(_ id: TransferID, of grant: Grant, auditSequence: Int64, at now: Timestamp) throws -> Transfer {
            try Transfer(id: id, kind: .periodRefund, currency: amount.currency,
                         legs: legs.map { Transfer.Leg(account: $0.account, kind: $0.kind, amount: -$0.amount) },
                         reference: "refund of \(charge): grant \(grant.id) revoked before \(start.rfc3339)", at: now,
                         subject: .init(grantID: grant.id, organisationID: grant.organisationID, personID: grant.personID, auditSequence: auditSequence))
        }
    }

    /// The period of a per-month grant charged ahead and not begun at `now`, or nil.
    static func unstartedPeriod(of grant: Grant, at now: Timestamp, on db: any SQLDatabase) async throws -> UnstartedPeriod? {
        guard case (.perMonth, _)? = grant.offer.price, let paidUntil = grant.paidUntil, paidUntil > now else { return nil }
        guard let row = try await db.raw("""
            SELECT id, currency, period_start FROM ledger_transfers
            WHERE grant_id = \(bind: grant.id.rawValue) AND period_start > \(bind: now.millisecondsSinceEpoch) AND kind = \(bind: Transfer.Kind.periodCharge.rawValue)
            ORDER BY period_start LIMIT 1
            """).first() else { return nil }
        let charge = TransferID(trusted: try row.decode(column: "id", as: String.self))
        var legs: [Transfer.Leg] = []
        for leg in try await db.raw("""
            SELECT e.account_id, e.amount, a.kind FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id
            WHERE e.transfer_id = \(bind: charge.rawValue) ORDER BY e.account_id
            """).all() {
            guard let kind = LedgerAccountKind(rawValue: try leg.decode(column: "kind", as: String.self)) else { throw StorageError.corrupt("unknown ledger account kind") }
            legs.append(Transfer.Leg(account: LedgerAccountID(trusted: try leg.decode(column: "account_id", as: String.self)), kind: kind,
                                     amount: try leg.decode(column: "amount", as: Int64.self)))
        }
        guard let paid = legs.first(where: { $0.kind == .organisationWallet }) else { throw StorageError.corrupt("a period charge without its wallet leg") }
        return UnstartedPeriod(charge: charge, start: try row.timestamp("period_start"),
                               amount: Money(minorUnits: -paid.amount, currency: try row.decode(column: "currency", as: String.self)), legs: legs)
    }
}
