import Foundation
import ProfferCore
import ProfferStorage
import ProfferTestSupport
import SQLKit
import Testing

/// The storage contract: every test runs on SQLite, and on PostgreSQL when the test script provides one.
@Suite("Storage contract")
struct StoreContractTests {
    static let engines = TestEngine.available

    static func makePerson(_ store: ProfferStore, handle: String = "p-\(UUID().uuidString.prefix(8).lowercased())") async throws -> Person {
        let person = Person(id: .generate(), handle: handle, email: "\(handle)@example.org", passwordHash: "x",
                            wrappedDataKey: Data([1, 2, 3]), createdAt: .now())
        try await store.createPerson(person)
        return person
    }

    static func makeOrganisation(_ store: ProfferStore) async throws -> Organisation {
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let organisation = Organisation(id: .generate(), name: "Org \(suffix)", domain: "o\(suffix).example", verified: true,
                                        clientID: "cl_\(suffix)", secretDigest: Data([9]), createdAt: .now())
        try await store.createOrganisation(organisation)
        return organisation
    }

    static func makeRequest(_ store: ProfferStore, _ organisation: Organisation, _ person: Person, keys: [String] = ["contact.email", "identity.name.full"]) async throws -> DataRequest {
        let request = DataRequest(id: .generate(), organisationID: organisation.id, personID: person.id, keys: keys, purpose: "ServiceProvision",
                                  retentionDays: 30, thirdParties: [ThirdParty(name: "Courier Ltd")], durationDays: 10, reason: "delivery",
                                  state: .pending, createdAt: .now(), decidedAt: nil, grantID: nil)
        try await store.createRequest(request)
        return request
    }

    static func grant(_ request: DataRequest, keys: [String]? = nil, expiresAt: Timestamp, at now: Timestamp) -> Grant {
        Grant(id: .generate(), requestID: request.id, organisationID: request.organisationID, personID: request.personID,
              keys: keys ?? request.keys, purpose: request.purpose, retentionDays: request.retentionDays, thirdParties: request.thirdParties,
              createdAt: now, expiresAt: expiresAt, revokedAt: nil)
    }

    static func fullChain(_ store: ProfferStore, _ person: PersonID) async throws -> [AuditEntry] {
        try await store.auditEntries(for: person, after: 0, limit: 10_000)
    }

    @Test(arguments: engines)
    func migrationsAreIdempotentAndRecorded(engine: TestEngine) async throws {
        let database = try await TestDatabase.make(engine)
        let first = try await database.openStore()
        await first.shutdown()
        let engineHandle = try await openDatabase(database.location, logger: TestDatabase.logger)
        let applied = try await Migrator.migrate(engineHandle)
        #expect(applied.isEmpty)
        let versions = try await engineHandle.read { db in
            try await db.raw("SELECT version FROM schema_migrations ORDER BY version").all().map { try $0.decode(column: "version", as: Int.self) }
        }
        #expect(versions == Migrator.knownVersions)
        #expect(versions.last == ProfferStore.latestSchemaVersion)
        // A database from a newer build is refused rather than silently misread.
        try await engineHandle.withWriteConnection { db in
            try await db.raw("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)").run()
        }
        await #expect(throws: StorageError.self) { try await Migrator.migrate(engineHandle) }
        await engineHandle.shutdown()
    }

    @Test(arguments: engines)
    func peopleAreUniqueByHandleAndEmail(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let person = try await Self.makePerson(store, handle: "alice")
            #expect(try await store.person(handle: "alice")?.id == person.id)
            #expect(try await store.person(email: "alice@example.org")?.wrappedDataKey == Data([1, 2, 3]))
            let sameHandle = Person(id: .generate(), handle: "alice", email: "other@example.org", passwordHash: "x", wrappedDataKey: Data(), createdAt: .now())
            await #expect(throws: DomainError.conflict("the handle \"alice\" is already taken")) { try await store.createPerson(sameHandle) }
            let sameEmail = Person(id: .generate(), handle: "alice2", email: "alice@example.org", passwordHash: "x", wrappedDataKey: Data(), createdAt: .now())
            await #expect(throws: DomainError.self) { try await store.createPerson(sameEmail) }
            #expect(try await store.person(handle: "alice2") == nil)
            let chain = try await Self.fullChain(store, person.id)
            #expect(chain.map(\.kind) == [.accountCreated])
        }
    }

    @Test(arguments: engines)
    func tokensStopWorkingWhenRevokedOrExpired(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let person = try await Self.makePerson(store)
            let other = try await Self.makePerson(store)
            let now = Timestamp.now()
            let live = PersonToken(id: .generate(), personID: person.id, kind: .personal, name: "script", createdAt: now, expiresAt: now.adding(days: 1), revokedAt: nil)
            let expired = PersonToken(id: .generate(), personID: person.id, kind: .session, name: "old", createdAt: now, expiresAt: now.adding(seconds: -1), revokedAt: nil)
            try await store.createToken(live, digest: SecretToken.digest("live"))
            try await store.createToken(expired, digest: SecretToken.digest("expired"))
            #expect(try await store.token(digest: SecretToken.digest("live"), at: now)?.1.id == person.id)
            #expect(try await store.token(digest: SecretToken.digest("expired"), at: now) == nil)
            #expect(try await store.token(digest: SecretToken.digest("unknown"), at: now) == nil)
            await #expect(throws: DomainError.notFound(what: "token", id: live.id.rawValue)) {
                try await store.revokeToken(live.id, of: other.id, at: now)
            }
            #expect(try await store.token(digest: SecretToken.digest("live"), at: now) != nil)
            try await store.revokeToken(live.id, of: person.id, at: now)
            #expect(try await store.token(digest: SecretToken.digest("live"), at: now) == nil)
            #expect(try await store.tokens(for: person.id, kind: .personal).first?.revokedAt != nil)
            // A unique violation that slips past the checks (as when two instances race) is a conflict, not a crash.
            let clash = PersonToken(id: .generate(), personID: person.id, kind: .personal, name: "clash", createdAt: now, expiresAt: nil, revokedAt: nil)
            await #expect(throws: DomainError.conflict("a concurrent change to the same data came first, so nothing was changed; retry")) {
                try await store.createToken(clash, digest: SecretToken.digest("live"))
            }
        }
    }

    @Test(arguments: engines)
    func recordsKeepEveryVersionAndAuditEachChange(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let person = try await Self.makePerson(store)
            for text in ["one", "two", "three"] {
                _ = try await store.putRecord(person: person.id, key: "contact.email", at: .now()) { version in Data("\(text)@\(version)".utf8) }
            }
            _ = try await store.putRecord(person: person.id, key: "identity.name.full", at: .now()) { _ in Data("n".utf8) }
            let current = try await store.records(person: person.id)
            #expect(current.map(\.key) == ["contact.email", "identity.name.full"])
            #expect(current[0].version == 3)
            #expect(current[0].ciphertext == Data("three@3".utf8))
            #expect(try await store.records(person: person.id, keys: ["identity.name.full"]).map(\.key) == ["identity.name.full"])
            #expect(try await store.records(person: person.id, keys: []).isEmpty)

            try await store.deleteRecord(person: person.id, key: "contact.email", at: .now())
            await #expect(throws: DomainError.notFound(what: "record", id: "contact.email")) {
                try await store.deleteRecord(person: person.id, key: "contact.email", at: .now())
            }
            let history = try await store.recordHistory(person: person.id, key: "contact.email")
            #expect(history.map(\.version) == [1, 2, 3, 4])
            #expect(history.last?.ciphertext == nil)
            #expect(history.first?.ciphertext == Data("one@1".utf8))
            // A put after a deletion continues the version sequence.
            let again = try await store.putRecord(person: person.id, key: "contact.email", at: .now()) { version in Data("back@\(version)".utf8) }
            #expect(again.version == 5)

            let chain = try await Self.fullChain(store, person.id)
            #expect(chain.map(\.kind) == [.accountCreated, .recordPut, .recordPut, .recordPut, .recordPut, .recordDeleted, .recordPut])
            #expect(AuditChainVerifier.verify(chain).isValid)
        }
    }

    @Test(arguments: engines)
    func requestGrantDiscloseRevoke(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let person = try await Self.makePerson(store)
            let stranger = try await Self.makePerson(store)
            let organisation = try await Self.makeOrganisation(store)
            let other = try await Self.makeOrganisation(store)
            let request = try await Self.makeRequest(store, organisation, person)
            #expect(try await store.requests(of: .person(person.id), state: .pending).map(\.id) == [request.id])
            #expect(try await store.requests(of: .organisation(other.id)).isEmpty)

            let now = Timestamp.now()
            await #expect(throws: DomainError.notFound(what: "request", id: request.id.rawValue)) {
                _ = try await store.grantRequest(Self.grant(request, keys: ["contact.email"], expiresAt: now.adding(days: 1), at: now), by: stranger.id)
            }
            let grant = try await store.grantRequest(Self.grant(request, keys: ["contact.email"], expiresAt: now.adding(days: 1), at: now), by: person.id)
            #expect(grant.keys == ["contact.email"])
            #expect(grant.thirdParties == [ThirdParty(name: "Courier Ltd")])
            #expect(try await store.request(id: request.id)?.state == .granted)
            #expect(try await store.request(id: request.id)?.grantID == grant.id)
            await #expect(throws: DomainError.requestAlreadyDecided(requestID: request.id, state: .granted)) {
                _ = try await store.refuseRequest(request.id, by: person.id, note: nil, at: now)
            }

            let entry = try await store.disclose(grant: grant.id, organisation: organisation.id, keys: ["contact.email"], at: now).entry
            #expect(entry.kind == .disclosure)
            #expect(entry.grantID == grant.id)
            await #expect(throws: DomainError.notFound(what: "grant", id: grant.id.rawValue)) {
                _ = try await store.disclose(grant: grant.id, organisation: other.id, keys: [], at: now).entry
            }
            await #expect(throws: DomainError.notFound(what: "grant", id: grant.id.rawValue)) {
                _ = try await store.revokeGrant(grant.id, by: stranger.id, reason: nil, at: now)
            }

            let revokedAt = now.adding(seconds: 1)
            let revoked = try await store.revokeGrant(grant.id, by: person.id, reason: "moved bank", at: revokedAt)
            #expect(revoked.status(at: revokedAt) == .revoked)
            await #expect(throws: DomainError.grantNotActive(grantID: grant.id, status: .revoked, since: revokedAt)) {
                _ = try await store.disclose(grant: grant.id, organisation: organisation.id, keys: ["contact.email"], at: revokedAt).entry
            }
            #expect(try await store.grants(of: .organisation(organisation.id)).first?.revokedAt == revokedAt)

            let chain = try await Self.fullChain(store, person.id)
            #expect(chain.map(\.kind) == [.accountCreated, .requestReceived, .requestGranted, .disclosure, .grantRevoked])
            #expect(AuditChainVerifier.verify(chain).isValid)
            #expect(chain[2].note?.contains("partially granted: 1 of 2 keys") == true)
        }
    }

    @Test(arguments: engines)
    func expiredGrantsRefuseDisclosure(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let person = try await Self.makePerson(store)
            let organisation = try await Self.makeOrganisation(store)
            let request = try await Self.makeRequest(store, organisation, person)
            let now = Timestamp.now()
            let grant = try await store.grantRequest(Self.grant(request, keys: request.keys, expiresAt: now.adding(seconds: 60), at: now), by: person.id)
            await #expect(throws: DomainError.grantNotActive(grantID: grant.id, status: .expired, since: grant.expiresAt)) {
                _ = try await store.disclose(grant: grant.id, organisation: organisation.id, keys: [], at: now.adding(seconds: 61)).entry
            }
        }
    }

    @Test(arguments: engines)
    func refusalIsFinalAndAudited(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let person = try await Self.makePerson(store)
            let organisation = try await Self.makeOrganisation(store)
            let request = try await Self.makeRequest(store, organisation, person)
            let refused = try await store.refuseRequest(request.id, by: person.id, note: "no thanks", at: .now())
            #expect(refused.state == .refused)
            await #expect(throws: DomainError.self) {
                _ = try await store.grantRequest(Self.grant(request, keys: request.keys, expiresAt: .now().adding(days: 1), at: .now()), by: person.id)
            }
            #expect(try await store.grants(of: .person(person.id)).isEmpty)
            let chain = try await Self.fullChain(store, person.id)
            #expect(chain.last?.kind == .requestRefused)
            #expect(chain.last?.note == "refused: no thanks")
        }
    }

    @Test(arguments: engines)
    func concurrentWritesShareCommitsAndAllLand(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let people = [try await Self.makePerson(store), try await Self.makePerson(store)]
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<200 {
                    let person = people[index % 2]
                    group.addTask {
                        _ = try await store.putRecord(person: person.id, key: "preference.language", at: .now()) { version in Data("v\(version)".utf8) }
                    }
                }
                try await group.waitForAll()
            }
            for person in people {
                let history = try await store.recordHistory(person: person.id, key: "preference.language")
                #expect(history.map(\.version) == Array(1...100).map(Int64.init))
                let chain = try await Self.fullChain(store, person.id)
                #expect(chain.count == 101)
                #expect(AuditChainVerifier.verify(chain).isValid)
            }
        }
    }

    @Test(arguments: engines)
    func aFailingWriteInABatchLeavesTheOthersCommitted(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let person = try await Self.makePerson(store)
            struct Boom: Error {}
            let results = await withTaskGroup(of: Bool.self, returning: [Bool].self) { group in
                for index in 0..<40 {
                    group.addTask {
                        do {
                            _ = try await store.putRecord(person: person.id, key: "preference.language", at: .now()) { version in
                                if index.isMultiple(of: 4) { throw Boom() }
                                return Data("v\(version)".utf8)
                            }
                            return true
                        } catch {
                            return false
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.filter { $0 }.count == 30)
            #expect(try await store.recordHistory(person: person.id, key: "preference.language").count == 30)
            let chain = try await Self.fullChain(store, person.id)
            #expect(chain.count == 31)
            #expect(AuditChainVerifier.verify(chain).isValid)
        }
    }

    @Test(arguments: engines)
    func aFailedAuditWriteFailsTheDisclosure(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let person = try await Self.makePerson(store)
            let organisation = try await Self.makeOrganisation(store)
            let request = try await Self.makeRequest(store, organisation, person)
            let grant = try await store.grantRequest(Self.grant(request, keys: request.keys, expiresAt: .now().adding(days: 1), at: .now()), by: person.id)
            let before = try await Self.fullChain(store, person.id).count
            try await store.engine.withWriteConnection { db in try await db.raw("ALTER TABLE audit_entries RENAME TO audit_entries_away").run() }
            await #expect(throws: (any Error).self) {
                _ = try await store.disclose(grant: grant.id, organisation: organisation.id, keys: request.keys, at: .now()).entry
            }
            try await store.engine.withWriteConnection { db in try await db.raw("ALTER TABLE audit_entries_away RENAME TO audit_entries").run() }
            // The head did not move: the failed transaction left no trace, and the chain stays valid.
            let chain = try await Self.fullChain(store, person.id)
            #expect(chain.count == before)
            #expect(try await store.auditHead(for: person.id).sequence == Int64(before))
            _ = try await store.disclose(grant: grant.id, organisation: organisation.id, keys: request.keys, at: .now()).entry
            #expect(AuditChainVerifier.verify(try await Self.fullChain(store, person.id)).isValid)
        }
    }

    @Test(arguments: engines)
    func organisationsAreUniqueByDomainAndCanBeVerified(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let organisation = try await Self.makeOrganisation(store)
            let duplicate = Organisation(id: .generate(), name: "Copy", domain: organisation.domain, verified: false, clientID: "cl_copy",
                                         secretDigest: Data(), createdAt: .now())
            await #expect(throws: DomainError.self) { try await store.createOrganisation(duplicate) }
            #expect(try await store.organisation(clientID: organisation.clientID)?.id == organisation.id)
            #expect(try await store.setVerified(false, organisation: organisation.id).verified == false)
            #expect(try await store.organisation(id: organisation.id)?.verified == false)
            #expect(try await store.rotateSecret(organisation: organisation.id, digest: Data([7])).secretDigest == Data([7]))
            #expect(try await store.organisation(id: organisation.id)?.secretDigest == Data([7]))
            await #expect(throws: DomainError.self) { try await store.rotateSecret(organisation: .generate(), digest: Data()) }
            let other = try await Self.makeOrganisation(store)
            let found = try await store.organisations(ids: [organisation.id, other.id, .generate()])
            #expect(Set(found.keys) == [organisation.id, other.id])
            #expect(found[other.id]?.domain == other.domain)
            #expect(try await store.organisations(ids: []).isEmpty)
            let alice = try await Self.makePerson(store, handle: "alice-batch")
            let bob = try await Self.makePerson(store, handle: "bob-batch")
            #expect(try await store.handles(ids: [alice.id, bob.id, .generate()]) == [alice.id: "alice-batch", bob.id: "bob-batch"])
        }
    }

    @Test(arguments: engines)
    func concurrentDisclosuresAreEachAuditedAndRefusalsStayApart(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let organisation = try await Self.makeOrganisation(store)
            let stranger = try await Self.makeOrganisation(store)
            var grants: [Grant] = []
            for _ in 0..<3 {
                let person = try await Self.makePerson(store)
                _ = try await store.putRecord(person: person.id, key: "contact.email", at: .now()) { version in Data("sealed-\(version)".utf8) }
                let request = try await Self.makeRequest(store, organisation, person)
                grants.append(try await store.grantRequest(Self.grant(request, expiresAt: .now().adding(days: 1), at: .now()), by: person.id))
            }
            let revoked = grants[2]
            _ = try await store.revokeGrant(revoked.id, by: revoked.personID, reason: nil, at: .now())
            let outcomes = try await withThrowingTaskGroup(of: String.self, returning: [String].self) { group in
                for index in 0..<150 {
                    let grant = grants[index % 3]
                    let asker = index % 10 == 9 ? stranger.id : organisation.id
                    group.addTask {
                        do {
                            let disclosure = try await store.disclose(grant: grant.id, organisation: asker, at: .now())
                            #expect(disclosure.records.map(\.key) == ["contact.email"])
                            #expect(disclosure.entry.keys == ["contact.email"])
                            return "ok"
                        } catch DomainError.notFound {
                            return "not-found"
                        } catch DomainError.grantNotActive {
                            return "revoked"
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == "not-found" }.count == 15)
            #expect(outcomes.filter { $0 == "revoked" }.count == 45)
            #expect(outcomes.filter { $0 == "ok" }.count == 90)
            for grant in grants.prefix(2) {
                let chain = try await Self.fullChain(store, grant.personID)
                #expect(chain.filter { $0.kind == .disclosure }.count == 45)
                #expect(AuditChainVerifier.verify(chain).isValid)
            }
            #expect(try await Self.fullChain(store, revoked.personID).filter { $0.kind == .disclosure }.isEmpty)
        }
    }

    @Test(arguments: engines)
    func aDisclosureAlwaysSeesTheLastCommittedValue(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let organisation = try await Self.makeOrganisation(store)
            let person = try await Self.makePerson(store)
            _ = try await store.putRecord(person: person.id, key: "contact.email", at: .now()) { version in Data("v\(version)".utf8) }
            let request = try await Self.makeRequest(store, organisation, person)
            let grant = try await store.grantRequest(Self.grant(request, expiresAt: .now().adding(days: 1), at: .now()), by: person.id)
            func disclosed() async throws -> Data? {
                try await store.disclose(grant: grant.id, organisation: organisation.id, at: .now()).records.first { $0.key == "contact.email" }?.ciphertext
            }
            #expect(try await disclosed() == Data("v1".utf8))
            #expect(try await disclosed() == Data("v1".utf8))
            _ = try await store.putRecord(person: person.id, key: "contact.email", at: .now()) { version in Data("v\(version)".utf8) }
            #expect(try await disclosed() == Data("v2".utf8), "the next disclosure after a change must carry it")
            try await store.deleteRecord(person: person.id, key: "contact.email", at: .now())
            #expect(try await disclosed() == nil)
            // Writes racing disclosures: once every write has returned, a disclosure carries the last one.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<30 {
                    group.addTask { _ = try await store.putRecord(person: person.id, key: "contact.email", at: .now()) { version in Data("v\(version)".utf8) } }
                    group.addTask { _ = try await disclosed() }
                }
                try await group.waitForAll()
            }
            let last = try await store.recordHistory(person: person.id, key: "contact.email").last?.version ?? 0
            #expect(last == 33)
            #expect(try await disclosed() == Data("v\(last)".utf8))
        }
    }
}
