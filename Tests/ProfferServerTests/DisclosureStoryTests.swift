import Foundation
import HTTPTypes
import ProfferCore
import ProfferStorage
import ProfferTestSupport
import SQLKit
import Testing

@testable import ProfferServer

/// The foundation's story over HTTP: an organisation asks, the person grants part, the organisation reads
/// exactly that part, the person revokes, and the very next read is refused.
@Suite("Disclosure story")
struct DisclosureStoryTests {
    static let engines = TestEngine.available

    @Test(arguments: engines)
    func askGrantReadRevokeRefuse(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let alice = try await api.signUp("alice")
            #expect(try await api.put(alice, "contact.email", #""alice@example.org""#).status == .ok)
            #expect(try await api.put(alice, "identity.name.full", #""Alice Example""#).status == .ok)
            #expect(try await api.put(alice, "finance.income.annual", #"{"amount":4200000,"currency":"GBP"}"#).status == .ok)

            let bank = try await api.registerOrganisation("Northwind Bank", domain: "northwind.example")
            let bankToken = try await api.accessToken(bank)
            let asked = try await api.ask(bankToken, person: "alice", keys: ["contact.email", "identity.name.full", "finance.income.annual"],
                                          thirdParties: #"[{"name":"Credit Agency Ltd","purpose":"scoring"}]"#)
            #expect(asked.status == .created)
            #expect(asked.string("state") == "pending")
            let requestID = asked.string("id") ?? ""

            let inbox = try await api.call(.get, "/v1/me/requests?state=pending", token: alice)
            #expect(inbox.items.count == 1)
            #expect(inbox.text.contains("Northwind Bank"))
            #expect(inbox.text.contains("Credit Agency Ltd"))

            let granted = try await api.call(.post, "/v1/me/requests/\(requestID)/grant", token: alice,
                                             json: #"{"keys":["contact.email","identity.name.full"],"durationDays":7}"#)
            #expect(granted.status == .created)
            let grantID = granted.string("id") ?? ""
            #expect(granted.string("status") == "active")

            let read = try await api.call(.get, "/v1/grants/\(grantID)/data", token: bankToken)
            #expect(read.status == .ok)
            #expect(read.text.contains("alice@example.org"))
            #expect(read.text.contains("Alice Example"))
            #expect(!read.text.contains("4200000"), "an ungranted key leaked")
            if case .array(let records)? = read["records"] { #expect(records.count == 2) } else { Issue.record("no records") }

            let subset = try await api.call(.get, "/v1/grants/\(grantID)/data?keys=contact.email", token: bankToken)
            #expect(subset.text.contains("alice@example.org"))
            #expect(!subset.text.contains("Alice Example"))
            let outside = try await api.call(.get, "/v1/grants/\(grantID)/data?keys=finance.income.annual", token: bankToken)
            #expect(outside.status == .forbidden)

            // A change of the record is seen by the next read: the organisation gets current values.
            _ = try await api.put(alice, "contact.email", #""alice@new.example""#)
            #expect(try await api.call(.get, "/v1/grants/\(grantID)/data", token: bankToken).text.contains("alice@new.example"))

            let revoked = try await api.call(.post, "/v1/me/grants/\(grantID)/revoke", token: alice, json: #"{"reason":"changed bank"}"#)
            #expect(revoked.status == .ok)
            #expect(revoked.string("status") == "revoked")
            let refused = try await api.call(.get, "/v1/grants/\(grantID)/data", token: bankToken)
            #expect(refused.status == .forbidden)
            #expect(refused.string("grantStatus") == "revoked")
            #expect(refused.string("since") == revoked.string("revokedAt"))
            #expect(refused.string("detail")?.contains("revoked by the person") == true)
            #expect(!refused.text.contains("alice@"))
            #expect(try await api.call(.post, "/v1/me/grants/\(grantID)/revoke", token: alice).status == .conflict)

            let grants = try await api.call(.get, "/v1/grants", token: bankToken)
            #expect(grants.items.count == 1)
            #expect(grants.text.contains("\"revoked\""))
            let requests = try await api.call(.get, "/v1/requests?state=granted", token: bankToken)
            #expect(requests.items.count == 1)

            // The person's audit log tells the whole story, and its chain verifies.
            let audit = try await api.call(.get, "/v1/me/audit?limit=500", token: alice)
            let kinds: [String] = {
                guard case .array(let entries)? = audit["entries"] else { return [] }
                return entries.compactMap { if case .object(let entry) = $0, case .string(let kind)? = entry["kind"] { return kind } else { return nil } }
            }()
            #expect(kinds == ["account.created", "record.put", "record.put", "record.put", "request.received", "request.granted",
                              "disclosure", "disclosure", "record.put", "disclosure", "grant.revoked"])
            let person = try #require(try await api.runtime.store.person(handle: "alice"))
            let chain = try await api.runtime.store.auditEntries(for: person.id, after: 0, limit: 1000)
            #expect(AuditChainVerifier.verify(chain).isValid)
            let disclosure = try #require(chain.first { $0.kind == .disclosure })
            #expect(disclosure.organisationID?.rawValue == bank.id)
            #expect(disclosure.grantID?.rawValue == grantID)
            #expect(disclosure.keys == ["contact.email", "identity.name.full"])
        }
    }

    @Test(arguments: engines)
    func expiredGrantsAreRefusedWithTheirExpiry(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let bob = try await api.signUp("bob")
            _ = try await api.put(bob, "contact.email", #""bob@example.org""#)
            let shop = try await api.registerOrganisation("Shop", domain: "shop.example")
            let token = try await api.accessToken(shop)
            let requestID = try await api.ask(token, person: "bob", keys: ["contact.email"]).string("id") ?? ""
            let grantID = try await api.call(.post, "/v1/me/requests/\(requestID)/grant", token: bob).string("id") ?? ""
            #expect(try await api.call(.get, "/v1/grants/\(grantID)/data", token: token).status == .ok)
            let past = Timestamp.now().adding(seconds: -5)
            try await api.runtime.store.engine.withWriteConnection { db in
                try await db.raw("UPDATE grants SET expires_at = \(bind: past.millisecondsSinceEpoch) WHERE id = \(bind: grantID)").run()
            }
            let refused = try await api.call(.get, "/v1/grants/\(grantID)/data", token: token)
            #expect(refused.status == .forbidden)
            #expect(refused.string("grantStatus") == "expired")
            #expect(refused.string("since") == past.rfc3339)
            #expect(try await api.call(.get, "/v1/me/grants/\(grantID)", token: bob).string("status") == "expired")
        }
    }

    @Test(arguments: engines)
    func refusalLeavesNothingToRead(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let carol = try await api.signUp("carol")
            let shop = try await api.registerOrganisation("Shop", domain: "shop.example")
            let token = try await api.accessToken(shop)
            let requestID = try await api.ask(token, person: "carol", keys: ["contact.email"]).string("id") ?? ""
            let refused = try await api.call(.post, "/v1/me/requests/\(requestID)/refuse", token: carol, json: #"{"reason":"no"}"#)
            #expect(refused.string("state") == "refused")
            #expect(try await api.call(.post, "/v1/me/requests/\(requestID)/grant", token: carol).status == .conflict)
            #expect(try await api.call(.get, "/v1/grants", token: token).items.isEmpty)
            #expect(try await api.call(.get, "/v1/requests/\(requestID)", token: token).string("state") == "refused")
        }
    }

    @Test(arguments: engines)
    func aFailedAuditWriteMeansNoDisclosure(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let dana = try await api.signUp("dana")
            _ = try await api.put(dana, "contact.email", #""dana-secret@example.org""#)
            let shop = try await api.registerOrganisation("Shop", domain: "shop.example")
            let token = try await api.accessToken(shop)
            let requestID = try await api.ask(token, person: "dana", keys: ["contact.email"]).string("id") ?? ""
            let grantID = try await api.call(.post, "/v1/me/requests/\(requestID)/grant", token: dana).string("id") ?? ""
            let engine = api.runtime.store.engine
            try await engine.withWriteConnection { db in try await db.raw("ALTER TABLE audit_entries RENAME TO audit_entries_away").run() }
            let withheld = try await api.call(.get, "/v1/grants/\(grantID)/data", token: token, allowUnavailable: true)
            try await engine.withWriteConnection { db in try await db.raw("ALTER TABLE audit_entries_away RENAME TO audit_entries").run() }
            #expect(withheld.status == .serviceUnavailable)
            #expect(!withheld.text.contains("dana-secret"))
            #expect(withheld.string("detail")?.contains("no data was sent") == true)
            let after = try await api.call(.get, "/v1/grants/\(grantID)/data", token: token)
            #expect(after.status == .ok)
            #expect(after.text.contains("dana-secret"))
        }
    }

    @Test(arguments: engines)
    func recordsHaveHistoryAndAreEncryptedAtRest(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let erin = try await api.signUp("erin")
            _ = try await api.put(erin, "address.home", #"{"lines":["1 Plaintext Lane"],"locality":"Bristol","country":"gb"}"#)
            let second = try await api.put(erin, "address.home", #"{"lines":["2 Plaintext Lane"],"locality":"Bath","country":"GB"}"#)
            #expect(second.status == .ok)
            #expect(second["version"] == .integer(2))
            #expect(try await api.call(.get, "/v1/me/records/address.home", token: erin).text.contains("2 Plaintext Lane"))
            let history = try await api.call(.get, "/v1/me/records/address.home/history", token: erin)
            #expect(history.items.count == 2)
            #expect(history.text.contains("1 Plaintext Lane"))
            #expect(history.text.contains("\"GB\""), "country codes are normalised")
            #expect(try await api.call(.delete, "/v1/me/records/address.home", token: erin).status == .noContent)
            #expect(try await api.call(.get, "/v1/me/records/address.home", token: erin).status == .notFound)
            #expect(try await api.call(.get, "/v1/me/records/address.home/history", token: erin).items.count == 3)
            #expect(try await api.call(.delete, "/v1/me/records/address.home", token: erin).status == .notFound)

            // No plaintext in the database: every stored value is ciphertext.
            let stored = try await api.runtime.store.engine.read { db in
                try await db.raw("SELECT ciphertext FROM record_versions WHERE ciphertext IS NOT NULL").all().map { try $0.decode(column: "ciphertext", as: Data.self) }
            }
            #expect(stored.count == 2)
            for blob in stored { #expect(!String(decoding: blob, as: UTF8.self).contains("Plaintext")) }
        }
    }
}
