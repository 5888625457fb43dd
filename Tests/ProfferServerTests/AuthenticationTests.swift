import Crypto
import Foundation
import HTTPTypes
import JWTKit
import ProfferCore
import ProfferStorage
import ProfferTestSupport
import Testing

@testable import ProfferServer

@Suite("Authentication")
struct AuthenticationTests {
    @Test(arguments: TestEngine.available)
    func peopleSignInUseTokensAndSignOut(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let session = try await api.signUp("alice")
            #expect(session.hasPrefix("ses_"))
            #expect(try await api.call(.get, "/v1/me", token: session).string("handle") == "alice")
            #expect(try await api.call(.post, "/v1/people", json: #"{"email":"ALICE@example.org","password":"another long one","handle":"alice2"}"#).status == .conflict)
            #expect(try await api.call(.post, "/v1/people", json: #"{"email":"new@example.org","password":"another long one","handle":"alice"}"#).status == .conflict)

            let wrong = try await api.call(.post, "/v1/sessions", json: #"{"email":"alice@example.org","password":"not the password"}"#)
            #expect(wrong.status == .unauthorized)
            let unknown = try await api.call(.post, "/v1/sessions", json: #"{"email":"nobody@example.org","password":"not the password"}"#)
            #expect(unknown.string("detail") == wrong.string("detail"), "sign-in must not reveal which emails exist")
            let signedIn = try await api.call(.post, "/v1/sessions", json: #"{"email":"Alice@Example.org","password":"correct horse battery"}"#)
            #expect(signedIn.status == .created)
            let second = signedIn.string("token") ?? ""

            let pat = try await api.call(.post, "/v1/me/tokens", token: second, json: #"{"name":"backup script","expiresInDays":30}"#)
            #expect(pat.status == .created)
            let patSecret = pat.string("token") ?? ""
            #expect(patSecret.hasPrefix("pat_"))
            #expect(try await api.call(.get, "/v1/me/records", token: patSecret).status == .ok)
            let renewed = try await api.call(.post, "/v1/me/tokens", token: patSecret, json: #"{"name":"renewal","expiresInDays":365}"#)
            #expect(renewed.status == .forbidden, "a personal token must not mint more personal tokens")
            let listed = try await api.call(.get, "/v1/me/tokens", token: session)
            #expect(listed.items.count == 1)
            #expect(!listed.text.contains(patSecret), "a token's secret is shown only once")
            #expect(try await api.call(.delete, "/v1/me/tokens/\(pat.string("id") ?? "")", token: session).status == .noContent)
            #expect(try await api.call(.get, "/v1/me/records", token: patSecret).status == .unauthorized)

            #expect(try await api.call(.delete, "/v1/sessions/current", token: second).status == .noContent)
            #expect(try await api.call(.get, "/v1/me", token: second).status == .unauthorized)
            #expect(try await api.call(.get, "/v1/me", token: session).status == .ok)
        }
    }

    @Test(arguments: TestEngine.available)
    func forgedExpiredAndMalformedTokensAreRefused(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let x = try await api.registerOrganisation("X", domain: "x.example")
            let organisation = try #require(try await api.runtime.store.organisation(clientID: x.clientID))
            let issuer = api.runtime.configuration.issuer

            let forger = try await AccessTokens(signingKey: Curve25519.Signing.PrivateKey(), issuer: issuer, lifetimeSeconds: 600)
            let forged = try await forger.issue(for: organisation, scope: OrganisationScope.all)
            let expiredIssuer = try await AccessTokens(signingKey: api.runtime.keys.signingKey, issuer: issuer, lifetimeSeconds: -60)
            let expired = try await expiredIssuer.issue(for: organisation, scope: OrganisationScope.all)
            let otherIssuer = try await AccessTokens(signingKey: api.runtime.keys.signingKey, issuer: "https://elsewhere.example", lifetimeSeconds: 600)
            let foreign = try await otherIssuer.issue(for: organisation, scope: OrganisationScope.all)
            let genuine = try await api.accessToken(x)
            var tampered = Array(genuine)
            tampered[tampered.count / 2] = tampered[tampered.count / 2] == "A" ? "B" : "A"

            for token in [forged, expired, foreign, String(tampered), "not-a-jwt", "a.b.c"] {
                let answer = try await api.call(.get, "/v1/grants", token: token)
                #expect(answer.status == .unauthorized, "token accepted: \(token.prefix(20))")
            }
            #expect(try await api.call(.get, "/v1/grants", token: genuine).status == .ok)
            // The scheme is case-insensitive (RFC 9110 §11.1) and may be followed by more than one space; nothing else
            // stands in for it.
            for header in ["bearer \(genuine)", "BEARER \(genuine)", "Bearer   \(genuine)"] {
                #expect(try await api.call(.get, "/v1/grants", headers: [.authorization: header]).status == .ok, "refused: \(header.prefix(10))")
            }
            for header in ["Bearer", "Bearer ", "Bearerx \(genuine)", "Bear \(genuine)", "Bearer\t\(genuine)", genuine, "Basic \(genuine)"] {
                #expect(try await api.call(.get, "/v1/grants", headers: [.authorization: header]).status == .unauthorized, "accepted: \(header.prefix(10))")
            }
            #expect(try await api.call(.get, "/v1/grants", headers: [.authorization: "Basic Zm9vOmJhcg=="]).status == .unauthorized)
            // Two Authorization fields name two credentials: neither is taken, even when both are the genuine token.
            var twice = HTTPFields()
            twice.append(HTTPField(name: .authorization, value: "Bearer \(genuine)"))
            twice.append(HTTPField(name: .authorization, value: "Bearer \(genuine)"))
            let doubled = try await api.call(.get, "/v1/grants", headers: twice)
            #expect(doubled.status == .unauthorized)
            #expect(doubled.string("detail")?.contains("one Authorization field") == true)
            let doubledAdmin = try await api.call(.get, "/v1/admin/organisations", headers: twice)
            #expect(doubledAdmin.string("detail")?.contains("one Authorization field") == true)
            #expect(doubledAdmin.headers[.wwwAuthenticate]?.contains("proffer-admin") == true)
            #expect(try await api.call(.get, "/v1/me", token: "ses_forged").status == .unauthorized)
            #expect(try await api.call(.get, "/v1/admin/organisations", token: "adm_wrong").status == .unauthorized)
        }
    }

    @Test(arguments: TestEngine.available)
    func theTokenEndpointSpeaksOAuth(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let x = try await api.registerOrganisation("X", domain: "x.example")
            let basic = Data("\(x.clientID):\(x.secret)".utf8).base64EncodedString()
            let ok = try await api.tokenRequest(form: "grant_type=client_credentials", basic: basic)
            #expect(ok.status == .ok)
            #expect(ok.string("token_type") == "Bearer")
            #expect(ok.headers[.cacheControl] == "no-store")
            #expect(ok.string("scope") == OrganisationScope.all)
            let inBody = try await api.tokenRequest(form: "grant_type=client_credentials&client_id=\(x.clientID)&client_secret=\(x.secret)", basic: nil)
            #expect(inBody.status == .ok)
            let wrongSecret = try await api.tokenRequest(form: "grant_type=client_credentials", basic: Data("\(x.clientID):nope".utf8).base64EncodedString())
            #expect(wrongSecret.status == .unauthorized)
            #expect(wrongSecret.string("error") == "invalid_client")
            let wrongGrant = try await api.tokenRequest(form: "grant_type=password", basic: basic)
            #expect(wrongGrant.string("error") == "unsupported_grant_type")
            let missing = try await api.tokenRequest(form: "", basic: basic)
            #expect(missing.string("error") == "invalid_request")

            // Rotating the secret stops the old one at once.
            let rotated = try await api.call(.post, "/v1/admin/organisations/\(x.id)/secret", token: api.adminToken)
            #expect(rotated.string("clientSecret")?.isEmpty == false)
            #expect(try await api.tokenRequest(form: "grant_type=client_credentials", basic: basic).status == .unauthorized)
            let nobody = try await api.call(.post, "/v1/admin/organisations/org_00000000-0000-0000-0000-000000000000/secret", token: api.adminToken)
            #expect(nobody.status == .notFound)
            #expect(nobody.headers[.contentType] == "application/problem+json")

            let jwks = try await api.call(.get, "/.well-known/jwks.json")
            #expect(jwks.text.contains("\"OKP\""))
            #expect(jwks.text.contains("\"Ed25519\""))
        }
    }

    @Test func theVerifiedTokenCacheStaysBounded() async throws {
        let key = Curve25519.Signing.PrivateKey()
        let tokens = try await AccessTokens(signingKey: key, issuer: "https://proffer.test", lifetimeSeconds: 600, cacheLimit: 3)
        let organisation = Organisation(id: .generate(), name: "X", domain: "x.example", verified: true, clientID: "cl_x",
                                        secretDigest: Data(), createdAt: .now())
        for _ in 0..<10 {
            let token = try await tokens.issue(for: organisation, scope: OrganisationScope.all)
            #expect(await tokens.verify(token) != nil)
            #expect(tokens.cachedCount <= 3)
        }
    }
}
