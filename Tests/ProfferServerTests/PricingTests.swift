import Foundation
import HTTPTypes
import ProfferCore
import ProfferStorage
import ProfferTestSupport
import Testing

@testable import ProfferServer

/// Getting paid for data, over HTTP: prices and the minimum-price term, offers fixed in grants and receipts,
/// per-disclosure and per-month charges, 402 refusals, earnings and statements — on both engines.
@Suite("Prices and payments")
struct PricingTests {
    static let engines = TestEngine.available
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    static let termsWithPrice = #"["no-stalking","max-retention","no-sale","breach-notification","minimum-price"]"#

    func fund(_ api: LiveAPI, _ organisation: LiveAPI.Client, _ amount: Int64, currency: String = "EUR") async throws {
        let answer = try await api.call(.post, "/v1/admin/organisations/\(organisation.id)/wallet/credits", token: api.adminToken,
                                        json: #"{"amount":{"amount":\#(amount),"currency":"\#(currency)"},"reference":"bank transfer"}"#,
                                        headers: [Self.idempotencyKey: UUID().uuidString])
        #expect(answer.status == .created, "funding: \(answer.text)")
        #expect(answer.string("provider") == "manual")
    }

    func ledgerIsSound(_ api: LiveAPI, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let check = try await api.call(.get, "/v1/admin/ledger/check", token: api.adminToken)
        #expect(check["valid"] == .bool(true), "ledger: \(check.text)", sourceLocation: sourceLocation)
    }

    static func money(_ amount: Int64, _ currency: String = "EUR") -> JSONValue {
        .object(["amount": .integer(amount), "currency": .string(currency)])
    }

    @Test(arguments: engines)
    func aPricedGrantPaysThePersonForEachDisclosure(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let alice = try await api.signUp("alice")
            _ = try await api.put(alice, "contact.email", #""alice@example.org""#)
            _ = try await api.put(alice, "identity.name.full", #""Alice Example""#)
            let prices = try await api.call(.put, "/v1/me/prices", token: alice, json: """
                {"prices":[{"key":"contact.email","basis":"per-disclosure","price":{"amount":25,"currency":"EUR"}},
                           {"category":"identity","basis":"per-disclosure","price":{"amount":10,"currency":"EUR"}}]}
                """)
            #expect(prices.status == .ok, "\(prices.text)")
            #expect(try await api.call(.put, "/v1/me/terms", token: alice, json: #"{"terms":[{"id":"no-stalking"},{"id":"max-retention"},{"id":"no-sale"},{"id":"breach-notification"},{"id":"minimum-price"}]}"#).status == .ok)
            let published = try await api.call(.get, "/v1/people/alice/terms")
            if case .array(let list)? = published["prices"] { #expect(list.count == 2) } else { Issue.record("no prices in public terms: \(published.text)") }

            let bank = try await api.registerOrganisation("Northwind Bank", domain: "northwind.example")
            let bankToken = try await api.accessToken(bank)
            // Offering less than 0.25 + 0.10 EUR per disclosure breaks the minimum-price term, and the answer names the price.
            let cheap = try await api.ask(bankToken, person: "alice", keys: ["contact.email", "identity.name.full"], acceptedTerms: Self.termsWithPrice,
                                          extra: #","offer":{"kind":"per-disclosure","price":{"amount":20,"currency":"EUR"}}"#)
            #expect(cheap.status == .unprocessableContent)
            #expect(cheap.string("type") == "https://proffer.dev/problems/terms-refused")
            #expect(cheap.string("detail")?.contains("0.35 EUR per disclosure") == true, "\(cheap.text)")
            #expect(cheap.text.contains("\"/offer\""))
            let unpaid = try await api.ask(bankToken, person: "alice", keys: ["contact.email"], acceptedTerms: Self.termsWithPrice)
            #expect(unpaid.string("type") == "https://proffer.dev/problems/terms-refused", "offering nothing for priced data is refused")
            let wrongBasis = try await api.ask(bankToken, person: "alice", keys: ["contact.email"], acceptedTerms: Self.termsWithPrice,
                                               extra: #","offer":{"kind":"per-month","price":{"amount":5000,"currency":"EUR"}}"#)
            #expect(wrongBasis.string("detail")?.contains("only per disclosure") == true, "\(wrongBasis.text)")

            let fair = try await api.ask(bankToken, person: "alice", keys: ["contact.email", "identity.name.full"], acceptedTerms: Self.termsWithPrice,
                                         extra: #","offer":{"kind":"per-disclosure","price":{"amount":40,"currency":"EUR"}}"#)
            #expect(fair.status == .created, "\(fair.text)")
            #expect(fair.string("state") == "pending")
            let granted = try await api.call(.post, "/v1/me/requests/\(fair.string("id") ?? "")/grant", token: alice, json: #"{"keys":["contact.email"]}"#)
            #expect(granted.status == .created)
            let offer = JSONValue.object(["kind": .string("per-disclosure"), "price": Self.money(40)])
            #expect(granted["offer"] == offer, "the agreed price is fixed in the grant")
            let grantID = granted.string("id") ?? ""
            let receipts = try await api.call(.get, "/v1/me/grants/\(grantID)/receipts", token: alice)
            let receiptID: String? = if case .object(let first)? = receipts.items.first, case .string(let id)? = first["id"] { id } else { nil }
            let receipt = try await api.call(.get, "/v1/me/receipts/\(receiptID ?? "none")", token: alice)
            guard case .object(let document)? = receipt["receipt"], case .object(let extensions)? = document["extensions"],
                  case .object(let proffer)? = extensions["proffer"] else { Issue.record("no receipt document: \(receipt.text)"); return }
            #expect(proffer["compensation"] == offer, "the agreed price is fixed in the consent receipt")

            // Nothing in the wallet: the read is refused with 402, no data leaves, and the refusal is audited.
            let broke = try await api.call(.get, "/v1/grants/\(grantID)/data", token: bankToken)
            #expect(broke.status.code == 402)
            #expect(broke.string("type") == "https://proffer.dev/problems/insufficient-funds")
            #expect(!broke.text.contains("alice@example.org"))
            try await fund(api, bank, 100)
            var replayed: [String?] = []
            for key in ["read-1", "read-1", "read-2"] {
                // The second read retries the first under its Idempotency-Key: disclosed again, not charged again.
                let read = try await api.call(.get, "/v1/grants/\(grantID)/data", token: bankToken, headers: [Self.idempotencyKey: key])
                #expect(read.status == .ok)
                #expect(read.text.contains("alice@example.org"))
                replayed.append(read.headers[HTTPField.Name("Idempotent-Replayed")!])
            }
            #expect(replayed == [nil, "true", nil])
            let reused = try await api.call(.get, "/v1/grants/\(grantID)/data?keys=contact.email,identity.name.full", token: bankToken,
                                            headers: [Self.idempotencyKey: "bad key with spaces"])
            #expect(reused.status == .badRequest)
            let third = try await api.call(.get, "/v1/grants/\(grantID)/data", token: bankToken)
            #expect(third.status.code == 402, "0.20 EUR left is less than 0.40: \(third.text)")
            #expect(try await api.call(.get, "/v1/organisation/wallet", token: bankToken)["balances"] == .array([Self.money(20)]))
            // 5 % of 40 is 2: Alice earns 38 per disclosure.
            #expect(try await api.call(.get, "/v1/me/earnings", token: alice)["balances"] == .array([Self.money(76)]))
            let audit = try await api.call(.get, "/v1/me/audit?limit=500", token: alice)
            #expect(audit.text.components(separatedBy: "\"disclosure.refused\"").count - 1 == 2)
            #expect(audit.text.contains("paid 0.40 EUR"))
            #expect(!audit.text.contains("wallet holds"), "the organisation's balance is not the person's business")
            try await ledgerIsSound(api)

            // Statements: by month and counterpart, JSON and RFC 4180 CSV.
            let statement = try await api.call(.get, "/v1/me/statement", token: alice)
            #expect(statement.status == .ok)
            #expect(statement["totals"] == .array([Self.money(76)]))
            #expect(statement.text.contains("Northwind Bank"))
            let csv = try await api.call(.get, "/v1/me/statement?format=csv", token: alice)
            #expect(csv.headers[.contentType]?.hasPrefix("text/csv") == true)
            let lines = csv.text.components(separatedBy: "\r\n")
            #expect(lines.first == "period,counterpart_id,counterpart_name,kind,transfers,currency,amount_minor_units,amount")
            #expect(lines.contains { $0.hasSuffix(",Northwind Bank,disclosure-charge,2,EUR,76,0.76") }, "\(lines)")
            let spending = try await api.call(.get, "/v1/organisation/statement?format=csv", token: bankToken)
            let spent = spending.text.components(separatedBy: "\r\n")
            #expect(spent.contains { $0.hasSuffix(",alice,alice,disclosure-charge,2,EUR,-80,-0.80") }, "\(spent)")
            #expect(spent.contains { $0.contains("wallet-credit,1,EUR,100,1.00") }, "\(spent)")
            #expect(!spending.text.contains("per_"), "an organisation sees handles, never internal person ids")
        }
    }

    @Test(arguments: engines)
    func aMonthlyGrantIsChargedAndSuspendedWhenItCannotPay(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let bob = try await api.signUp("bob")
            _ = try await api.put(bob, "contact.email", #""bob@example.org""#)
            let shop = try await api.registerOrganisation("Corner Shop", domain: "shop.example")
            let shopToken = try await api.accessToken(shop)
            try await fund(api, shop, 600)
            let asked = try await api.ask(shopToken, person: "bob", keys: ["contact.email"], durationDays: 90,
                                          extra: #","offer":{"kind":"per-month","price":{"amount":500,"currency":"EUR"}}"#)
            let granted = try await api.call(.post, "/v1/me/requests/\(asked.string("id") ?? "")/grant", token: bob)
            #expect(granted.status == .created)
            #expect(granted.string("status") == "active")
            #expect(granted.string("paidUntil") != nil, "the first month is charged when the person grants")
            let grantID = granted.string("id") ?? ""
            #expect(try await api.call(.get, "/v1/grants/\(grantID)/data", token: shopToken).status == .ok)
            #expect(try await api.call(.get, "/v1/organisation/wallet", token: shopToken)["balances"] == .array([Self.money(100)]))

            // A month later the job cannot charge the second period: the grant is suspended.
            let charger = PeriodCharger(services: api.runtime.services, logger: TestDatabase.logger)
            let nextMonth = Timestamp.now().adding(days: 32)
            let charges = try await charger.charge(now: nextMonth)
            #expect(charges.count == 1)
            #expect(try await api.call(.get, "/v1/me/grants/\(grantID)", token: bob).string("status") == "suspended")

            // A second monthly grant the wallet cannot pay starts suspended: reads get 402 until it is paid.
            let second = try await api.ask(shopToken, person: "bob", keys: ["contact.email"], durationDays: 90,
                                           extra: #","offer":{"kind":"per-month","price":{"amount":500,"currency":"EUR"}}"#)
            let unpaid = try await api.call(.post, "/v1/me/requests/\(second.string("id") ?? "")/grant", token: bob)
            #expect(unpaid.string("status") == "suspended")
            let unpaidID = unpaid.string("id") ?? ""
            let refused = try await api.call(.get, "/v1/grants/\(unpaidID)/data", token: shopToken)
            #expect(refused.status.code == 402)
            #expect(refused.string("type") == "https://proffer.dev/problems/grant-suspended")
            #expect(refused.string("grantId") == unpaidID)
            #expect(!refused.text.contains("bob@example.org"))

            try await fund(api, shop, 1_000)
            let resumed = try await charger.charge()
            guard case .charged(let paid, _)? = resumed.first?.result else { Issue.record("not resumed: \(resumed)"); return }
            // It resumes moments into its first month and pays for the rest of it (rounded down).
            #expect(paid.minorUnits <= 500 && paid.minorUnits >= 495, "\(paid)")
            #expect(try await api.call(.get, "/v1/grants/\(unpaidID)/data", token: shopToken).status == .ok)
            let earned = 475 + FeePolicy.standard.split(paid.minorUnits).person
            #expect(try await api.call(.get, "/v1/me/earnings", token: bob)["balances"] == .array([Self.money(earned)]))
            // The person can revoke a suspended or active priced grant like any other.
            #expect(try await api.call(.post, "/v1/me/grants/\(grantID)/revoke", token: bob).status == .ok)
            try await ledgerIsSound(api)
        }
    }

    @Test(arguments: engines)
    func nonCashOffersAreRecordedAndMoveNoMoney(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let carol = try await api.signUp("carol")
            let store = try await api.registerOrganisation("Book Store", domain: "books.example")
            let token = try await api.accessToken(store)
            let asked = try await api.ask(token, person: "carol", keys: ["contact.email"],
                                          extra: #","offer":{"kind":"discount","percentage":15,"conditions":"on all paperbacks while the grant is active"}"#)
            #expect(asked.status == .created)
            #expect(asked["offer"] == .object(["kind": .string("discount"), "percentage": .integer(15), "conditions": .string("on all paperbacks while the grant is active")]))
            let granted = try await api.call(.post, "/v1/me/requests/\(asked.string("id") ?? "")/grant", token: carol)
            #expect(try await api.call(.get, "/v1/grants/\(granted.string("id") ?? "")/data", token: token).status == .ok)
            let voucher = try await api.ask(token, person: "carol", keys: ["contact.email"],
                                            extra: #","offer":{"kind":"voucher","description":"A 10 EUR voucher","value":{"amount":1000,"currency":"EUR"}}"#)
            #expect(voucher.status == .created)
            #expect(try await api.call(.get, "/v1/admin/ledger/check", token: api.adminToken)["transfers"] == .integer(0))
        }
    }

    @Test(arguments: engines)
    func badPricesAndOffersAreRefusedAndChangeNothing(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let dave = try await api.signUp("dave")
            let good = #"{"prices":[{"key":"contact.email","basis":"per-month","price":{"amount":99,"currency":"GBP"}}]}"#
            #expect(try await api.call(.put, "/v1/me/prices", token: dave, json: good).status == .ok)
            let badPrices: [(String, String)] = [
                (#"{"prices":[{"key":"contact.email","basis":"per-disclosure","price":{"amount":2.5,"currency":"EUR"}}]}"#, "fractions of a minor unit"),
                (#"{"prices":[{"key":"contact.email","basis":"per-disclosure","price":{"amount":-1,"currency":"EUR"}}]}"#, "greater than zero"),
                (#"{"prices":[{"key":"contact.email","basis":"per-disclosure","price":{"amount":1,"currency":"EURO"}}]}"#, "ISO 4217"),
                (#"{"prices":[{"key":"contact.email","basis":"per-disclosure","price":{"amount":100000000000000000000,"currency":"EUR"}}]}"#, "64-bit"),
                (#"{"prices":[{"key":"no.such.key","basis":"per-disclosure","price":{"amount":1,"currency":"EUR"}}]}"#, "not a key in the catalogue"),
                (#"{"prices":[{"key":"contact.email","category":"contact","basis":"per-disclosure","price":{"amount":1,"currency":"EUR"}}]}"#, "exactly one of key"),
                (#"{"prices":[{"category":"gossip","basis":"per-disclosure","price":{"amount":1,"currency":"EUR"}}]}"#, "must be one of"),
                (#"{"prices":[{"key":"contact.email","basis":"per-year","price":{"amount":1,"currency":"EUR"}}]}"#, "per-disclosure or per-month"),
                (#"{"prices":[{"key":"contact.email","basis":"per-month","price":{"amount":1,"currency":"EUR"}},{"key":"identity.name.full","basis":"per-month","price":{"amount":1,"currency":"USD"}}]}"#, "one currency"),
                (#"{"prices":[{"key":"contact.email","basis":"per-month","price":{"amount":1,"currency":"EUR"}},{"key":"contact.email","basis":"per-month","price":{"amount":2,"currency":"EUR"}}]}"#, "already priced"),
                (#"{"prices":[{"key":"contact.email","basis":"per-month","price":{"amount":1,"currency":"EUR"},"discount":true}]}"#, "unknown field"),
                (#"{"prices":{"contact.email":1}}"#, "must be an array"),
            ]
            for (body, fragment) in badPrices {
                let answer = try await api.call(.put, "/v1/me/prices", token: dave, json: body)
                #expect(answer.status == .unprocessableContent, "\(body) → \(answer.status)")
                #expect(answer.text.contains(fragment), "\(body) → \(answer.text)")
            }
            let kept = try await api.call(.get, "/v1/me/prices", token: dave)
            #expect(kept["prices"] == .array([.object(["key": .string("contact.email"), "basis": .string("per-month"), "price": Self.money(99, "GBP")])]))

            let shop = try await api.registerOrganisation("Shop", domain: "shop.example")
            let token = try await api.accessToken(shop)
            let badOffers: [(String, String)] = [
                (#"{"kind":"per-disclosure","price":{"amount":0.5,"currency":"EUR"}}"#, "fractions of a minor unit"),
                (#"{"kind":"per-disclosure"}"#, "/offer/price"),
                (#"{"kind":"per-month","price":{"amount":0,"currency":"EUR"}}"#, "greater than zero"),
                (#"{"kind":"bitcoin","price":{"amount":1,"currency":"EUR"}}"#, "/offer/kind"),
                (#"{"kind":"discount","percentage":0,"conditions":"none"}"#, "1 to 100"),
                (#"{"kind":"discount","percentage":120,"conditions":"none"}"#, "1 to 100"),
                (#"{"kind":"discount","percentage":10}"#, "/offer/conditions"),
                (#"{"kind":"voucher","description":""}"#, "/offer/description"),
                (#"{"kind":"none","price":{"amount":1,"currency":"EUR"}}"#, "unknown field"),
                (#""free""#, "must be an object"),
            ]
            for (offer, fragment) in badOffers {
                let answer = try await api.ask(token, person: "dave", keys: ["contact.email"], extra: #","offer":\#(offer)"#)
                #expect(answer.status == .unprocessableContent, "\(offer) → \(answer.status)")
                #expect(answer.text.contains(fragment), "\(offer) → \(answer.text)")
            }
            #expect(try await api.call(.get, "/v1/requests", token: token).items.isEmpty, "no bad offer stored a request")
            for query in ["from=2026-13-01", "from=yesterday", "to=2026-02-30", "from=2026-05-01&to=2026-04-01", "from=1999-01-01&to=2026-01-01", "format=xml"] {
                let answer = try await api.call(.get, "/v1/me/statement?\(query)", token: dave)
                #expect(answer.status == .badRequest, "\(query) → \(answer.status)")
            }
            // Money is personal too: statements and earnings are one's own, never another's.
            #expect(try await api.call(.get, "/v1/me/statement", token: token).status == .unauthorized)
            #expect(try await api.call(.get, "/v1/organisation/statement", token: dave).status == .unauthorized)
        }
    }
}
