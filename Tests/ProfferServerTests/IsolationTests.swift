import Foundation
import HTTPTypes
import ProfferCore
import ProfferStorage
import ProfferTestSupport
import Testing

@testable import ProfferServer

/// The cross-tenant matrix: person A / organisation X can reach nothing of person B / organisation Y,
/// and no kind of credential works on another kind's routes.
@Suite("Isolation between tenants")
struct IsolationTests {
    @Test(arguments: TestEngine.available)
    func nobodyReachesAnotherTenantsAnything(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let alice = try await api.signUp("alice")
            let bob = try await api.signUp("bob")
            _ = try await api.put(alice, "contact.email", #""alice@example.org""#)
            let x = try await api.registerOrganisation("X", domain: "x.example")
            let y = try await api.registerOrganisation("Y", domain: "y.example")
            let xToken = try await api.accessToken(x)
            let yToken = try await api.accessToken(y)
            let requestID = try await api.ask(xToken, person: "alice", keys: ["contact.email"]).string("id") ?? ""
            let grant = try await api.call(.post, "/v1/me/requests/\(requestID)/grant", token: alice)
            let grantID = grant.string("id") ?? ""
            let bobsPAT = try await api.call(.post, "/v1/me/tokens", token: bob, json: #"{"name":"script"}"#)
            let bobsPATID = bobsPAT.string("id") ?? ""

            // Person B against person A's things.
            #expect(try await api.call(.get, "/v1/me/requests/\(requestID)", token: bob).status == .notFound)
            #expect(try await api.call(.post, "/v1/me/requests/\(requestID)/refuse", token: bob).status == .notFound)
            #expect(try await api.call(.get, "/v1/me/grants/\(grantID)", token: bob).status == .notFound)
            #expect(try await api.call(.post, "/v1/me/grants/\(grantID)/revoke", token: bob).status == .notFound)
            #expect(try await api.call(.get, "/v1/me/records", token: bob).items.isEmpty)
            #expect(try await api.call(.get, "/v1/me/records/contact.email", token: bob).status == .notFound)
            #expect(!(try await api.call(.get, "/v1/me/audit", token: bob).text.contains(requestID)))
            #expect(try await api.call(.delete, "/v1/me/tokens/\(bobsPATID)", token: alice).status == .notFound)
            #expect(try await api.call(.get, "/v1/me/grants/\(grantID)", token: alice).status == .ok)

            // Organisation Y against organisation X's request and grant.
            #expect(try await api.call(.get, "/v1/requests/\(requestID)", token: yToken).status == .notFound)
            #expect(try await api.call(.get, "/v1/grants/\(grantID)", token: yToken).status == .notFound)
            let stolen = try await api.call(.get, "/v1/grants/\(grantID)/data", token: yToken)
            #expect(stolen.status == .notFound)
            #expect(!stolen.text.contains("alice@example.org"))
            #expect(try await api.call(.get, "/v1/grants", token: yToken).items.isEmpty)
            #expect(try await api.call(.get, "/v1/requests", token: yToken).items.isEmpty)

            // Each credential only on its own kind of route.
            #expect(try await api.call(.get, "/v1/me", token: xToken).status == .unauthorized)
            #expect(try await api.call(.get, "/v1/me/records", token: xToken).status == .unauthorized)
            #expect(try await api.call(.get, "/v1/grants/\(grantID)/data", token: alice).status == .unauthorized)
            #expect(try await api.call(.get, "/v1/requests", token: alice).status == .unauthorized)
            #expect(try await api.call(.get, "/v1/admin/organisations", token: alice).status == .unauthorized)
            #expect(try await api.call(.get, "/v1/admin/organisations", token: xToken).status == .unauthorized)
            #expect(try await api.call(.get, "/v1/me", token: api.adminToken).status == .unauthorized)
            #expect(try await api.call(.get, "/v1/requests", token: api.adminToken).status == .unauthorized)

            // The data read by the rightful organisation still works after all those attempts.
            #expect(try await api.call(.get, "/v1/grants/\(grantID)/data", token: xToken).text.contains("alice@example.org"))
        }
    }

    @Test(arguments: TestEngine.available)
    func scopesLimitWhatATokenCanDo(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            _ = try await api.signUp("alice")
            let x = try await api.registerOrganisation("X", domain: "x.example")
            let readOnly = try await api.accessToken(x, scope: "grants:read")
            let refused = try await api.ask(readOnly, person: "alice", keys: ["contact.email"])
            #expect(refused.status == .forbidden)
            #expect(refused.string("detail")?.contains("requests:write") == true)
            #expect(try await api.call(.get, "/v1/grants", token: readOnly).status == .ok)
            let bad = try await api.tokenRequest(form: "grant_type=client_credentials&scope=everything",
                                                 basic: Data("\(x.clientID):\(x.secret)".utf8).base64EncodedString())
            #expect(bad.status == .badRequest)
            #expect(bad.string("error") == "invalid_scope")
        }
    }
}
