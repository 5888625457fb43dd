import Foundation
import ProfferCore
import ProfferStorage
import ProfferTestSupport
import SQLKit
import Testing

/// The storage contract for the double-entry ledger, on both engines.
@Suite("Storage contract: ledger")
struct LedgerStoreTests {
    static let engines = TestEngine.available

    static func key(_ text: String, digest: String = "d") -> IdempotencyKey {
        IdempotencyKey(scope: "admin", key: text, requestDigest: Data(digest.utf8))
    }

    @Test(arguments: engines)
    func creditsAreDoubleEntryAndIdempotent(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let organisation = try await StoreContractTests.makeOrganisation(store)
            let euros = Money(minorUnits: 10_000, currency: "EUR")
            let (first, replayedFirst) = try await store.creditWallet(organisation.id, euros, reference: "bank 123", provider: "manual", idempotency: Self.key("k1"), at: .now())
            #expect(!replayedFirst)
            #expect(first.balance == Money(minorUnits: 10_000, currency: "EUR"))
            let (again, replayed) = try await store.creditWallet(organisation.id, euros, reference: "bank 123", provider: "manual", idempotency: Self.key("k1"), at: .now())
            #expect(replayed)
            #expect(again == first, "a retry answers exactly the first result")
            await #expect(throws: LedgerError.idempotencyConflict(key: "k1")) {
                _ = try await store.creditWallet(organisation.id, Money(minorUnits: 5, currency: "EUR"), reference: "other", provider: "manual", idempotency: Self.key("k1", digest: "other"), at: .now())
            }
            _ = try await store.creditWallet(organisation.id, Money(minorUnits: 250, currency: "JPY"), reference: "yen", provider: "manual", idempotency: Self.key("k2"), at: .now())
            let balances = try await store.walletBalances(organisation.id)
            #expect(balances == [Money(minorUnits: 10_000, currency: "EUR"), Money(minorUnits: 250, currency: "JPY")])
            let report = try await store.checkLedger()
            #expect(report.isValid, "\(report.problems)")
            #expect(report.transfers == 2)
            #expect(report.accounts == 4)
            await #expect(throws: DomainError.self) {
                _ = try await store.creditWallet(.generate(), euros, reference: "x", provider: "manual", idempotency: Self.key("k3"), at: .now())
            }
            #expect(try await store.checkLedger().transfers == 2, "a refused credit moved nothing")
        }
    }

    @Test(arguments: engines)
    func concurrentCreditsNeverLoseACent(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let organisation = try await StoreContractTests.makeOrganisation(store)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<60 {
                    group.addTask {
                        // Every key is used twice at once: only one of each pair may move money.
                        _ = try await store.creditWallet(organisation.id, Money(minorUnits: 7, currency: "GBP"), reference: "r\(index / 2)", provider: "manual",
                                                         idempotency: Self.key("c\(index / 2)"), at: .now())
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await store.walletBalances(organisation.id) == [Money(minorUnits: 210, currency: "GBP")])
            let report = try await store.checkLedger()
            #expect(report.isValid, "\(report.problems)")
            #expect(report.transfers == 30)
        }
    }

    @Test(arguments: engines)
    func aVersion7LedgerKeepsEveryCentThroughTheUpgrade(engine: TestEngine) async throws {
        let database = try await TestDatabase.make(engine)
        let old = try await openDatabase(database.location, logger: TestDatabase.logger)
        try await Migrator.migrate(old, upTo: 7)
        // A wallet credit as version 7 wrote it.
        try await old.withWriteConnection { db in
            try await db.raw("INSERT INTO organisations (id, name, domain, verified, client_id, secret_digest, created_at) VALUES ('org_00000000-0000-0000-0000-000000000001', 'Old Bank', 'old.example', 1, 'cl_old', \(bind: Data([1])), 0)").run()
            try await db.raw("INSERT INTO ledger_transfers (id, kind, currency, reference, at) VALUES ('trf_00000000-0000-0000-0000-000000000001', 'wallet-credit', 'EUR', 'bank 1', 0)").run()
            try await db.raw("INSERT INTO ledger_accounts (id, kind, currency, balance, minimum) VALUES ('external:EUR', 'external', 'EUR', -700, NULL), ('wallet:org_00000000-0000-0000-0000-000000000001:EUR', 'organisation-wallet', 'EUR', 700, 0)").run()
            try await db.raw("INSERT INTO ledger_entries (transfer_id, account_id, amount) VALUES ('trf_00000000-0000-0000-0000-000000000001', 'external:EUR', -700), ('trf_00000000-0000-0000-0000-000000000001', 'wallet:org_00000000-0000-0000-0000-000000000001:EUR', 700)").run()
        }
        await old.shutdown()
        let store = try await database.openStore()
        let organisation = OrganisationID(trusted: "org_00000000-0000-0000-0000-000000000001")
        #expect(try await store.walletBalances(organisation) == [Money(minorUnits: 700, currency: "EUR")])
        _ = try await store.creditWallet(organisation, Money(minorUnits: 300, currency: "EUR"), reference: "bank 2", provider: "manual", idempotency: Self.key("after"), at: .now())
        let report = try await store.checkLedger()
        #expect(report.isValid, "\(report.problems)")
        #expect(report.transfers == 2)
        #expect(try await store.walletBalances(organisation) == [Money(minorUnits: 1_000, currency: "EUR")])
        await store.shutdown()
    }

    @Test(arguments: engines)
    func theCheckFindsEveryBrokenInvariant(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let organisation = try await StoreContractTests.makeOrganisation(store)
            _ = try await store.creditWallet(organisation.id, Money(minorUnits: 100, currency: "EUR"), reference: "r", provider: "manual", idempotency: Self.key("k"), at: .now())
            // Tamper behind the ledger's back: an entry changed, a balance changed.
            try await store.engine.withWriteConnection { db in
                try await db.raw("UPDATE ledger_entries SET amount = amount + 1 WHERE account_id LIKE 'wallet:%'").run()
                try await db.raw("UPDATE ledger_accounts SET balance = -5 WHERE id LIKE 'wallet:%'").run()
            }
            let report = try await store.checkLedger()
            #expect(!report.isValid)
            #expect(report.problems.contains { $0.contains("does not balance") })
            #expect(report.problems.contains { $0.contains("sum to") })
            #expect(report.problems.contains { $0.contains("entries sum to") })
            #expect(report.problems.contains { $0.contains("below its limit") })
        }
    }
}
