import Foundation
import HTTPTypes
import ProfferCore
import ProfferStorage
import ProfferTestSupport
import Testing

@testable import ProfferServer

/// The person's terms and rules deciding requests, and the signed receipts of every decision.
@Suite("Terms, rules and receipts")
struct TermsRulesReceiptsTests {
    static let engines = TestEngine.available

    func receipts(_ api: LiveAPI, _ token: String, _ path: String = "/v1/me/receipts") async throws -> [JSONValue] {
        try await api.call(.get, path, token: token).items
    }

    @Test(arguments: engines)
    func theFourOutcomes(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let alice = try await api.signUp("alice")
            _ = try await api.put(alice, "contact.email", #""alice@example.org""#)
            let bank = try await api.registerOrganisation("Bank", domain: "bank.example", verified: true)
            let token = try await api.accessToken(bank)

            // Public terms: the defaults of a new person.
            let published = try await api.call(.get, "/v1/people/alice/terms")
            #expect(published.status == .ok)
            #expect(published.text.contains("no-stalking") && published.text.contains("730 days"))
            #expect(try await api.call(.get, "/v1/people/nobody/terms").status == .notFound)

            // Alice proffers stricter terms and adds rules.
            let terms = try await api.call(.put, "/v1/me/terms", token: alice, json: #"""
                {"terms":[{"id":"no-onward-sharing"},{"id":"max-retention","parameters":{"days":365}},{"id":"no-stalking"}]}
                """#)
            #expect(terms.status == .ok)
            let accepted = #"["no-onward-sharing","max-retention","no-stalking"]"#
            let grantRule = try await api.call(.post, "/v1/me/rules", token: alice, json: #"""
                {"action":"grant","keys":["contact.email"],"purposes":["ServiceProvision"],"organisationVerified":true,"maxDurationDays":365}
                """#)
            #expect(grantRule.status == .created)
            #expect(grantRule.string("summary")?.contains("auto-grant contact.email to verified organisations") == true)
            #expect(try await api.call(.post, "/v1/me/rules", token: alice, json: #"{"action":"refuse","keys":["*"],"purposes":["Marketing"],"note":"private: my ex works there"}"#).status == .created)

            // 1. Refused by terms: a problem naming each broken term, the person not bothered.
            let byTerms = try await api.ask(token, person: "alice", keys: ["contact.email"], thirdParties: #"[{"name":"Broker"}]"#,
                                            retentionDays: 1095, acceptedTerms: #"["max-retention","no-stalking"]"#)
            #expect(byTerms.status == .unprocessableContent)
            #expect(byTerms.string("type") == "https://proffer.dev/problems/terms-refused")
            #expect(byTerms["brokenTerms"] == .array([.string("no-onward-sharing"), .string("max-retention")]))
            #expect(byTerms.text.contains("/thirdParties") || byTerms.text.contains("/acceptedTerms"))
            #expect(byTerms.text.contains("/retentionDays"))
            let refusedID = byTerms.string("requestId") ?? ""
            #expect(try await api.call(.get, "/v1/requests/\(refusedID)", token: token).string("decidedBy") == "terms")

            // 2. Auto-granted by rule, capped by the rule's duration.
            let auto = try await api.ask(token, person: "alice", keys: ["contact.email"], durationDays: 400, retentionDays: 30, acceptedTerms: accepted)
            #expect(auto.status == .created)
            #expect(auto.string("state") == "granted")
            #expect(auto.string("decision")?.contains("Granted automatically for 365 days") == true)
            let grantID = auto.string("grantId") ?? ""
            #expect(try await api.call(.get, "/v1/grants/\(grantID)/data", token: token).text.contains("alice@example.org"))

            // 3. Auto-refused by rule: DirectMarketing is a kind of Marketing.
            let marketing = try await api.ask(token, person: "alice", keys: ["contact.email"], purpose: "DirectMarketing", retentionDays: 30, acceptedTerms: accepted)
            #expect(marketing.status == .created)
            #expect(marketing.string("state") == "refused")
            #expect(marketing.string("decision")?.contains("DirectMarketing is a kind of Marketing") == true)
            #expect(!marketing.text.contains("my ex"), "the person's private rule note must not reach the organisation")

            // 4. Left for the person.
            let pending = try await api.ask(token, person: "alice", keys: ["contact.email", "identity.name.full"], retentionDays: 30, acceptedTerms: accepted)
            #expect(pending.string("state") == "pending")
            #expect(pending.string("decision")?.contains("Left for the person to decide: no automatic rule grants identity.name.full") == true)
            #expect(try await api.call(.get, "/v1/me/requests?state=pending", token: alice).items.count == 1, "only the undecided request reaches the inbox")

            // Every decision has a signed receipt; the pending one has none yet.
            let all = try await receipts(api, alice)
            #expect(all.count == 3)
            let mine = try await api.call(.get, "/v1/me/grants/\(grantID)/receipts", token: alice)
            #expect(mine.items.count == 1)
            let organisationSide = try await api.call(.get, "/v1/grants/\(grantID)/receipts", token: token)
            #expect(organisationSide.items.count == 1)
            #expect(try await api.call(.get, "/v1/receipts?request=\(refusedID)", token: token).items.count == 1)

            // The rules preview says how current rules would decide each request.
            let preview = try await api.call(.get, "/v1/me/rules/preview", token: alice)
            #expect(preview.items.count == 4)
            #expect(preview.text.contains("granted-by-rule") && preview.text.contains("refused-by-terms"))

            // The audit log explains the automatic decisions in plain words.
            let audit = try await api.call(.get, "/v1/me/audit?limit=500", token: alice).text
            #expect(audit.contains("Refused automatically because it breaks the person's terms"))
            #expect(audit.contains("Granted automatically for 365 days"))
        }
    }

    @Test(arguments: engines)
    func receiptsAreKantaraDocumentsSignedWithAPublishedKey(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let bob = try await api.signUp("bob")
            let shop = try await api.registerOrganisation("Shop", domain: "shop.example")
            let token = try await api.accessToken(shop)
            let requestID = try await api.ask(token, person: "bob", keys: ["contact.email", "health.allergies"], thirdParties: #"[{"name":"Courier"}]"#).string("id") ?? ""
            let grant = try await api.call(.post, "/v1/me/requests/\(requestID)/grant", token: bob, json: #"{"keys":["health.allergies"]}"#)
            let grantID = grant.string("id") ?? ""
            _ = try await api.call(.post, "/v1/me/grants/\(grantID)/revoke", token: bob)
            let listed = try await api.call(.get, "/v1/me/grants/\(grantID)/receipts", token: bob)
            #expect(listed.items.count == 2)
            let receiptID: String = {
                guard case .object(let first)? = listed.items.last, case .string(let id)? = first["id"] else { return "" }
                return id
            }()
            let fetched = try await api.call(.get, "/v1/me/receipts/\(receiptID)", token: bob)
            #expect(fetched.string("event") == "partially-granted")
            guard case .object(let document)? = fetched["receipt"] else { Issue.record("no decoded receipt"); return }
            #expect(document["version"] == .string("KI-CR-v1.1.0"))
            #expect(document["sensitive"] == .bool(true))
            #expect(document["spiCat"] == .array([.string("health")]))
            for member in ["jurisdiction", "consentTimestamp", "collectionMethod", "consentReceiptID", "piiPrincipalId", "piiControllers", "services", "policyUrl"] {
                #expect(document[member] != nil, "missing \(member)")
            }
            #expect(fetched.text.contains("thirdPartyName"))
            #expect(fetched.text.contains("iso27560"))
            #expect(fetched.text.contains("retentionPeriod"))

            // It verifies against the live JWKS, and one changed byte fails.
            let jwks = try await api.call(.get, "/.well-known/jwks.json").text
            let jws = fetched.string("jws") ?? ""
            let outcome = await ReceiptVerification.verify(jws: jws, jwks: jwks)
            guard case .valid(let kid, _) = outcome else { Issue.record("\(outcome)"); return }
            #expect(kid.hasPrefix("receipt-"))
            var bytes = Array(jws)
            let index = jws.firstIndex(of: ".").map { jws.distance(from: jws.startIndex, to: $0) + 5 } ?? 5
            bytes[index] = bytes[index] == "A" ? "B" : "A"
            if case .valid = await ReceiptVerification.verify(jws: String(bytes), jwks: jwks) { Issue.record("a tampered receipt verified") }

            // The organisation can fetch the same receipt; another person cannot.
            #expect(try await api.call(.get, "/v1/receipts/\(receiptID)", token: token).string("jws") == jws)
            let carol = try await api.signUp("carol")
            #expect(try await api.call(.get, "/v1/me/receipts/\(receiptID)", token: carol).status == .notFound)
            let other = try await api.accessToken(try await api.registerOrganisation("Other", domain: "other.example"))
            #expect(try await api.call(.get, "/v1/receipts/\(receiptID)", token: other).status == .notFound)
        }
    }

    @Test(arguments: engines)
    func rotatedKeysKeepOldReceiptsVerifiable(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let dana = try await api.signUp("dana")
            let shop = try await api.registerOrganisation("Shop", domain: "shop.example")
            let token = try await api.accessToken(shop)
            let requestID = try await api.ask(token, person: "dana", keys: ["contact.email"]).string("id") ?? ""
            _ = try await api.call(.post, "/v1/me/requests/\(requestID)/refuse", token: dana)
            let receipts = try await api.call(.get, "/v1/me/receipts", token: dana)
            guard case .object(let first)? = receipts.items.first, case .string(let oldJWS)? = first["jws"] else { Issue.record("no receipt"); return }
            let directory = api.runtime.configuration.dataDirectory
            let newKid = try ReceiptVerification.rotate(dataDirectory: directory)
            let keySet = try ReceiptVerification.jwks(dataDirectory: directory)
            #expect(keySet.contains(newKid))
            if case .invalid(let why) = await ReceiptVerification.verify(jws: oldJWS, jwks: keySet) { Issue.record("old receipt failed after rotation: \(why)") }
            let signer = try await ReceiptSigner(dataDirectory: directory)
            #expect(signer.activeKid == newKid)
            #expect(signer.jwks.count == 2)
        }
    }

    @Test(arguments: engines)
    func expiredGrantsGetTheirRecordAndReceipt(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let erin = try await api.signUp("erin")
            let shop = try await api.registerOrganisation("Shop", domain: "shop.example")
            let token = try await api.accessToken(shop)
            let requestID = try await api.ask(token, person: "erin", keys: ["contact.email"]).string("id") ?? ""
            let grantID = try await api.call(.post, "/v1/me/requests/\(requestID)/grant", token: erin).string("id") ?? ""
            let sweeper = ExpirySweeper(services: api.runtime.services, logger: TestDatabase.logger)
            #expect(try await sweeper.sweep() == 0)
            #expect(try await sweeper.sweep(now: Timestamp.now().adding(days: 31)) == 1)
            #expect(try await sweeper.sweep(now: Timestamp.now().adding(days: 31)) == 0)
            let listed = try await api.call(.get, "/v1/me/grants/\(grantID)/receipts", token: erin)
            #expect(listed.text.contains("\"expired\""))
            #expect(try await api.call(.get, "/v1/me/audit", token: erin).text.contains("grant.expired"))
        }
    }

    @Test(arguments: engines)
    func badTermsAndRulesAreRefusedAndChangeNothing(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let frank = try await api.signUp("frank")
            let cases: [(String, String, String)] = [
                ("/v1/me/terms", #"{"terms":[{"id":"no-such-term"}]}"#, "/terms/0/id"),
                ("/v1/me/terms", #"{"terms":[{"id":"max-retention","parameters":{"days":0}}]}"#, "/terms/0/parameters/days"),
                ("/v1/me/terms", #"{"terms":[{"id":"no-sale","parameters":{"x":1}}]}"#, "/terms/0/parameters/x"),
                ("/v1/me/terms", #"{"terms":[{"id":"no-sale"},{"id":"no-sale"}]}"#, "/terms/1/id"),
                ("/v1/me/terms", #"{"terms":[{"id":"no-sale","extra":1}]}"#, "/terms/0/extra"),
                ("/v1/me/terms", #"{"terms":[{"id":"max-retention","parameters":{"days":1.5}}]}"#, "must be a whole number"),
                ("/v1/me/terms", #"{"terms":[{"id":"max-retention","parameters":{"days":99999999999999999999}}]}"#, "must be a whole number"),
                ("/v1/me/rules", #"{"action":"grant","keys":[]}"#, "/keys"),
                ("/v1/me/rules", #"{"action":"maybe","keys":["*"]}"#, "/action"),
                ("/v1/me/rules", #"{"action":"grant","keys":["made.up"]}"#, "/keys"),
                ("/v1/me/rules", #"{"action":"grant","keys":["*"],"purposes":["Snooping"]}"#, "/purposes/0"),
                ("/v1/me/rules", #"{"action":"refuse","keys":["*"],"maxDurationDays":5}"#, "/maxDurationDays"),
                ("/v1/me/rules", #"{"action":"grant","keys":["*"],"maxDurationDays":99999}"#, "/maxDurationDays"),
            ]
            for (path, body, pointer) in cases {
                let answer = try await api.call(path == "/v1/me/terms" ? .put : .post, path, token: frank, json: body)
                #expect(answer.status == .unprocessableContent, "\(body): \(answer.text)")
                #expect(answer.text.contains(pointer), "\(pointer) not named: \(answer.text)")
            }
            // Contradictory rules: the same scope with the opposite action.
            #expect(try await api.call(.post, "/v1/me/rules", token: frank, json: #"{"action":"grant","keys":["contact.email"]}"#).status == .created)
            let contradiction = try await api.call(.post, "/v1/me/rules", token: frank, json: #"{"action":"refuse","keys":["contact.email"]}"#)
            #expect(contradiction.status == .unprocessableContent)
            #expect(contradiction.text.contains("contradicts"))
            #expect(try await api.call(.get, "/v1/me/rules", token: frank).items.count == 1)
            #expect(try await api.call(.get, "/v1/me/terms", token: frank).text.contains("no-stalking"), "terms unchanged")
            #expect(try await api.call(.delete, "/v1/me/rules/\(RuleID.generate())", token: frank).status == .notFound)

            let shop = try await api.registerOrganisation("Shop", domain: "shop.example")
            let token = try await api.accessToken(shop)
            let unknownTerm = try await api.ask(token, person: "frank", keys: ["contact.email"], acceptedTerms: #"["no-such-term"]"#)
            #expect(unknownTerm.status == .unprocessableContent)
            #expect(try await api.call(.get, "/v1/requests", token: token).items.isEmpty)
            #expect(try await api.call(.get, "/v1/receipts/\(ReceiptID.generate())", token: token).status == .notFound)
            #expect(try await api.call(.get, "/v1/me/receipts?grant=nonsense", token: frank).status == .badRequest)
        }
    }
}
