import Foundation
import HTTPTypes
import ProfferCore
import ProfferStorage
import ProfferTestSupport
import Testing

@testable import ProfferServer

/// Hostile and malformed input: each gets a specific 4xx problem and changes nothing.
@Suite("Bad input")
struct BadInputTests {
    @Test(arguments: TestEngine.available)
    func malformedBodiesAreRefusedWithSpecificProblems(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let alice = try await api.signUp("alice")
            let cases: [(String, HTTPResponse.Status, String)] = [
                ("{not json", .badRequest, "not valid JSON"),
                ("[1,2]", .badRequest, "must be a JSON object"),
                ("", .badRequest, "empty"),
                (#"{"value":"a@example.org","extra":true}"#, .unprocessableContent, "unknown field"),
                (#"{}"#, .unprocessableContent, "/value: is required"),
                (#"{"value":42}"#, .unprocessableContent, "/value"),
                (#"{"value":"not an email"}"#, .unprocessableContent, "/value"),
            ]
            for (body, status, fragment) in cases {
                let answer = try await api.call(.put, "/v1/me/records/contact.email", token: alice, json: body)
                #expect(answer.status == status, "\(body): \(answer.text)")
                #expect(answer.string("detail")?.contains(fragment) == true, "\(body): \(answer.text)")
            }
            let wrongType = try await api.call(.put, "/v1/me/records/contact.email", token: alice, json: #"{"value":"a@b.example"}"#,
                                               headers: [.contentType: "text/plain"])
            #expect(wrongType.status == .unsupportedMediaType)
            let huge = "{\"value\":\"" + String(repeating: "a", count: 70_000) + "\"}"
            #expect(try await api.call(.put, "/v1/me/records/contact.email", token: alice, json: huge).status == .contentTooLarge)
            let long = try await api.call(.put, "/v1/me/records/identity.name.full", token: alice, json: "{\"value\":\"\(String(repeating: "x", count: 300))\"}")
            #expect(long.status == .unprocessableContent)
            let records: [(String, String)] = [
                ("identity.birthdate", #""2026-02-30""#),
                ("identity.nationality", #""UK""#),
                ("finance.income.annual", #"{"amount":12.5,"currency":"GBP"}"#),
                ("finance.income.annual", #"{"amount":100,"currency":"ABC"}"#),
                ("finance.income.annual", #"{"amount":100000000000000000000000,"currency":"GBP"}"#),
                ("address.home", #"{"lines":[],"country":"ZZ"}"#),
            ]
            for (key, value) in records {
                let answer = try await api.put(alice, key, value)
                #expect(answer.status == .unprocessableContent, "\(key)=\(value): \(answer.text)")
            }
            #expect(try await api.put(alice, "no.such.key", #""x""#).status == .notFound)
            // Nothing of the above was stored.
            #expect(try await api.call(.get, "/v1/me/records", token: alice).items.isEmpty)
        }
    }

    @Test(arguments: TestEngine.available)
    func badRequestsFromOrganisationsChangeNothing(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let alice = try await api.signUp("alice")
            let x = try await api.registerOrganisation("X", domain: "x.example")
            let token = try await api.accessToken(x)
            let bad: [(String, String)] = [
                (#"{"person":"nobody-here","keys":["contact.email"],"purpose":"ServiceProvision","retentionDays":30,"thirdParties":[],"durationDays":30,"reason":"r"}"#, "/person"),
                (#"{"person":"alice","keys":[],"purpose":"ServiceProvision","retentionDays":30,"thirdParties":[],"durationDays":30,"reason":"r"}"#, "/keys"),
                (#"{"person":"alice","keys":["contact.email","contact.email"],"purpose":"ServiceProvision","retentionDays":30,"thirdParties":[],"durationDays":30,"reason":"r"}"#, "more than once"),
                (#"{"person":"alice","keys":["made.up"],"purpose":"ServiceProvision","retentionDays":30,"thirdParties":[],"durationDays":30,"reason":"r"}"#, "/keys/0"),
                (#"{"person":"alice","keys":["contact.email"],"purpose":"Snooping","retentionDays":30,"thirdParties":[],"durationDays":30,"reason":"r"}"#, "/purpose"),
                (#"{"person":"alice","keys":["contact.email"],"purpose":"ServiceProvision","retentionDays":0,"thirdParties":[],"durationDays":99999,"reason":"r"}"#, "/durationDays"),
                (#"{"person":"alice","keys":["contact.email"],"purpose":"ServiceProvision","retentionDays":30,"thirdParties":[{"name":"A","secret":1}],"durationDays":30,"reason":"r"}"#, "/thirdParties/0/secret"),
                (#"{"person":"alice","keys":["contact.email"],"purpose":"ServiceProvision","retentionDays":"30","thirdParties":[],"durationDays":30,"reason":"r"}"#, "/retentionDays"),
                (#"{"person":"alice","keys":["contact.email"],"purpose":"ServiceProvision","retentionDays":30,"thirdParties":[],"durationDays":30,"reason":"   "}"#, "/reason"),
            ]
            for (body, fragment) in bad {
                let answer = try await api.call(.post, "/v1/requests", token: token, json: body)
                #expect(answer.status == .unprocessableContent, "\(body): \(answer.text)")
                #expect(answer.text.contains(fragment), "\(fragment) not named: \(answer.text)")
            }
            #expect(try await api.call(.get, "/v1/requests", token: token).items.isEmpty)
            #expect(try await api.call(.get, "/v1/me/requests", token: alice).items.isEmpty)

            // A person's decision must stay within the request.
            let requestID = try await api.ask(token, person: "alice", keys: ["contact.email"], durationDays: 10).string("id") ?? ""
            let outside = try await api.call(.post, "/v1/me/requests/\(requestID)/grant", token: alice, json: #"{"keys":["finance.income.annual"]}"#)
            #expect(outside.status == .unprocessableContent)
            let tooLong = try await api.call(.post, "/v1/me/requests/\(requestID)/grant", token: alice, json: #"{"durationDays":11}"#)
            #expect(tooLong.status == .unprocessableContent)
            #expect(try await api.call(.get, "/v1/me/requests/\(requestID)", token: alice).string("state") == "pending")

            // Malformed identifiers and query parameters.
            #expect(try await api.call(.get, "/v1/grants/grt_nope/data", token: token).status == .notFound)
            #expect(try await api.call(.get, "/v1/grants/\(RequestID.generate())", token: token).status == .notFound)
            #expect(try await api.call(.get, "/v1/me/requests?state=maybe", token: alice).status == .badRequest)
            #expect(try await api.call(.get, "/v1/me/audit?limit=100000", token: alice).status == .badRequest)
            #expect(try await api.call(.get, "/v1/no/such/route").status == .notFound)
        }
    }

    @Test(arguments: TestEngine.available)
    func signUpValidatesEveryField(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let answer = try await api.call(.post, "/v1/people", json: #"{"email":"not-an-email","password":"short","handle":"No Spaces!"}"#)
            #expect(answer.status == .unprocessableContent)
            for pointer in ["/email", "/password", "/handle"] { #expect(answer.text.contains(pointer)) }
            let longPassword = String(repeating: "é", count: 40)
            #expect(try await api.call(.post, "/v1/people", json: #"{"email":"a@example.org","password":"\#(longPassword)","handle":"abc"}"#).status == .unprocessableContent)
            let admin = try await api.call(.post, "/v1/admin/organisations", token: api.adminToken, json: #"{"name":"","domain":"not a domain"}"#)
            #expect(admin.status == .unprocessableContent)
            #expect(admin.text.contains("/name") && admin.text.contains("/domain"))
            #expect(try await api.call(.get, "/v1/admin/organisations", token: api.adminToken).items.isEmpty)
        }
    }

    /// PostgreSQL text cannot hold NUL: such input must be refused before it reaches the database, on both engines.
    @Test(arguments: TestEngine.available)
    func nulCharactersAreRefusedEverywhere(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let alice = try await api.signUp("alice")
            let x = try await api.registerOrganisation("X", domain: "x.example")
            let token = try await api.accessToken(x)
            let requestID = try await api.ask(token, person: "alice", keys: ["contact.email"]).string("id") ?? ""
            let bodies: [(HTTPRequest.Method, String, String?, String)] = [
                (.post, "/v1/me/tokens", alice, #"{"name":"a\u0000b"}"#),
                (.post, "/v1/me/requests/\(requestID)/refuse", alice, #"{"reason":"a\u0000b"}"#),
                (.post, "/v1/sessions", nil, #"{"email":"a\u0000@example.org","password":"abcdefghijk"}"#),
                (.post, "/v1/requests", token, #"{"person":"a\u0000","keys":["contact.email"],"purpose":"ServiceProvision","retentionDays":1,"thirdParties":[],"durationDays":1,"reason":"x"}"#),
                (.put, "/v1/me/records/identity.name.full", alice, #"{"value":"Al\u0000ice"}"#),
                (.post, "/v1/me/rules", alice, #"{"action":"grant","keys":["*"],"note":"\u0000"}"#),
            ]
            for (method, path, credential, body) in bodies {
                let answer = try await api.call(method, path, token: credential, json: body)
                #expect(answer.status == .unprocessableContent, "\(path): \(answer.text)")
                #expect(answer.text.contains("NUL"), "\(path): \(answer.text)")
            }
            let oauth = try await api.tokenRequest(form: "grant_type=client_credentials&client_id=a%00&client_secret=b", basic: nil)
            #expect(oauth.status == .unauthorized)
            #expect(try await api.call(.get, "/v1/people/a%00/terms").status == .notFound)
            #expect(try await api.call(.get, "/v1/me/requests/\(requestID)", token: alice).string("state") == "pending")
        }
    }
}
