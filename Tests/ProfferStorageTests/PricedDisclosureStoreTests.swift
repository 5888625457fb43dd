import Foundation
import ProfferCore
import ProfferStorage
import ProfferTestSupport
import SQLKit
import Testing

/// The storage contract for paying for data: per-disclosure charges inside the disclosure's transaction, racing
/// the last cent of a wallet, and per-month periods charged once each — on both engines.
@Suite("Storage contract: priced disclosures")
struct PricedDisclosureStoreTests {
    static let engines = TestEngine.available

    static func fund(_ store: ProfferStore, _ organisation: Organisation, _ amount: Int64, currency: String = "EUR") async throws {
        _ = try await store.creditWallet(organisation.id, Money(minorUnits: amount, currency: currency), reference: "test funding", provider: "manual",
                                         idempotency: IdempotencyKey(scope: "admin", key: UUID().uuidString, requestDigest: Data([1])), at: .now())
    }

    /// A granted request of `person` by `organisation` with this offer, decided at `now`.
    static func pricedGrant(_ store: ProfferStore, _ organisation: Organisation, _ person: Person, offer: Offer, at now: Timestamp = .now(),
                            days: Int = 30) async throws -> Grant {
        let request = DataRequest(id: .generate(), organisationID: organisation.id, personID: person.id, keys: ["contact.email"],
                                  purpose: "ServiceProvision", retentionDays: 30, thirdParties: [], durationDays: days, reason: "test",
                                  state: .pending, createdAt: now, decidedAt: nil, grantID: nil, offer: offer)
        try await store.createRequest(request)
        let grant = Grant(id: .generate(), requestID: request.id, organisationID: organisation.id, personID: person.id, keys: request.keys,
                          purpose: request.purpose, retentionDays: 30, thirdParties: [], createdAt: now, expiresAt: now.adding(days: days),
                          revokedAt: nil, offer: offer)
        return try await store.grantRequest(grant, by: person.id)
    }

    /// Runs `body` with two stores on one fresh database: on PostgreSQL two instances, as two servers would be;
    /// on SQLite, where one process is the only writer, the same store twice.
    static func withTwoInstances(_ engine: TestEngine, _ body: (ProfferStore, ProfferStore) async throws -> Void) async throws {
        let database = try await TestDatabase.make(engine)
        let store = try await database.openStore()
        let other = engine == .postgres ? try await database.openStore() : store
        do {
            try await body(store, other)
        } catch {
            if engine == .postgres { await other.shutdown() }
            await store.shutdown()
            throw error
        }
        if engine == .postgres { await other.shutdown() }
        await store.shutdown()
    }

    static func count(_ store: ProfferStore, _ sql: String) async throws -> Int {
        try await store.engine.read { db in try await db.raw(SQLQueryString(sql)).first()?.decode(column: "n", as: Int.self) ?? -1 }
    }

    /// The ledger's legs are indexed by account for wallets only (migration 17): an organisation's statement still
    /// finds its charges, and `proffer ledger check` still finds a fee account whose balance disagrees with its legs.
    @Test(arguments: engines)
    func onlyWalletLegsAreIndexedAndEveryBalanceIsStillChecked(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let indexes = try await store.engine.read { db in
                let sql: SQLQueryString = engine == .sqlite
                    ? "SELECT name, sql AS definition FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ledger_entries' AND sql IS NOT NULL"
                    : "SELECT indexname AS name, indexdef AS definition FROM pg_indexes WHERE tablename = 'ledger_entries' AND indexname NOT LIKE '%pkey'"
                return try await db.raw(sql).all().map { (try $0.decode(column: "name", as: String.self), try $0.decode(column: "definition", as: String.self)) }
            }
            #expect(indexes.map(\.0) == ["ledger_entries_by_wallet"])
            #expect(indexes.first?.1.contains("'wallet:'") == true, "\(indexes)")

            let organisation = try await StoreContractTests.makeOrganisation(store)
            let person = try await StoreContractTests.makePerson(store)
            let grant = try await Self.pricedGrant(store, organisation, person, offer: .price(.perDisclosure, Money(minorUnits: 20, currency: "EUR")))
            try await Self.fund(store, organisation, 100)
            for _ in 0..<3 { _ = try await store.disclose(grant: grant.id, organisation: organisation.id, at: .now()) }
            let lines = try await store.statement(of: .organisation(organisation.id), from: Timestamp.now().adding(days: -1), to: Timestamp.now().adding(days: 1))
            #expect(lines.filter { $0.kind == "disclosure-charge" }.map(\.transfers) == [3])
            #expect(try await store.checkLedger().isValid)

            try await store.engine.withWriteConnection { db in
                try await db.raw("UPDATE ledger_accounts SET balance = balance + 1 WHERE kind = 'operator-fees'").run()
            }
            let problems = try await store.checkLedger().problems
            #expect(problems.contains { $0.hasPrefix("account fees:EUR has balance") && $0.contains("but its entries sum to") }, "\(problems)")
        }
    }

    @Test(arguments: engines)
    func racingDisclosuresSpendExactlyTheAffordableCents(engine: TestEngine) async throws {
        // On PostgreSQL a second instance races the first over the same wallet, as two servers would.
        try await Self.withTwoInstances(engine) { store, other in
            let organisation = try await StoreContractTests.makeOrganisation(store)
            let price = Money(minorUnits: 30, currency: "EUR")
            var grants: [Grant] = []
            for _ in 0..<4 {
                let person = try await StoreContractTests.makePerson(store)
                grants.append(try await Self.pricedGrant(store, organisation, person, offer: .price(.perDisclosure, price)))
            }
            try await Self.fund(store, organisation, 7 * 30 + 10)
            let outcomes = await withTaskGroup(of: String.self, returning: [String].self) { group in
                for index in 0..<48 {
                    let grant = grants[index % grants.count]
                    let instance = index % 2 == 0 ? store : other
                    group.addTask {
                        do {
                            _ = try await instance.disclose(grant: grant.id, organisation: organisation.id, at: .now())
                            return "paid"
                        } catch DomainError.paymentRequired(_, let shortfall, _) {
                            return shortfall.rawValue
                        } catch {
                            return "unexpected \(error)"
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == "paid" }.count == 7, "\(outcomes)")
            #expect(outcomes.filter { $0 == "insufficient-funds" }.count == 41, "\(outcomes)")
            #expect(try await store.walletBalances(organisation.id) == [Money(minorUnits: 10, currency: "EUR")])
            // 5 % of 30 is 1.5: the fee rounds down to 1, the person gets 29.
            var earned: Int64 = 0
            for grant in grants { earned += try await store.earningsBalances(grant.personID).first?.minorUnits ?? 0 }
            #expect(earned == 7 * 29)
            #expect(try await Self.count(store, "SELECT COUNT(*) AS n FROM ledger_transfers WHERE kind = 'disclosure-charge'") == 7)
            #expect(try await Self.count(store, "SELECT COUNT(*) AS n FROM audit_entries WHERE kind = 'disclosure'") == 7)
            #expect(try await Self.count(store, "SELECT COUNT(*) AS n FROM audit_entries WHERE kind = 'disclosure.refused'") == 41)
            let report = try await store.checkLedger()
            #expect(report.isValid, "\(report.problems)")
            for grant in grants {
                #expect(AuditChainVerifier.verify(try await StoreContractTests.fullChain(store, grant.personID)).isValid)
            }
        }
    }

    @Test(arguments: engines)
    func theLedgerCheckFindsAnUnpaidOrDoublePaidDisclosure(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let organisation = try await StoreContractTests.makeOrganisation(store)
            let person = try await StoreContractTests.makePerson(store)
            let grant = try await Self.pricedGrant(store, organisation, person, offer: .price(.perDisclosure, Money(minorUnits: 20, currency: "EUR")))
            try await Self.fund(store, organisation, 100)
            _ = try await store.disclose(grant: grant.id, organisation: organisation.id, at: .now())
            _ = try await store.disclose(grant: grant.id, organisation: organisation.id, at: .now())
            #expect(try await store.checkLedger().isValid)
            // Tamper: detach one charge from its disclosure.
            try await store.engine.withWriteConnection { db in
                try await db.raw("UPDATE ledger_transfers SET audit_seq = 9999 WHERE kind = 'disclosure-charge' AND audit_seq = (SELECT MIN(audit_seq) FROM ledger_transfers WHERE kind = 'disclosure-charge')").run()
            }
            let report = try await store.checkLedger()
            #expect(report.problems.contains { $0.contains("has 0 charges, not 1") }, "\(report.problems)")
            #expect(report.problems.contains { $0.contains("matches no disclosure") }, "\(report.problems)")
        }
    }

    @Test(arguments: engines)
    func earningsAreFoundThroughTheAuditLogAndTheCheckFindsABrokenLink(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let organisation = try await StoreContractTests.makeOrganisation(store)
            let person = try await StoreContractTests.makePerson(store)
            let bystander = try await StoreContractTests.makePerson(store)
            let price = Money(minorUnits: 20, currency: "EUR")
            let grant = try await Self.pricedGrant(store, organisation, person, offer: .price(.perDisclosure, price))
            let other = try await Self.pricedGrant(store, organisation, bystander, offer: .price(.perDisclosure, price))
            try await Self.fund(store, organisation, 1_000)
            for _ in 0..<3 { _ = try await store.disclose(grant: grant.id, organisation: organisation.id, at: .now()) }
            _ = try await store.disclose(grant: other.id, organisation: organisation.id, at: .now())
            // Each person earns their own charges only (the default fee keeps a share: whatever it is, the sums add up).
            let mine = try #require(try await store.earningsBalances(person.id).first)
            let theirs = try #require(try await store.earningsBalances(bystander.id).first)
            #expect(mine.minorUnits == 3 * theirs.minorUnits && theirs.minorUnits > 0)
            let statement = try await store.statement(of: .person(person.id), from: Timestamp.now().adding(days: -1), to: Timestamp.now().adding(days: 1))
            #expect(statement.map(\.transfers) == [3])
            #expect(statement.map(\.amount) == [mine])
            #expect(statement.map(\.counterpart) == [organisation.id.rawValue])
            #expect(try await Self.count(store, "SELECT COUNT(*) AS n FROM audit_entries WHERE transfer_id IS NOT NULL") == 4)
            #expect(try await store.checkLedger().isValid)

            // Tamper: one disclosure forgets its charge, another names a charge that is not its own.
            try await store.engine.withWriteConnection { db in
                try await db.raw("""
                    UPDATE audit_entries SET transfer_id = NULL
                    WHERE person_id = \(bind: person.id.rawValue) AND seq = (SELECT MIN(seq) FROM audit_entries WHERE person_id = \(bind: person.id.rawValue) AND transfer_id IS NOT NULL)
                    """).run()
                try await db.raw("""
                    UPDATE audit_entries SET transfer_id = (SELECT MIN(transfer_id) FROM audit_entries WHERE person_id = \(bind: person.id.rawValue))
                    WHERE person_id = \(bind: bystander.id.rawValue) AND transfer_id IS NOT NULL
                    """).run()
            }
            let report = try await store.checkLedger()
            #expect(report.problems.filter { $0.contains("audit log does not link it") }.count == 2, "\(report.problems)")
            #expect(report.problems.contains { $0.contains("which does not name it back") }, "\(report.problems)")
            #expect(try await store.earningsBalances(person.id) == [Money(minorUnits: 2 * theirs.minorUnits, currency: "EUR")])
        }
    }

    @Test(arguments: engines)
    func aVersion10LedgerLinksItsChargesFromTheAuditLogThroughTheUpgrade(engine: TestEngine) async throws {
        let database = try await TestDatabase.make(engine)
        let store = try await database.openStore()
        let organisation = try await StoreContractTests.makeOrganisation(store)
        let person = try await StoreContractTests.makePerson(store)
        let t0 = try #require(Timestamp(rfc3339: "2026-01-31T10:00:00Z"))
        let perRead = try await Self.pricedGrant(store, organisation, person, offer: .price(.perDisclosure, Money(minorUnits: 20, currency: "EUR")), at: t0)
        let monthly = try await Self.pricedGrant(store, organisation, person, offer: .price(.perMonth, Money(minorUnits: 500, currency: "EUR")), at: t0)
        try await Self.fund(store, organisation, 1_000)
        for minute in 1...2 { _ = try await store.disclose(grant: perRead.id, organisation: organisation.id, at: t0.adding(seconds: 60 * minute)) }
        #expect(try await store.chargeDuePeriods(at: t0.adding(seconds: 300)).count == 1)
        _ = try await store.disclose(grant: monthly.id, organisation: organisation.id, at: t0.adding(seconds: 360))
        let earned = try await store.earningsBalances(person.id)
        let statement = try await store.statement(of: .person(person.id), from: t0, to: t0.adding(days: 1))
        #expect(statement.map(\.kind).sorted() == ["disclosure-charge", "period-charge"])
        // Back to what version 10 wrote: no links from the audit log, period charges without their entry's
        // sequence, and every leg indexed by account.
        try await store.engine.withWriteConnection { db in
            try await db.raw("UPDATE ledger_transfers SET audit_seq = NULL WHERE kind = 'period-charge'").run()
            try await db.raw("ALTER TABLE audit_entries DROP COLUMN transfer_id").run()
            try await db.raw("DROP INDEX ledger_entries_by_wallet").run()
            try await db.raw("CREATE INDEX ledger_entries_by_account ON ledger_entries (account_id)").run()
            try await db.raw("DELETE FROM schema_migrations WHERE version IN (11, 17)").run()
        }
        await store.shutdown()
        let upgraded = try await database.openStore()
        #expect(try await upgraded.earningsBalances(person.id) == earned)
        #expect(try await upgraded.statement(of: .person(person.id), from: t0, to: t0.adding(days: 1)) == statement)
        #expect(try await Self.count(upgraded, "SELECT COUNT(*) AS n FROM ledger_transfers WHERE audit_seq IS NULL") == 1, "only the wallet credit")
        let report = try await upgraded.checkLedger()
        #expect(report.isValid, "\(report.problems)")
        await upgraded.shutdown()
    }

    @Test(arguments: engines)
    func aRetriedPricedReadIsChargedOnce(engine: TestEngine) async throws {
        // On PostgreSQL a second instance retries the same reads, as a client's retry may reach another server.
        try await Self.withTwoInstances(engine) { store, second in
            let organisation = try await StoreContractTests.makeOrganisation(store)
            let person = try await StoreContractTests.makePerson(store)
            let grant = try await Self.pricedGrant(store, organisation, person, offer: .price(.perDisclosure, Money(minorUnits: 20, currency: "EUR")))
            try await Self.fund(store, organisation, 1_000)
            _ = try await store.putRecord(person: person.id, key: "contact.email", at: .now()) { _ in Data("first".utf8) }
            let first = try await store.disclose(grant: grant.id, organisation: organisation.id, idempotencyKey: "read-1", at: .now())
            #expect(!first.replayed)
            #expect(first.records.map(\.ciphertext) == [Data("first".utf8)])
            // The record changes; a retry still gets the first result — the version first sent — and pays nothing.
            _ = try await store.putRecord(person: person.id, key: "contact.email", at: .now()) { _ in Data("second".utf8) }
            let again = try await store.disclose(grant: grant.id, organisation: organisation.id, idempotencyKey: "read-1", at: .now())
            #expect(again.replayed)
            #expect(again.records.map(\.ciphertext) == [Data("first".utf8)], "a retry must not be a free read of new data")
            // A day later the key no longer replays: a new read needs a new key.
            await #expect(throws: LedgerError.idempotencyExpired(key: "read-1")) {
                _ = try await store.disclose(grant: grant.id, organisation: organisation.id, idempotencyKey: "read-1", at: Timestamp.now().adding(seconds: 25 * 3600))
            }
            let together = try await withThrowingTaskGroup(of: Bool.self, returning: [Bool].self) { group in
                for index in 0..<10 {
                    let instance = index % 2 == 0 ? store : second
                    group.addTask { try await instance.disclose(grant: grant.id, organisation: organisation.id, idempotencyKey: "read-2", at: .now()).replayed }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(together.filter { !$0 }.count == 1, "exactly one of ten concurrent reads with one key is paid: \(together)")
            // The same key for another read (another grant) is refused, and moves nothing.
            let someoneElse = try await StoreContractTests.makePerson(store)
            let other = try await Self.pricedGrant(store, organisation, someoneElse, offer: .price(.perDisclosure, Money(minorUnits: 20, currency: "EUR")))
            await #expect(throws: LedgerError.idempotencyConflict(key: "read-1")) {
                _ = try await store.disclose(grant: other.id, organisation: organisation.id, idempotencyKey: "read-1", at: .now())
            }
            #expect(try await store.walletBalances(organisation.id) == [Money(minorUnits: 960, currency: "EUR")])
            #expect(try await Self.count(store, "SELECT COUNT(*) AS n FROM disclosure_retries") == 10)
            let report = try await store.checkLedger()
            #expect(report.isValid, "\(report.problems)")
        }
    }

    @Test(arguments: engines)
    func monthlyGrantsPayEachPeriodOnceAndAreSuspendedWhenUnpaid(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let organisation = try await StoreContractTests.makeOrganisation(store)
            let person = try await StoreContractTests.makePerson(store)
            // Created on 31 January: the next periods start on 28 February and 31 March (month ends clamp).
            let t0 = try #require(Timestamp(rfc3339: "2026-01-31T10:00:00Z"))
            let monthly = Money(minorUnits: 500, currency: "EUR")
            var grant = try await Self.pricedGrant(store, organisation, person, offer: .price(.perMonth, monthly), at: t0, days: 75)
            // The wallet is empty: the grant starts suspended, and reading it is refused (and audited).
            #expect(grant.suspendedAt == t0)
            #expect(grant.paidUntil == nil)
            do {
                _ = try await store.disclose(grant: grant.id, organisation: organisation.id, at: t0.adding(seconds: 60))
                Issue.record("a suspended grant disclosed")
            } catch DomainError.paymentRequired(_, let shortfall, _) {
                #expect(shortfall == .suspended)
            }

            try await Self.fund(store, organisation, 1_200)
            let first = try await store.chargeDuePeriods(at: t0.adding(seconds: 120))
            #expect(first.count == 1)
            guard case .charged(let paid, let firstPeriod)? = first.first?.result else { Issue.record("not charged: \(first)"); return }
            // It resumes two minutes into its first month and pays for the rest of it: 500 × (28 days − 120 s) / 28 days.
            #expect(paid == Money(minorUnits: 499, currency: "EUR"))
            #expect(firstPeriod.start == t0)
            grant = try #require(try await store.grant(id: grant.id))
            #expect(grant.suspendedAt == nil)
            #expect(grant.paidUntil == Timestamp(rfc3339: "2026-02-28T10:00:00Z"))
            _ = try await store.disclose(grant: grant.id, organisation: organisation.id, at: t0.adding(seconds: 180))
            // Running again at once charges nothing: the period is paid.
            #expect(try await store.chargeDuePeriods(at: t0.adding(seconds: 240)).isEmpty)

            // Shortly before the second period starts it is charged (the look-ahead), exactly once.
            let second = try #require(Timestamp(rfc3339: "2026-02-28T09:57:00Z"))
            #expect(try await store.chargeDuePeriods(at: second).count == 1)
            #expect(try await store.chargeDuePeriods(at: second).isEmpty)
            #expect(try await store.walletBalances(organisation.id) == [Money(minorUnits: 201, currency: "EUR")])
            grant = try #require(try await store.grant(id: grant.id))
            #expect(grant.paidUntil == Timestamp(rfc3339: "2026-03-31T10:00:00Z"))

            // The third period is cut short by expiry on 16 April: 16 of April's 30 days, 500 × 16 / 30 = 266.
            // Tried early, the wallet cannot pay: the paid second period still runs to its end, nothing is suspended.
            let early = try await store.chargeDuePeriods(at: try #require(Timestamp(rfc3339: "2026-03-31T09:58:00Z")))
            guard case .deferred(let owed, _)? = early.first?.result else { Issue.record("not deferred: \(early)"); return }
            #expect(owed == Money(minorUnits: 266, currency: "EUR"))
            _ = try await store.disclose(grant: grant.id, organisation: organisation.id, at: try #require(Timestamp(rfc3339: "2026-03-31T09:59:00Z")))
            let third = try #require(Timestamp(rfc3339: "2026-03-31T10:00:05Z"))
            let unpaid = try await store.chargeDuePeriods(at: third)
            #expect(unpaid.count == 1)
            guard case .suspended(let due, let period)? = unpaid.first?.result else { Issue.record("not suspended: \(unpaid)"); return }
            #expect(due == Money(minorUnits: 266, currency: "EUR"))
            #expect(period.end == Timestamp(rfc3339: "2026-04-16T10:00:00Z"))
            do {
                _ = try await store.disclose(grant: grant.id, organisation: organisation.id, at: third.adding(seconds: 1))
                Issue.record("an unpaid period disclosed")
            } catch DomainError.paymentRequired(_, let shortfall, _) {
                #expect(shortfall == .suspended)
            }
            try await Self.fund(store, organisation, 100)
            // Resuming a minute later it pays for what is left: 500 × (16 days − 65 s) / 30 days = 266.65…, so 266.
            let resumed = try await store.chargeDuePeriods(at: third.adding(seconds: 60))
            #expect(resumed.map(\.result) == [.charged(Money(minorUnits: 266, currency: "EUR"), period)])
            _ = try await store.disclose(grant: grant.id, organisation: organisation.id, at: third.adding(seconds: 120))
            #expect(try await store.walletBalances(organisation.id) == [Money(minorUnits: 35, currency: "EUR")])
            // After expiry nothing more is charged.
            #expect(try await store.chargeDuePeriods(at: try #require(Timestamp(rfc3339: "2026-05-01T00:00:00Z"))).isEmpty)

            let kinds = try await StoreContractTests.fullChain(store, person.id).map(\.kind)
            #expect(kinds.filter { $0 == .grantSuspended }.count == 2, "one entry per suspension, not per failed run")
            #expect(kinds.filter { $0 == .periodCharged }.count == 3)
            #expect(kinds.filter { $0 == .disclosureRefused }.count == 2)
            #expect(AuditChainVerifier.verify(try await StoreContractTests.fullChain(store, person.id)).isValid)
            #expect(try await Self.count(store, "SELECT COUNT(*) AS n FROM ledger_transfers WHERE kind = 'period-charge'") == 3)
            let report = try await store.checkLedger()
            #expect(report.isValid, "\(report.problems)")
        }
    }

    @Test(arguments: engines)
    func aMonthPaidAheadIsRefundedWhenTheGrantIsRevokedBeforeItBegins(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let organisation = try await StoreContractTests.makeOrganisation(store)
            let person = try await StoreContractTests.makePerson(store)
            let t0 = try #require(Timestamp(rfc3339: "2026-01-31T10:00:00Z"))
            let monthly = Money(minorUnits: 500, currency: "EUR")
            try await Self.fund(store, organisation, 2_000)
            var grant = try await Self.pricedGrant(store, organisation, person, offer: .price(.perMonth, monthly), at: t0, days: 90)
            #expect(grant.paidUntil == Timestamp(rfc3339: "2026-02-28T10:00:00Z"), "the first month is paid when the person grants")
            // Three minutes before the second month begins it is charged ahead (the look-ahead)…
            let ahead = try #require(Timestamp(rfc3339: "2026-02-28T09:57:00Z"))
            #expect(try await store.chargeDuePeriods(at: ahead).count == 1)
            #expect(try await store.walletBalances(organisation.id) == [Money(minorUnits: 1_000, currency: "EUR")])
            let earnedBoth = try #require(try await store.earningsBalances(person.id).first)
            _ = try await WebhookOutboxStoreTests.endpoint(store, organisation, [.grantRevoked])
            // …and the person revokes a minute later, before it begins: that month goes back, the first stays paid.
            grant = try await store.revokeGrant(grant.id, by: person.id, reason: "changed my mind", at: ahead.adding(seconds: 60))
            #expect(grant.paidUntil == Timestamp(rfc3339: "2026-02-28T10:00:00Z"))
            #expect(try await store.walletBalances(organisation.id) == [Money(minorUnits: 1_500, currency: "EUR")])
            let earned = try #require(try await store.earningsBalances(person.id).first)
            #expect(earned.minorUnits * 2 == earnedBoth.minorUnits, "the person keeps the first month's share only")
            let revocation = try #require(try await StoreContractTests.fullChain(store, person.id).last)
            #expect(revocation.kind == .grantRevoked)
            #expect(revocation.note?.contains("refunded to the organisation (5.00 EUR)") == true, "\(revocation.note ?? "")")
            let lines = try await store.statement(of: .organisation(organisation.id), from: t0, to: t0.adding(days: 60))
            #expect(lines.first { $0.kind == "period-refund" }?.amount == Money(minorUnits: 500, currency: "EUR"))
            // The organisation is told in the revocation's event, with the refund's transfer as its statement shows it.
            let told = try await WebhookOutboxStoreTests.events(store, organisation).filter { $0.type == .grantRevoked }
            guard told.count == 1, case .object(let data) = told[0].payload, case .object(let refund)? = data["refund"] else {
                Issue.record("no grant.revoked event with a refund: \(told.map(\.payload))")
                return
            }
            #expect(refund["amount"] == Money(minorUnits: 500, currency: "EUR").json)
            #expect(refund["periodStart"] == .string("2026-02-28T10:00:00.000Z"))
            guard case .string(let transfer)? = refund["transferId"], let id = TransferID(transfer) else {
                Issue.record("the refund names no transfer")
                return
            }
            #expect(try await Self.count(store, "SELECT COUNT(*) AS n FROM ledger_transfers WHERE kind = 'period-refund' AND id = '\(id.rawValue)'") == 1)
            #expect(try await store.statement(of: .person(person.id), from: t0, to: t0.adding(days: 60)).first { $0.kind == "period-refund" }?.amount
                    == Money(minorUnits: earned.minorUnits - earnedBoth.minorUnits, currency: "EUR"))
            var report = try await store.checkLedger()
            #expect(report.isValid, "\(report.problems)")

            // A month that has begun stays paid: revoking another grant mid-month moves nothing.
            let other = try await Self.pricedGrant(store, organisation, person, offer: .price(.perMonth, monthly), at: t0, days: 90)
            let before = try await store.walletBalances(organisation.id)
            _ = try await store.revokeGrant(other.id, by: person.id, reason: nil, at: t0.adding(days: 10))
            #expect(try await store.walletBalances(organisation.id) == before)
            let quiet = try await WebhookOutboxStoreTests.events(store, organisation).filter { $0.type == .grantRevoked && $0.grantID == other.id }
            if case .object(let data)? = quiet.first?.payload { #expect(data["refund"] == nil && data["revokedAt"] != nil) } else { Issue.record("no event") }
            report = try await store.checkLedger()
            #expect(report.isValid, "\(report.problems)")
        }
    }

    @Test(arguments: engines)
    func grantsThatCannotPayNeverCrowdOutThoseThatCan(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let t0 = try #require(Timestamp(rfc3339: "2026-03-01T00:00:00Z"))
            let broke = try await StoreContractTests.makeOrganisation(store)
            for _ in 0..<5 {
                let person = try await StoreContractTests.makePerson(store)
                let grant = try await Self.pricedGrant(store, broke, person, offer: .price(.perMonth, Money(minorUnits: 100, currency: "EUR")), at: t0, days: 90)
                #expect(grant.suspendedAt != nil)
            }
            let solvent = try await StoreContractTests.makeOrganisation(store)
            try await Self.fund(store, solvent, 1_000)
            let person = try await StoreContractTests.makePerson(store)
            let paying = try await Self.pricedGrant(store, solvent, person, offer: .price(.perMonth, Money(minorUnits: 100, currency: "EUR")), at: t0, days: 90)
            let later = try #require(Timestamp(rfc3339: "2026-04-01T00:00:30Z"))
            let charges = try await store.chargeDuePeriods(at: later)
            #expect(charges.count == 6, "every due grant is looked at once per run")
            #expect(charges.filter { if case .charged = $0.result { true } else { false } }.map(\.grant.id) == [paying.id])
            #expect(try await store.grant(id: paying.id)?.paidUntil == Timestamp(rfc3339: "2026-05-01T00:00:00Z"))
            #expect(try await store.checkLedger().isValid)
        }
    }

    @Test(arguments: engines)
    func concurrentChargeRunsChargeEachPeriodOnce(engine: TestEngine) async throws {
        try await Self.withTwoInstances(engine) { store, other in
            let organisation = try await StoreContractTests.makeOrganisation(store)
            try await Self.fund(store, organisation, 100_000)
            let t0 = try #require(Timestamp(rfc3339: "2026-03-01T00:00:00Z"))
            for _ in 0..<12 {
                let person = try await StoreContractTests.makePerson(store)
                _ = try await Self.pricedGrant(store, organisation, person, offer: .price(.perMonth, Money(minorUnits: 700, currency: "EUR")), at: t0, days: 90)
            }
            let later = try #require(Timestamp(rfc3339: "2026-04-01T00:00:01Z"))
            let runs = try await withThrowingTaskGroup(of: Int.self, returning: Int.self) { group in
                for index in 0..<6 {
                    let instance = index % 2 == 0 ? store : other
                    group.addTask { try await instance.chargeDuePeriods(at: later).filter { if case .charged = $0.result { true } else { false } }.count }
                }
                return try await group.reduce(0, +)
            }
            #expect(runs == 12, "each grant's second period charged by exactly one run")
            #expect(try await Self.count(store, "SELECT COUNT(*) AS n FROM ledger_transfers WHERE kind = 'period-charge'") == 24)
            #expect(try await store.walletBalances(organisation.id) == [Money(minorUnits: 100_000 - 24 * 700, currency: "EUR")])
            #expect(try await store.checkLedger().isValid)
        }
    }
}
