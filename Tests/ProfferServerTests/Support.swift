import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import ProfferCore
import ProfferStorage
import ProfferTestSupport
import Testing

@testable import ProfferServer

/// A live Proffer server on a fresh database, spoken to over real HTTP.
struct LiveAPI: Sendable {
    let client: any TestClientProtocol
    let runtime: ProfferRuntime

    var adminToken: String { runtime.keys.adminToken }

    struct Answer: Sendable {
        let status: HTTPResponse.Status
        let headers: HTTPFields
        let body: Data

        var json: JSONValue { (try? JSONDecoder().decode(JSONValue.self, from: body)) ?? .null }
        var text: String { String(decoding: body, as: UTF8.self) }

        subscript(_ key: String) -> JSONValue? {
            if case .object(let object) = json { return object[key] }
            return nil
        }

        func string(_ key: String) -> String? {
            if case .string(let value)? = self[key] { return value }
            return nil
        }

        var items: [JSONValue] {
            if case .array(let items)? = self["items"] { return items }
            return []
        }
    }

    /// Sends a request; every answer is checked never to be a 5xx (but a 503 when `allowUnavailable`),
    /// and errors to be problem+json with a detail.
    @discardableResult
    func call(_ method: HTTPRequest.Method, _ path: String, token: String? = nil, json: String? = nil,
              headers extra: HTTPFields = [:], allowUnavailable: Bool = false,
              sourceLocation: SourceLocation = #_sourceLocation) async throws -> Answer {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if json != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        let response = try await client.execute(uri: path, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
        let answer = Answer(status: response.status, headers: response.headers, body: Data(response.body.readableBytesView))
        #expect(answer.status.code < 500 || (allowUnavailable && answer.status == .serviceUnavailable), "\(method) \(path) answered \(answer.status.code): \(answer.text)", sourceLocation: sourceLocation)
        if answer.status.code >= 400 {
            #expect(answer.headers[.contentType] == "application/problem+json", "\(method) \(path) error is not problem+json", sourceLocation: sourceLocation)
            #expect(answer.string("detail")?.isEmpty == false, "\(method) \(path) problem has no detail", sourceLocation: sourceLocation)
        }
        return answer
    }

    // MARK: Story helpers

    func signUp(_ handle: String) async throws -> String {
        let answer = try await call(.post, "/v1/people", json: #"{"email":"\#(handle)@example.org","password":"correct horse battery","handle":"\#(handle)"}"#)
        #expect(answer.status == .created, "sign-up: \(answer.text)")
        return answer.string("token") ?? ""
    }

    func put(_ token: String, _ key: String, _ valueJSON: String) async throws -> Answer {
        try await call(.put, "/v1/me/records/\(key)", token: token, json: #"{"value":\#(valueJSON)}"#)
    }

    struct Client { let id: String; let clientID: String; let secret: String }

    func registerOrganisation(_ name: String, domain: String, verified: Bool = true) async throws -> Client {
        let answer = try await call(.post, "/v1/admin/organisations", token: adminToken,
                                    json: #"{"name":"\#(name)","domain":"\#(domain)","verified":\#(verified)}"#)
        #expect(answer.status == .created, "register organisation: \(answer.text)")
        return Client(id: answer.string("id") ?? "", clientID: answer.string("clientId") ?? "", secret: answer.string("clientSecret") ?? "")
    }

    func accessToken(_ client: Client, scope: String? = nil) async throws -> String {
        let basic = Data("\(client.clientID):\(client.secret)".utf8).base64EncodedString()
        var form = "grant_type=client_credentials"
        if let scope { form += "&scope=" + (scope.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") }
        let response = try await tokenRequest(form: form, basic: basic)
        #expect(response.status == .ok, "token: \(response.text)")
        return response.string("access_token") ?? ""
    }

    func tokenRequest(form: String, basic: String?) async throws -> Answer {
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        if let basic { headers[.authorization] = "Basic \(basic)" }
        let response = try await client.execute(uri: "/oauth/token", method: .post, headers: headers, body: ByteBuffer(string: form))
        let answer = Answer(status: response.status, headers: response.headers, body: Data(response.body.readableBytesView))
        #expect(answer.status.code < 500)
        return answer
    }

    /// The terms a new person proffers by default, which a request must accept.
    static let defaultTerms = #"["no-stalking","max-retention","no-sale","breach-notification"]"#

    func ask(_ orgToken: String, person: String, keys: [String], purpose: String = "ServiceProvision",
             thirdParties: String = "[]", durationDays: Int = 30, retentionDays: Int = 90,
             acceptedTerms: String = LiveAPI.defaultTerms, extra: String = "") async throws -> Answer {
        let keyList = keys.map { "\"\($0)\"" }.joined(separator: ",")
        return try await call(.post, "/v1/requests", token: orgToken, json: """
            {"person":"\(person)","keys":[\(keyList)],"purpose":"\(purpose)","retentionDays":\(retentionDays),
             "thirdParties":\(thirdParties),"durationDays":\(durationDays),"reason":"To open your account.",
             "acceptedTerms":\(acceptedTerms)\(extra)}
            """)
    }
}

/// Builds a real server on a fresh database of `engine`, runs `body` against it over HTTP, and tears it down.
func withLiveAPI(_ engine: TestEngine, configure: (inout ServerConfiguration) -> Void = { _ in },
                 _ body: @Sendable (LiveAPI) async throws -> Void) async throws {
    try await withLiveAPI(engine, configure: configure) { api, _ in try await body(api) }
}

/// The same, also handing `body` the database the server runs on (for tests that look at the stored bytes).
func withLiveAPI(_ engine: TestEngine, configure: (inout ServerConfiguration) -> Void = { _ in },
                 _ body: @Sendable (LiveAPI, TestDatabase) async throws -> Void) async throws {
    let database = try await TestDatabase.make(engine)
    let store = try await database.openStore()
    var configuration = ServerConfiguration()
    configuration.port = 0
    configuration.dataDirectory = database.directory.path
    configuration.bcryptCost = 4
    configure(&configuration)
    do {
        let runtime = try await buildApplication(configuration: configuration, store: store, logger: TestDatabase.logger)
        try await runtime.application.test(.live) { client in
            try await body(LiveAPI(client: client, runtime: runtime), database)
        }
    } catch {
        await store.shutdown()
        throw error
    }
    await store.shutdown()
}
