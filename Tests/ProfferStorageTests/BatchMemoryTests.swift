import Foundation
import ProfferCore
import ProfferStorage
import ProfferTestSupport
import SQLKit
import Testing

/// On SQLite the disclosure batches keep grants' changing state and chains' heads between batches while nothing else
/// writes (`BatchMemory`), and people's sealed records (`RecordCache`). Whatever else writes — this store or another
/// process on the same file — the next batch must see it. (On PostgreSQL every batch reads those rows; the tests hold there too.)
@Suite("Disclosure batches see every other writer")
struct BatchMemoryTests {
    static let engines = TestEngine.available

    /// A person with a live grant to a new organisation, disclosed once so that the batch has something to remember.
    static func disclosedGrant(_ store: ProfferStore) async throws -> (Person, Organisation, Grant) {
        let person = try await StoreContractTests.makePerson(store)
        let organisation = try await StoreContractTests.makeOrganisation(store)
        let request = try await StoreContractTests.makeRequest(store, organisation, person)
        let grant = try await store.grantRequest(StoreContractTests.grant(request, expiresAt: .now().adding(days: 1), at: .now()), by: person.id)
        _ = try await store.disclose(grant: grant.id, organisation: organisation.id, at: .now())
        return (person, organisation, grant)
    }

    @Test(arguments: engines)
    func aRevocationCommittedByAnotherProcessStopsTheVeryNextDisclosure(engine: TestEngine) async throws {
        let database = try await TestDatabase.make(engine)
        try await database.withStore { store in
            let (_, organisation, grant) = try await Self.disclosedGrant(store)
            _ = try await store.disclose(grant: grant.id, organisation: organisation.id, at: .now())

            // Another process on the same database (an operator's command, say) revokes the grant behind the store's back.
            let revokedAt = Timestamp.now()
            let other = try await openDatabase(database.location, logger: TestDatabase.logger)
            try await other.withWriteConnection { db in
                try await db.raw("UPDATE grants SET revoked_at = \(bind: revokedAt.millisecondsSinceEpoch) WHERE id = \(bind: grant.id.rawValue)").run()
            }
            await other.shutdown()

            await #expect(throws: DomainError.grantNotActive(grantID: grant.id, status: .revoked, since: revokedAt)) {
                _ = try await store.disclose(grant: grant.id, organisation: organisation.id, at: .now())
            }
        }
    }

    @Test(arguments: engines)
    func aChainAppendedToByAnotherStoreGoesOnFromItsNewestLink(engine: TestEngine) async throws {
        let database = try await TestDatabase.make(engine)
        try await database.withStore { store in
            let (person, organisation, grant) = try await Self.disclosedGrant(store)

            try await database.withStore { other in
                _ = try await other.putRecord(person: person.id, key: "contact.email", at: .now()) { _ in Data("elsewhere".utf8) }
            }

            let entry = try await store.disclose(grant: grant.id, organisation: organisation.id, at: .now()).entry
            let chain = try await StoreContractTests.fullChain(store, person.id)
            #expect(chain.suffix(2).map(\.kind) == [.recordPut, .disclosure])
            #expect(chain.last == entry)
            #expect(AuditChainVerifier.verify(chain).isValid)
        }
    }

    @Test(arguments: engines)
    func aRecordChangedByAnotherStoreIsWhatTheNextDisclosureSends(engine: TestEngine) async throws {
        let database = try await TestDatabase.make(engine)
        try await database.withStore { store in
            let (person, organisation, grant) = try await Self.disclosedGrant(store)
            _ = try await store.putRecord(person: person.id, key: "contact.email", at: .now()) { _ in Data("here".utf8) }
            // Read twice, so the store holds the person's records in memory if it keeps them.
            for _ in 0..<2 {
                let sent = try await store.disclose(grant: grant.id, organisation: organisation.id, at: .now()).records
                #expect(sent.map(\.ciphertext) == [Data("here".utf8)])
            }

            // An operator's command on the same file (`proffer import`, say) changes the record, then another deletes one.
            try await database.withStore { other in
                _ = try await other.putRecord(person: person.id, key: "contact.email", at: .now()) { _ in Data("elsewhere".utf8) }
                _ = try await other.putRecord(person: person.id, key: "identity.name.full", at: .now()) { _ in Data("named".utf8) }
            }
            let changed = try await store.disclose(grant: grant.id, organisation: organisation.id, at: .now()).records
            #expect(changed.map(\.key) == ["contact.email", "identity.name.full"])
            #expect(changed.map(\.ciphertext) == [Data("elsewhere".utf8), Data("named".utf8)])
            #expect(changed.first?.version == 2)

            try await database.withStore { other in
                _ = try await other.deleteRecord(person: person.id, key: "contact.email", at: .now())
            }
            let afterDeletion = try await store.disclose(grant: grant.id, organisation: organisation.id, at: .now()).records
            #expect(afterDeletion.map(\.key) == ["identity.name.full"])
        }
    }

    @Test(arguments: engines)
    func writesOfThisStoreBetweenBatchesAreSeen(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let (person, organisation, grant) = try await Self.disclosedGrant(store)
            // A write that appends to the chain outside the batcher, then a disclosure; then a revocation, then one more.
            _ = try await store.putRecord(person: person.id, key: "contact.email", at: .now()) { _ in Data("new".utf8) }
            _ = try await store.disclose(grant: grant.id, organisation: organisation.id, at: .now())
            let revokedAt = Timestamp.now()
            _ = try await store.revokeGrant(grant.id, by: person.id, reason: nil, at: revokedAt)
            await #expect(throws: DomainError.grantNotActive(grantID: grant.id, status: .revoked, since: revokedAt)) {
                _ = try await store.disclose(grant: grant.id, organisation: organisation.id, at: .now())
            }
            let chain = try await StoreContractTests.fullChain(store, person.id)
            #expect(chain.suffix(4).map(\.kind) == [.disclosure, .recordPut, .disclosure, .grantRevoked])
            #expect(AuditChainVerifier.verify(chain).isValid)
        }
    }
}
