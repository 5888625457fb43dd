import Foundation
import HTTPTypes
import ProfferCore
import ProfferStorage
import ProfferTestSupport
import Testing

@testable import ProfferServer

/// Funding organisations' wallets: exact, idempotent, double-entry, and refused with clear problems.
@Suite("Wallets and the ledger")
struct WalletTests {
    static let key = HTTPField.Name("Idempotency-Key")!

    @Test(arguments: TestEngine.available)
    func theOperatorFundsAWalletExactlyOnce(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let bank = try await api.registerOrganisation("Bank", domain: "bank.example")
            let path = "/v1/admin/organisations/\(bank.id)/wallet/credits"
            let body = #"{"amount":{"amount":10000,"currency":"EUR"},"reference":"bank transfer 123"}"#
            let first = try await api.call(.post, path, token: api.adminToken, json: body, headers: [Self.key: "credit-1"])
            #expect(first.status == .created)
            let euros = JSONValue.object(["amount": .integer(10000), "currency": .string("EUR")])
            #expect(first["balance"] == euros)
            let retry = try await api.call(.post, path, token: api.adminToken, json: body, headers: [Self.key: "credit-1"])
            #expect(retry.status == .created)
            #expect(retry.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(retry.string("transferId") == first.string("transferId"))
            let reused = try await api.call(.post, path, token: api.adminToken, json: #"{"amount":{"amount":1,"currency":"EUR"},"reference":"other"}"#,
                                            headers: [Self.key: "credit-1"])
            #expect(reused.status == .unprocessableContent)
            #expect(reused.string("type") == "https://proffer.dev/problems/idempotency-key-reused")

            let wallet = try await api.call(.get, "/v1/admin/organisations/\(bank.id)/wallet", token: api.adminToken)
            #expect(wallet["balances"] == .array([euros]))
            let token = try await api.accessToken(bank)
            #expect(try await api.call(.get, "/v1/organisation/wallet", token: token)["balances"] == .array([euros]))
            let check = try await api.call(.get, "/v1/admin/ledger/check", token: api.adminToken)
            #expect(check["valid"] == .bool(true))
            #expect(check["transfers"] == .integer(1))
        }
    }

    @Test(arguments: TestEngine.available)
    func badCreditsMoveNothing(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let bank = try await api.registerOrganisation("Bank", domain: "bank.example")
            let other = try await api.registerOrganisation("Other", domain: "other.example")
            let path = "/v1/admin/organisations/\(bank.id)/wallet/credits"
            let cases: [(String, String)] = [
                (#"{"amount":{"amount":-5,"currency":"EUR"},"reference":"r"}"#, "/amount/amount"),
                (#"{"amount":{"amount":0,"currency":"EUR"},"reference":"r"}"#, "/amount/amount"),
                (#"{"amount":{"amount":12.5,"currency":"EUR"},"reference":"r"}"#, "fractions of a minor unit"),
                (#"{"amount":{"amount":100000000000000000000,"currency":"EUR"},"reference":"r"}"#, "64-bit"),
                (#"{"amount":{"amount":5,"currency":"XYZ"},"reference":"r"}"#, "ISO 4217"),
                (#"{"amount":{"amount":5,"currency":"EUR"},"reference":""}"#, "/reference"),
                (#"{"amount":{"amount":5,"currency":"EUR"}}"#, "/reference"),
            ]
            for (index, (body, fragment)) in cases.enumerated() {
                let answer = try await api.call(.post, path, token: api.adminToken, json: body, headers: [Self.key: "bad-\(index)"])
                #expect(answer.status == .unprocessableContent, "\(body): \(answer.text)")
                #expect(answer.text.contains(fragment), "\(fragment) not named: \(answer.text)")
            }
            let noKey = try await api.call(.post, path, token: api.adminToken, json: #"{"amount":{"amount":5,"currency":"EUR"},"reference":"r"}"#)
            #expect(noKey.status == .badRequest)
            #expect(noKey.string("detail")?.contains("Idempotency-Key") == true)
            // Balances near the 64-bit limit: the second credit would overflow and is refused whole.
            let big = try await api.call(.post, path, token: api.adminToken, json: #"{"amount":{"amount":9223372036854775000,"currency":"EUR"},"reference":"r"}"#, headers: [Self.key: "big-1"])
            #expect(big.status == .created)
            let overflow = try await api.call(.post, path, token: api.adminToken, json: #"{"amount":{"amount":1000,"currency":"EUR"},"reference":"r"}"#, headers: [Self.key: "big-2"])
            #expect(overflow.status == .unprocessableContent)
            #expect(try await api.call(.post, "/v1/admin/organisations/\(OrganisationID.generate())/wallet/credits", token: api.adminToken,
                                       json: #"{"amount":{"amount":5,"currency":"EUR"},"reference":"r"}"#, headers: [Self.key: "nobody"]).status == .notFound)
            // Nobody but the operator moves money; an organisation sees only its own wallet.
            let alice = try await api.signUp("alice")
            #expect(try await api.call(.post, path, token: alice, json: #"{"amount":{"amount":5,"currency":"EUR"},"reference":"r"}"#, headers: [Self.key: "p"]).status == .unauthorized)
            let otherToken = try await api.accessToken(other)
            #expect(try await api.call(.post, path, token: otherToken, json: #"{"amount":{"amount":5,"currency":"EUR"},"reference":"r"}"#, headers: [Self.key: "o"]).status == .unauthorized)
            #expect(try await api.call(.get, "/v1/organisation/wallet", token: otherToken)["balances"] == .array([]))
            let check = try await api.call(.get, "/v1/admin/ledger/check", token: api.adminToken)
            #expect(check["valid"] == .bool(true))
            #expect(check["transfers"] == .integer(1))
        }
    }
}
