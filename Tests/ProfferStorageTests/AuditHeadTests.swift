import Foundation
import ProfferCore
import ProfferStorage
import ProfferTestSupport
import SQLKit
import Testing

/// Where a chain's newest link is kept: on SQLite it is the chain's newest entry (migration 12 dropped the head rows),
/// on PostgreSQL a locked head row per person. Either way every append must follow the newest link.
@Suite("Audit chain heads")
struct AuditHeadTests {
    static let engines = TestEngine.available

    @Test(arguments: engines)
    func aChainWrittenByVersion11GoesOnFromItsNewestLinkAfterTheUpgrade(engine: TestEngine) async throws {
        let database = try await TestDatabase.make(engine)
        let old = try await openDatabase(database.location, logger: TestDatabase.logger)
        try await Migrator.migrate(old, upTo: 11)
        // A person with two links, as version 11 wrote them: entries and a head row naming the second.
        let person = PersonID(trusted: "prs_00000000-0000-0000-0000-000000000011")
        let first = AuditEntry(event: AuditEvent(kind: .accountCreated, actor: "person", at: Timestamp(millisecondsSinceEpoch: 1_000)),
                               personID: person, previousSequence: 0, previousHash: AuditEntry.genesisHash)
        let second = AuditEntry(event: AuditEvent(kind: .recordPut, actor: "person", keys: ["contact.email"], at: Timestamp(millisecondsSinceEpoch: 2_000)),
                                personID: person, previousSequence: first.sequence, previousHash: first.hash)
        try await old.withWriteConnection { db in
            try await db.raw("INSERT INTO people (id, handle, email, password_hash, wrapped_key, created_at) VALUES (\(bind: person.rawValue), 'eleven', 'eleven@example.org', 'h', \(bind: Data([1])), 0)").run()
            for entry in [first, second] {
                try await db.raw("""
                    INSERT INTO audit_entries (person_id, seq, kind, actor, keys, at, previous_hash, hash)
                    VALUES (\(bind: person.rawValue), \(bind: entry.sequence), \(bind: entry.kind.rawValue), \(bind: entry.actor), \(bind: entry.keysJSON),
                            \(bind: entry.at.millisecondsSinceEpoch), \(bind: entry.previousHash), \(bind: entry.hash))
                    """).run()
            }
            try await db.raw("INSERT INTO audit_heads (person_id, seq, hash) VALUES (\(bind: person.rawValue), \(bind: second.sequence), \(bind: second.hash))").run()
        }
        await old.shutdown()

        try await database.withStore { store in
            let headTables = try await store.engine.read { db in
                try await db.raw(engine == .sqlite ? "SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'audit_heads'"
                                                   : "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_name = 'audit_heads'")
                    .first()?.decode(column: "n", as: Int.self)
            }
            #expect(headTables == (engine == .sqlite ? 0 : 1), "SQLite derives heads from the entries; PostgreSQL keeps its lockable head rows")
            #expect(try await store.auditHead(for: person) == (second.sequence, second.hash))

            // One link appended one at a time (a record change), then one by the disclosure batcher.
            _ = try await store.putRecord(person: person, key: "contact.email", at: .now()) { _ in Data("e".utf8) }
            let organisation = try await StoreContractTests.makeOrganisation(store)
            let request = DataRequest(id: .generate(), organisationID: organisation.id, personID: person, keys: ["contact.email"], purpose: "ServiceProvision",
                                      retentionDays: 30, thirdParties: [], durationDays: 10, reason: "delivery",
                                      state: .pending, createdAt: .now(), decidedAt: nil, grantID: nil)
            try await store.createRequest(request)
            let grant = try await store.grantRequest(StoreContractTests.grant(request, expiresAt: .now().adding(days: 1), at: .now()), by: person)
            let disclosed = try await store.disclose(grant: grant.id, organisation: organisation.id, at: .now()).entry

            let chain = try await StoreContractTests.fullChain(store, person)
            #expect(chain.prefix(2) == [first, second])
            #expect(chain.map(\.sequence) == Array(1...Int64(chain.count)), "no link skipped or repeated")
            #expect(chain.last == disclosed)
            #expect(AuditChainVerifier.verify(chain).isValid)
            #expect(try await store.auditHead(for: person) == (disclosed.sequence, disclosed.hash))
        }
    }

    @Test(arguments: engines)
    func concurrentAppendsOfBothKindsKeepEveryChainWhole(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let organisation = try await StoreContractTests.makeOrganisation(store)
            var grants: [(Person, Grant)] = []
            for _ in 0..<4 {
                let person = try await StoreContractTests.makePerson(store)
                let request = try await StoreContractTests.makeRequest(store, organisation, person)
                grants.append((person, try await store.grantRequest(StoreContractTests.grant(request, expiresAt: .now().adding(days: 1), at: .now()), by: person.id)))
            }
            // Disclosures (batched) and record changes (appended one by one) for the same people, all at once.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (person, grant) in grants {
                    for round in 0..<15 {
                        group.addTask { _ = try await store.disclose(grant: grant.id, organisation: organisation.id, at: .now()) }
                        if round % 3 == 0 {
                            group.addTask { _ = try await store.putRecord(person: person.id, key: "contact.email", at: .now()) { _ in Data("\(round)".utf8) } }
                        }
                    }
                }
                try await group.waitForAll()
            }
            for (person, _) in grants {
                let chain = try await StoreContractTests.fullChain(store, person.id)
                #expect(chain.filter { $0.kind == .disclosure }.count == 15)
                #expect(chain.filter { $0.kind == .recordPut }.count == 5)
                #expect(AuditChainVerifier.verify(chain).isValid)
                #expect(try await store.auditHead(for: person.id) == (try #require(chain.last).sequence, try #require(chain.last).hash))
            }
        }
    }
}
