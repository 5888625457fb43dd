import Foundation
import ProfferCore
import ProfferStorage
import ProfferTestSupport
import SQLKit
import Testing

/// The storage contract for closing an account, on both engines.
@Suite("Storage contract: erasure")
struct ErasureStoreTests {
    static let engines = TestEngine.available

    /// A stand-in for a signed receipt: the store only keeps what the caller gives it.
    static func receipt(for decision: ClosureDecision, at now: Timestamp) -> ReceiptRecord {
        let (request, grant, event): (DataRequest, Grant?, ReceiptEvent) = switch decision {
        case .revoked(let grant, let request, _): (request, grant, .revoked)
        case .refused(let request, _): (request, nil, .refused)
        case .expired(let grant, let request, _): (request, grant, .expired)
        }
        return ReceiptRecord(id: .generate(), personID: request.personID, organisationID: request.organisationID, requestID: request.id,
                             grantID: grant?.id, event: event, kid: "test", jws: "x.y.z", issuedAt: now)
    }

    static func count(_ store: ProfferStore, _ table: String, person: PersonID) async throws -> Int {
        try await store.engine.read { db in
            try await db.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from(table)
                .where("person_id", .equal, person.rawValue).first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    @Test(arguments: engines)
    func closingAnAccountLeavesOnlyTheTombstone(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            // Setup: a person with records and history, terms, a rule, prices and a token; two organisations, one with
            // a live grant (read once) and a refused request, the other with a pending request and an expired grant.
            let person = try await StoreContractTests.makePerson(store, handle: "closer")
            let bystander = try await StoreContractTests.makePerson(store, handle: "bystander")
            let now = Timestamp.now()
            for (key, value) in [("contact.email", "a"), ("contact.email", "b"), ("identity.name.full", "c")] {
                _ = try await store.putRecord(person: person.id, key: key, at: now) { _ in Data(value.utf8) }
            }
            try await store.deleteRecord(person: person.id, key: "identity.name.full", at: now)
            _ = try await store.putRecord(person: bystander.id, key: "contact.email", at: now) { _ in Data("other".utf8) }
            try await store.setTerms([ProfferedTerm(id: .noOnwardSharing)], of: person.id, at: now)
            try await store.addRule(DecisionRule(id: .generate(), action: .refuse, keys: [.any], purposes: ["Marketing"], createdAt: now), for: person.id)
            try await store.setPrices(PriceList(entries: [PriceEntry(key: "contact.email", basis: .perDisclosure, price: Money(minorUnits: 5, currency: "EUR"))]),
                                      of: person.id, at: now)
            let digest = Data("session-secret".utf8)
            try await store.createToken(PersonToken(id: .generate(), personID: person.id, kind: .session, name: "session", createdAt: now,
                                                    expiresAt: now.adding(days: 1), revokedAt: nil), digest: digest)
            let bank = try await StoreContractTests.makeOrganisation(store)
            let insurer = try await StoreContractTests.makeOrganisation(store)
            let asked = try await StoreContractTests.makeRequest(store, bank, person)
            let live = try await store.grantRequest(StoreContractTests.grant(asked, expiresAt: now.adding(days: 5), at: now), by: person.id)
            _ = try await store.disclose(grant: live.id, organisation: bank.id, at: .now())
            let refusedEarlier = try await StoreContractTests.makeRequest(store, bank, person)
            _ = try await store.refuseRequest(refusedEarlier.id, by: person.id, note: nil, at: now)
            let pending = try await StoreContractTests.makeRequest(store, insurer, person)
            let old = try await StoreContractTests.makeRequest(store, insurer, person)
            let expired = try await store.grantRequest(StoreContractTests.grant(old, expiresAt: now.adding(seconds: -1), at: now.adding(seconds: -10)), by: person.id)
            let bystanderRequest = try await StoreContractTests.makeRequest(store, bank, bystander)
            let bystanderGrant = try await store.grantRequest(StoreContractTests.grant(bystanderRequest, expiresAt: now.adding(days: 5), at: now), by: bystander.id)

            // Act.
            let at = Timestamp.now()
            let closure = try await store.closeAccount(person: person.id, at: at) { decision in Self.receipt(for: decision, at: at) }

            // Check: what it answers.
            #expect(closure.handle == "closer")
            #expect(closure.erasedAt == at)
            #expect(closure.revokedGrants.map(\.id) == [live.id])
            #expect(closure.refusedRequests.map(\.id) == [pending.id])
            #expect(closure.recordVersionsDeleted == 4)
            #expect(Set(closure.notices) == [ErasureNotice(organisationID: bank.id, grantIDs: [live.id]),
                                             ErasureNotice(organisationID: insurer.id, grantIDs: [expired.id])])
            #expect(closure.closingEntry.kind == .accountClosed)
            // The tombstone: id, handle and times; no email, password hash or key.
            let tombstone = try #require(try await store.person(id: person.id))
            #expect(tombstone.handle == "closer")
            #expect(tombstone.erasedAt == at)
            #expect(tombstone.wrappedDataKey.isEmpty)
            #expect(tombstone.passwordHash.isEmpty)
            #expect(!tombstone.email.contains("@"))
            #expect(try await store.person(email: person.email) == nil)
            #expect(try await store.person(email: tombstone.email) == nil, "the placeholder is no address to sign in with")
            #expect(try await store.token(digest: digest, at: .now()) == nil)
            // Everything that held the person's data is gone.
            for table in ["records", "record_versions", "person_tokens", "person_terms", "decision_rules", "person_prices"] {
                #expect(try await Self.count(store, table, person: person.id) == 0, "\(table) still holds rows")
            }
            #expect(try await store.terms(of: person.id) == nil)
            #expect(try await store.rules(of: person.id).isEmpty)
            #expect(try await store.prices(of: person.id).entries.isEmpty)
            // Decisions: the live grant revoked, the pending request refused, the expiry recorded; each with its receipt.
            #expect(try await store.grant(id: live.id)?.revokedAt == at)
            #expect(try await store.request(id: pending.id)?.state == .refused)
            #expect(try await store.request(id: refusedEarlier.id)?.decidedAt == now, "an earlier decision is untouched")
            #expect(try await store.unrecordedExpiries(at: .now()).isEmpty)
            let receipts = try await store.receipts(of: .person(person.id))
            #expect(Set(receipts.map(\.event)) == [.revoked, .refused, .expired])
            await #expect(throws: DomainError.self) { _ = try await store.disclose(grant: live.id, organisation: bank.id, at: .now()) }
            // The audit chain is whole and ends with the closure.
            let chain = try await StoreContractTests.fullChain(store, person.id)
            #expect(AuditChainVerifier.verify(chain).isValid)
            #expect(chain.last?.kind == .accountClosed)
            #expect(chain.suffix(4).map(\.kind) == [.grantExpired, .grantRevoked, .requestRefused, .accountClosed])
            #expect(try await store.checkLedger().isValid)
            // The bystander is untouched.
            #expect(try await store.records(person: bystander.id).count == 1)
            #expect(try await store.grant(id: bystanderGrant.id)?.revokedAt == nil)
            #expect(try await store.person(id: bystander.id)?.erasedAt == nil)
        }
    }

    @Test(arguments: engines)
    func aClosedAccountTakesNoFurtherChange(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let person = try await StoreContractTests.makePerson(store, handle: "gone")
            let bank = try await StoreContractTests.makeOrganisation(store)
            let pending = try await StoreContractTests.makeRequest(store, bank, person)
            let closure = try await store.closeAccount(person: person.id, at: .now())
            let head = try await store.auditHead(for: person.id)
            #expect(head.hash == closure.closingEntry.hash)

            await #expect(throws: DomainError.personErased(handle: "gone", at: closure.erasedAt)) {
                _ = try await store.closeAccount(person: person.id, at: .now())
            }
            await #expect(throws: DomainError.personErased(handle: "gone", at: closure.erasedAt)) {
                _ = try await store.putRecord(person: person.id, key: "contact.email", at: .now()) { _ in Data("late".utf8) }
            }
            await #expect(throws: DomainError.personErased(handle: "gone", at: closure.erasedAt)) {
                _ = try await StoreContractTests.makeRequest(store, bank, person)
            }
            await #expect(throws: DomainError.self) {
                _ = try await store.grantRequest(StoreContractTests.grant(pending, expiresAt: .now().adding(days: 1), at: .now()), by: person.id)
            }
            #expect(try await store.records(person: person.id).isEmpty, "a refused write changed nothing")
            #expect(try await store.requests(of: .person(person.id)).count == 1)
            #expect(try await store.auditHead(for: person.id).hash == head.hash, "nothing follows the closing link")
            await #expect(throws: DomainError.notFound(what: "person", id: "prs_00000000-0000-0000-0000-000000000000")) {
                _ = try await store.closeAccount(person: PersonID(trusted: "prs_00000000-0000-0000-0000-000000000000"), at: .now())
            }
            // The handle stays taken; the email is free for a new account.
            let sameHandle = Person(id: .generate(), handle: "gone", email: "new@example.org", passwordHash: "x", wrappedDataKey: Data([1]), createdAt: .now())
            await #expect(throws: DomainError.self) { try await store.createPerson(sameHandle) }
            let sameEmail = Person(id: .generate(), handle: "newcomer", email: person.email, passwordHash: "x", wrappedDataKey: Data([1]), createdAt: .now())
            try await store.createPerson(sameEmail)
            #expect(try await store.person(email: person.email)?.id == sameEmail.id)
            // Two tombstones side by side: the placeholder keeps the email column unique.
            _ = try await store.closeAccount(person: sameEmail.id, at: .now())
        }
    }

    @Test(arguments: engines)
    func writesRacingAnErasureNeverOutliveIt(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let person = try await StoreContractTests.makePerson(store, handle: "racer")
            let bank = try await StoreContractTests.makeOrganisation(store)
            // Writes and the erasure at once: each write lands before the erasure (and is erased) or is refused after it.
            let closure = try await withThrowingTaskGroup(of: AccountClosure?.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        if index == 20 { return try await store.closeAccount(person: person.id, at: .now()) }
                        do {
                            if index % 2 == 0 {
                                _ = try await store.putRecord(person: person.id, key: "preference.language", at: .now()) { _ in Data("v\(index)".utf8) }
                            } else {
                                _ = try await StoreContractTests.makeRequest(store, bank, person)
                            }
                        } catch DomainError.personErased {}
                        return nil
                    }
                }
                var found: AccountClosure?
                for try await result in group { if let result { found = result } }
                return found
            }
            let closed = try #require(closure)
            #expect(try await store.records(person: person.id).isEmpty)
            #expect(try await Self.count(store, "record_versions", person: person.id) == 0)
            #expect(try await store.requests(of: .person(person.id), state: .pending).isEmpty)
            let chain = try await StoreContractTests.fullChain(store, person.id)
            #expect(AuditChainVerifier.verify(chain).isValid)
            #expect(chain.last == closed.closingEntry, "nothing follows the closing link")
        }
    }

    @Test(arguments: engines)
    func aVersion8DatabaseUpgradesAndItsPeopleCanBeErased(engine: TestEngine) async throws {
        let database = try await TestDatabase.make(engine)
        let old = try await openDatabase(database.location, logger: TestDatabase.logger)
        try await Migrator.migrate(old, upTo: 8)
        // A person with a record, as version 8 wrote them.
        let id = "prs_00000000-0000-0000-0000-000000000008"
        try await old.withWriteConnection { db in
            try await db.raw("INSERT INTO people (id, handle, email, password_hash, wrapped_key, created_at) VALUES (\(bind: id), 'eight', 'eight@example.org', 'h', \(bind: Data([7, 7, 7])), 0)").run()
            try await db.raw("INSERT INTO records (person_id, key, version, ciphertext, updated_at) VALUES (\(bind: id), 'contact.email', 1, \(bind: Data([1, 2])), 0)").run()
            try await db.raw("INSERT INTO record_versions (person_id, key, version, ciphertext, changed_at) VALUES (\(bind: id), 'contact.email', 1, \(bind: Data([1, 2])), 0)").run()
        }
        await old.shutdown()
        let store = try await database.openStore()
        let person = PersonID(trusted: id)
        let before = try #require(try await store.person(id: person))
        #expect(before.erasedAt == nil)
        #expect(before.wrappedDataKey == Data([7, 7, 7]))
        #expect(try await store.records(person: person).count == 1)
        let closure = try await store.closeAccount(person: person, at: .now())
        #expect(closure.recordVersionsDeleted == 1)
        #expect(try await store.person(id: person)?.erasedAt == closure.erasedAt)
        #expect(try await store.records(person: person).isEmpty)
        await store.shutdown()
    }
}
