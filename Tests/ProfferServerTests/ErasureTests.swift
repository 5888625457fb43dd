import Foundation
import HTTPTypes
import ProfferCore
import ProfferStorage
import ProfferTestSupport
import Testing

@testable import ProfferServer

/// Closing an account over HTTP, on both engines: every consequence, bad confirmations that change nothing,
/// and no trace of the person's data left in the database's bytes.
@Suite("Erasure")
struct ErasureTests {
    static let engines = TestEngine.available
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    static let password = "correct horse battery"

    static func close(_ api: LiveAPI, _ token: String, password: String = ErasureTests.password, handle: String) async throws -> LiveAPI.Answer {
        try await api.call(.post, "/v1/me/close", token: token, json: #"{"password":"\#(password)","confirmHandle":"\#(handle)"}"#)
    }

    static func grant(_ api: LiveAPI, _ person: String, _ asked: LiveAPI.Answer) async throws -> String {
        let granted = try await api.call(.post, "/v1/me/requests/\(asked.string("id") ?? "")/grant", token: person)
        #expect(granted.status == .created, "grant: \(granted.text)")
        return granted.string("id") ?? ""
    }

    @Test(arguments: engines)
    func closingAnAccountEndsEverything(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            // Setup: alice with records; a bank with a priced grant it has paid for (once retried), an insurer with a
            // free grant, a college with a pending request; bob, who is not closing anything.
            let alice = try await api.signUp("alice")
            let bob = try await api.signUp("bob")
            _ = try await api.put(alice, "contact.email", #""alice@home.example""#)
            _ = try await api.put(alice, "contact.email", #""alice@work.example""#)
            _ = try await api.put(alice, "identity.name.full", #""Alice Example""#)
            let me = try await api.call(.get, "/v1/me", token: alice)
            let aliceID = PersonID(trusted: me.string("id") ?? "")
            let pat = try await api.call(.post, "/v1/me/tokens", token: alice, json: #"{"name":"script"}"#).string("token") ?? ""
            let bank = try await api.registerOrganisation("Northwind Bank", domain: "northwind.example")
            let insurer = try await api.registerOrganisation("Acme Insurance", domain: "acme.example")
            let college = try await api.registerOrganisation("Bristol College", domain: "college.example")
            let bankToken = try await api.accessToken(bank)
            let insurerToken = try await api.accessToken(insurer)
            let collegeToken = try await api.accessToken(college)
            let bankGrant = try await Self.grant(api, alice, try await api.ask(
                bankToken, person: "alice", keys: ["contact.email"], extra: #","offer":{"kind":"per-disclosure","price":{"amount":40,"currency":"EUR"}}"#))
            let insurerGrant = try await Self.grant(api, alice, try await api.ask(insurerToken, person: "alice", keys: ["identity.name.full"]))
            let pending = try await api.ask(collegeToken, person: "alice", keys: ["identity.name.full"])
            #expect(pending.string("state") == "pending")
            _ = try await api.call(.post, "/v1/admin/organisations/\(bank.id)/wallet/credits", token: api.adminToken,
                                   json: #"{"amount":{"amount":100,"currency":"EUR"},"reference":"bank transfer"}"#, headers: [Self.idempotencyKey: "fund-1"])
            for key in ["read-1", "read-1"] {
                let read = try await api.call(.get, "/v1/grants/\(bankGrant)/data", token: bankToken, headers: [Self.idempotencyKey: key])
                #expect(read.status == .ok)
            }
            #expect(try await api.call(.get, "/v1/grants/\(insurerGrant)/data", token: insurerToken).status == .ok)

            // Bad confirmations: each a specific problem, and nothing changes.
            func unchanged() async throws {
                let me = try await api.call(.get, "/v1/me", token: alice)
                let record = try await api.call(.get, "/v1/me/records/contact.email", token: alice)
                let read = try await api.call(.get, "/v1/grants/\(insurerGrant)/data", token: insurerToken)
                let inbox = try await api.call(.get, "/v1/me/requests?state=pending", token: alice)
                #expect(me.status == .ok && record.status == .ok && read.status == .ok)
                #expect(inbox.items.count == 1)
            }
            let anonymous = try await api.call(.post, "/v1/me/close", json: #"{"password":"\#(Self.password)","confirmHandle":"alice"}"#)
            #expect(anonymous.status == .unauthorized)
            let withPAT = try await Self.close(api, pat, handle: "alice")
            #expect(withPAT.status == .forbidden)
            #expect(withPAT.string("detail")?.contains("session") == true)
            let wrongPassword = try await Self.close(api, alice, password: "not my password", handle: "alice")
            #expect(wrongPassword.status == .forbidden)
            #expect(wrongPassword.string("detail")?.contains("password is wrong") == true)
            let overlong = try await Self.close(api, alice, password: String(repeating: "x", count: 100), handle: "alice")
            #expect(overlong.status == .forbidden)
            let wrongHandle = try await Self.close(api, alice, handle: "bob")
            #expect(wrongHandle.status == .unprocessableContent)
            #expect(wrongHandle.text.contains("/confirmHandle"))
            let missing = try await api.call(.post, "/v1/me/close", token: alice, json: #"{"password":"\#(Self.password)"}"#)
            #expect(missing.status == .unprocessableContent)
            #expect(missing.text.contains("/confirmHandle"))
            let extra = try await api.call(.post, "/v1/me/close", token: alice, json: #"{"password":"\#(Self.password)","confirmHandle":"alice","now":true}"#)
            #expect(extra.status == .unprocessableContent)
            #expect(try await api.call(.post, "/v1/me/close", token: alice, json: "not json").status == .badRequest)
            #expect(try await api.call(.post, "/v1/me/close", token: alice).status.code == 400)
            #expect([404, 405].contains(try await api.call(.delete, "/v1/me", token: alice).status.code), "closing is POST /v1/me/close, never a bare DELETE")
            try await unchanged()

            // Act: alice closes her account.
            let closed = try await Self.close(api, alice, handle: "alice")
            #expect(closed.status == .ok, "close: \(closed.text)")
            #expect(closed.string("person") == "alice")
            #expect(closed["grantsRevoked"] == .integer(2))
            #expect(closed["requestsRefused"] == .integer(1))
            #expect(closed["organisationsNotified"] == .integer(2))
            #expect(closed["recordVersionsDeleted"] == .integer(3))
            #expect(closed.string("erasedAt") != nil)

            // Her tokens are dead, her email signs nobody in, and is free for a new account; her handle is not.
            #expect(try await api.call(.get, "/v1/me", token: alice).status == .unauthorized)
            #expect(try await api.call(.get, "/v1/me/records", token: pat).status == .unauthorized)
            #expect(try await Self.close(api, alice, handle: "alice").status == .unauthorized)
            let oldSignIn = try await api.call(.post, "/v1/sessions", json: #"{"email":"alice@example.org","password":"\#(Self.password)"}"#)
            let unknownSignIn = try await api.call(.post, "/v1/sessions", json: #"{"email":"nobody@example.org","password":"\#(Self.password)"}"#)
            #expect(oldSignIn.status == .unauthorized)
            #expect(oldSignIn.string("detail") == unknownSignIn.string("detail"), "a closed account is indistinguishable from no account")
            let again = try await api.call(.post, "/v1/people", json: #"{"email":"alice@example.org","password":"another good one","handle":"alice-2"}"#)
            #expect(again.status == .created, "\(again.text)")
            let newAlice = again.string("token") ?? ""
            #expect(try await api.call(.get, "/v1/me/records", token: newAlice).items.isEmpty, "the new account inherits nothing")
            let takeover = try await api.call(.post, "/v1/people", json: #"{"email":"mallory@example.org","password":"another good one","handle":"alice"}"#)
            #expect(takeover.status == .conflict)

            // Organisations: asking is 410 Gone, reading is grant-revoked, and their views show the revocations.
            let ask = try await api.ask(bankToken, person: "alice", keys: ["contact.email"])
            #expect(ask.status == .gone)
            #expect(ask.string("type") == "https://proffer.dev/problems/person-erased")
            #expect(ask.string("detail")?.contains("closed their account") == true)
            #expect(try await api.call(.get, "/v1/people/alice/terms").status == .gone)
            for (grant, token) in [(bankGrant, bankToken), (insurerGrant, insurerToken)] {
                let read = try await api.call(.get, "/v1/grants/\(grant)/data", token: token)
                #expect(read.status == .forbidden)
                #expect(read.string("type") == "https://proffer.dev/problems/grant-revoked")
                #expect(!read.text.contains("Alice Example") && !read.text.contains("alice@work.example"))
                let view = try await api.call(.get, "/v1/grants/\(grant)", token: token)
                #expect(view.string("status") == "revoked")
                #expect(view.string("person") == "alice")
                let receipts = try await api.call(.get, "/v1/grants/\(grant)/receipts", token: token)
                #expect(receipts.text.contains("\"revoked\""), "the organisation keeps a receipt of the revocation: \(receipts.text)")
            }
            #expect(try await api.call(.get, "/v1/grants", token: bankToken).items.count == 1)
            let refused = try await api.call(.get, "/v1/requests/\(pending.string("id") ?? "")", token: collegeToken)
            #expect(refused.string("state") == "refused")
            // Bob is untouched.
            #expect(try await api.call(.get, "/v1/me", token: bob).status == .ok)

            // The audit chain is whole and ends with the closure; the ledger still balances.
            let chain = try await api.runtime.store.auditEntries(for: aliceID, after: 0, limit: 10_000)
            #expect(AuditChainVerifier.verify(chain).isValid)
            #expect(chain.last?.kind == .accountClosed)
            #expect(chain.last?.actor == "person")
            #expect(chain.filter { $0.kind == .grantRevoked }.count == 2)
            let check = try await api.call(.get, "/v1/admin/ledger/check", token: api.adminToken)
            #expect(check["valid"] == .bool(true), "ledger: \(check.text)")
            #expect(try await api.runtime.services.vault.keyed(aliceID, load: { nil }) == nil, "the unwrapped key is forgotten")
        }
    }

    @Test(arguments: engines)
    func anAccountClosedElsewhereIsForgottenByThisServer(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api, database in
            let alice = try await api.signUp("alice")
            let bob = try await api.signUp("bob")
            for person in [alice, bob] { _ = try await api.put(person, "contact.email", #""someone@home.example""#) }
            let bank = try await api.registerOrganisation("Northwind Bank", domain: "northwind.example")
            let bankToken = try await api.accessToken(bank)
            var grants: [String] = []
            for (person, handle) in [(alice, "alice"), (bob, "bob")] {
                let grant = try await Self.grant(api, person, try await api.ask(bankToken, person: handle, keys: ["contact.email"]))
                #expect(try await api.call(.get, "/v1/grants/\(grant)/data", token: bankToken).status == .ok)
                grants.append(grant)
            }
            let aliceID = try #require(try await api.runtime.store.person(handle: "alice")).id
            let bobID = try #require(try await api.runtime.store.person(handle: "bob")).id
            let vault = api.runtime.services.vault
            #expect(vault.holdsAnything(of: aliceID) && vault.holdsAnything(of: bobID))

            // The operator erases alice through another process on the same database (`proffer person erase`), or
            // another instance does: this server's memory is not told.
            let before = Timestamp.now()
            let otherStore = try await database.openStore()
            var configuration = api.runtime.configuration
            configuration.port = 0
            let other = try await buildApplication(configuration: configuration, store: otherStore, logger: TestDatabase.logger)
            _ = try await other.eraseAccount(handle: "alice")
            await otherStore.shutdown()
            #expect(vault.holdsAnything(of: aliceID))
            // Nothing is disclosed meanwhile: the grant is revoked in the database.
            #expect(try await api.call(.get, "/v1/grants/\(grants[0])/data", token: bankToken).status == .forbidden)

            let sweeper = ClosedAccountSweeper(services: api.runtime.services, logger: TestDatabase.logger)
            #expect(try await sweeper.sweep(closedSince: before.adding(seconds: -ClosedAccountSweeper.clockMargin)) == 1)
            #expect(!vault.holdsAnything(of: aliceID))
            #expect(vault.holdsAnything(of: bobID))
            // A sweep from after the closure finds nothing; bob is still served.
            #expect(try await sweeper.sweep(closedSince: Timestamp.now().adding(seconds: 1)) == 0)
            #expect(try await api.call(.get, "/v1/grants/\(grants[1])/data", token: bankToken).status == .ok)
        }
    }

    @Test
    func theVaultNeverHandsOutAForgottenKey() async throws {
        let vault = RecordVault(masterKey: MasterKey.generate().0)
        let id = PersonID.generate()
        let (_, wrapped) = try vault.masterKey.newDataKey(for: id)
        let person = Person(id: id, handle: "vaulted", email: "v@example.org", passwordHash: "x", wrappedDataKey: wrapped, createdAt: .now())
        #expect(try await vault.keyed(id, load: { person })?.handle == "vaulted")
        vault.forget(id)
        // A look-up that read the person before the erasure committed gets a refusal, and caches nothing.
        #expect(throws: DomainError.self) { _ = try vault.dataKey(for: person) }
        await #expect(throws: DomainError.self) { _ = try await vault.keyed(id, load: { person }) }
        var tombstone = person
        tombstone.erasedAt = .now()
        tombstone.wrappedDataKey = Data()
        #expect(throws: DomainError.personErased(handle: "vaulted", at: try #require(tombstone.erasedAt))) { _ = try vault.dataKey(for: tombstone) }
    }

    // MARK: No plaintext left

    /// Where each needle occurs in `haystack`, as raw bytes or as lowercase hex (how a dump prints a bytea).
    static func found(_ needles: [String: Data], in haystack: Data) -> Set<String> {
        Set(needles.compactMap { name, bytes in
            haystack.range(of: bytes) != nil || haystack.range(of: Data(Hex.encode(bytes).utf8)) != nil ? name : nil
        })
    }

    /// Every byte the database holds for `database`: the SQLite file and its WAL and shared-memory files, or a full
    /// `pg_dump` of the PostgreSQL database.
    static func storedBytes(_ database: TestDatabase) throws -> Data {
        switch database.location {
        case .sqlite(let path):
            let file = URL(fileURLWithPath: path)
            var bytes = Data()
            for name in try FileManager.default.contentsOfDirectory(atPath: file.deletingLastPathComponent().path)
            where name.hasPrefix(file.lastPathComponent) {
                bytes.append(try Data(contentsOf: file.deletingLastPathComponent().appendingPathComponent(name)))
            }
            return bytes
        case .postgres(let url):
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try pgDump())
            process.arguments = ["--no-owner", "--dbname=\(url)"]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let bytes = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0, !bytes.isEmpty else { throw TestDatabaseError("pg_dump failed (\(process.terminationStatus))") }
            return bytes
        }
    }

    /// `pg_dump` from the PostgreSQL the test script started (`PROFFER_PG_BIN`), or the newest one installed.
    static func pgDump() throws -> String {
        var candidates: [String] = []
        if let bin = ProcessInfo.processInfo.environment["PROFFER_PG_BIN"] { candidates.append(bin + "/pg_dump") }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        candidates += versions.sorted { $0.compare($1, options: .numeric) == .orderedDescending }.map { "/usr/lib/postgresql/\($0)/bin/pg_dump" }
        candidates.append("/usr/bin/pg_dump")
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestDatabaseError("no pg_dump found (install Debian's postgresql package)")
        }
        return found
    }

    @Test(arguments: engines)
    func noPlaintextSurvivesAnErasure(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api, database in
            // Setup: distinctive values in several records and their history; bob keeps his account.
            let unique = { (label: String) in "\(label)\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased())" }
            let email = "\(unique("mail"))@example.org"
            let signUp = try await api.call(.post, "/v1/people", json: #"{"email":"\#(email)","password":"\#(Self.password)","handle":"shredme"}"#)
            let token = signUp.string("token") ?? ""
            let bobEmail = "\(unique("bob"))@example.org"
            let bob = try await api.call(.post, "/v1/people", json: #"{"email":"\#(bobEmail)","password":"\#(Self.password)","handle":"keepme"}"#)
            _ = try await api.put(bob.string("token") ?? "", "identity.name.full", #""Bob Keeps""#)
            var values: [String: Data] = [:]
            for (key, label) in [("identity.name.full", "nameone"), ("identity.name.full", "nametwo"), ("contact.phone.mobile", ""),
                                 ("address.home", "street"), ("contact.email", "work")] {
                let value: String
                switch key {
                case "contact.phone.mobile": value = "+4477009\(Int.random(in: 10_000...99_999))"
                case "address.home": value = unique(label)
                case "contact.email": value = "\(unique(label))@example.org"
                default: value = unique(label)
                }
                let json = key == "address.home"
                    ? #"{"lines":["\#(value)"],"locality":"\#(unique("town"))","postalCode":"BS1 1AA","country":"GB"}"#
                    : #""\#(value)""#
                #expect(try await api.put(token, key, json).status == .ok, "put \(key)")
                values["value of \(key) (\(label))"] = Data(value.utf8)
            }
            let person = try #require(try await api.runtime.store.person(handle: "shredme"))
            var needles = values
            needles["email"] = Data(email.utf8)
            needles["wrapped key"] = person.wrappedDataKey
            for key in ["identity.name.full", "address.home", "contact.email"] {
                for version in try await api.runtime.store.recordHistory(person: person.id, key: key) {
                    if let ciphertext = version.ciphertext { needles["ciphertext of \(key) v\(version.version)"] = ciphertext }
                }
            }
            let bank = try await api.registerOrganisation("Northwind Bank", domain: "northwind.example")
            let bankToken = try await api.accessToken(bank)
            let grant = try await Self.grant(api, token, try await api.ask(bankToken, person: "shredme", keys: ["identity.name.full", "address.home"]))
            let read = try await api.call(.get, "/v1/grants/\(grant)/data", token: bankToken)
            #expect(read.text.contains(String(decoding: values["value of identity.name.full (nametwo)"] ?? Data(), as: UTF8.self)))

            // The scanner is not blind: before the erasure it finds the email, the wrapped key and the ciphertexts.
            _ = try await api.runtime.store.engine.checkpoint()
            let before = Self.found(needles, in: try Self.storedBytes(database))
            #expect(before.contains("email"), "the scan cannot see the email before erasure")
            #expect(before.contains("wrapped key"), "the scan cannot see the wrapped key before erasure")
            #expect(before.contains { $0.hasPrefix("ciphertext") })
            #expect(!before.contains { $0.hasPrefix("value") }, "record values are stored only sealed: \(before)")

            // Act.
            #expect(try await Self.close(api, token, handle: "shredme").status == .ok)

            // Check: none of it is anywhere in the stored bytes — but bob's email still is.
            var after = needles
            after["bob's email"] = Data(bobEmail.utf8)
            let left = Self.found(after, in: try Self.storedBytes(database))
            #expect(left == ["bob's email"], "left after erasure: \(left.sorted())")
            #expect(try await api.runtime.store.checkLedger().isValid)
            let chain = try await api.runtime.store.auditEntries(for: person.id, after: 0, limit: 10_000)
            #expect(AuditChainVerifier.verify(chain).isValid)
            let chainText = String(decoding: try JSONEncoder().encode(chain), as: UTF8.self)
            for (name, value) in values {
                #expect(!chainText.contains(String(decoding: value, as: UTF8.self)), "the audit chain holds \(name)")
            }
        }
    }
}
