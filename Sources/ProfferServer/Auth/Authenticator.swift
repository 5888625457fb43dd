import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOPosix
import HummingbirdBcrypt
import JWTKit
import ProfferCore
import ProfferStorage

/// Resolves who is calling from the `Authorization` header. Each route asks for the identity it needs;
/// there is no path on which a person's token reaches organisation routes or the other way round.
struct Authenticator: Sendable {
    let store: ProfferStore
    let accessTokens: AccessTokens
    let adminTokenDigest: Data

    struct PersonIdentity: Sendable {
        let person: Person
        let token: PersonToken
    }

    struct OrganisationIdentity: Sendable {
        let organisationID: OrganisationID
        let scopes: Set<String>

        func require(_ scope: OrganisationScope) throws {
            guard scopes.contains(scope.rawValue) else {
                throw Problem(.forbidden, "insufficient-scope", title: "Insufficient scope",
                              detail: "this operation needs the \(scope.rawValue) scope; request it from /oauth/token",
                              headers: [.wwwAuthenticate: "Bearer error=\"insufficient_scope\", scope=\"\(scope.rawValue)\""])
            }
        }
    }

    /// The one Authorization field's value, or nil when there is none. Two or more name several credentials: refused
    /// with a problem that says so. Found by a scan rather than `headers[.authorization]`, which joins every such
    /// field's value into a new string.
    static func authorization(_ headers: HTTPFields, realm: String) throws -> String? {
        var found: String?
        for field in headers where field.name == .authorization {
            if found != nil { throw Problem.unauthorized("send one Authorization field; this request has more than one", realm: realm) }
            found = field.value
        }
        return found
    }

    static func bearer(_ request: Request, realm: String = "proffer") throws -> String? {
        // Byte-wise, without splitting or lowercasing copies: every organisation request passes here.
        guard let header = try authorization(request.headers, realm: realm), let space = header.utf8.firstIndex(of: UInt8(ascii: " ")) else { return nil }
        let scheme = header.utf8[..<space]
        // `| 0x20` lowercases ASCII letters; no other byte becomes one of "bearer"'s letters.
        guard scheme.count == 6, zip(scheme, "bearer".utf8).allSatisfy({ $0 | 0x20 == $1 }) else { return nil }
        let token = header[space...].drop { $0 == " " || $0 == "\t" }
        return token.isEmpty || token.utf8.count > 4096 ? nil : String(token)
    }

    /// The person behind a session token or personal access token.
    func person(_ request: Request) async throws -> PersonIdentity {
        guard let token = try Self.bearer(request) else {
            throw Problem.unauthorized("sign in (POST /v1/sessions) and send the token as `Authorization: Bearer …`")
        }
        guard token.hasPrefix("ses_") || token.hasPrefix("pat_"),
              let (record, person) = try await store.token(digest: SecretToken.digest(token), at: .now())
        else {
            throw Problem.unauthorized("the bearer token is not a valid, unexpired person session or personal access token")
        }
        return PersonIdentity(person: person, token: record)
    }

    /// The organisation behind a JWT access token.
    func organisation(_ request: Request) async throws -> OrganisationIdentity {
        guard let token = try Self.bearer(request) else {
            throw Problem.unauthorized("get an access token from POST /oauth/token and send it as `Authorization: Bearer …`")
        }
        guard let verified = await accessTokens.verify(token), let id = verified.organisationID else {
            throw Problem(.unauthorized, "invalid-token", title: "Invalid access token",
                          detail: "the access token is malformed, forged, expired or not an organisation token",
                          headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""])
        }
        return OrganisationIdentity(organisationID: id, scopes: verified.scopes)
    }

    /// The operator, by the admin token.
    func admin(_ request: Request) throws {
        guard let token = try Self.bearer(request, realm: "proffer-admin") else {
            throw Problem.unauthorized("send the operator's admin token as `Authorization: Bearer …`", realm: "proffer-admin")
        }
        guard Data(SHA256.hash(data: Data(token.utf8))) == adminTokenDigest else {
            throw Problem(.unauthorized, "invalid-token", title: "Invalid admin token", detail: "the admin token is not valid",
                          headers: [.wwwAuthenticate: "Bearer realm=\"proffer-admin\""])
        }
    }
}

/// bcrypt password hashing, run off the event loops because it is deliberately slow.
struct PasswordHasher: Sendable {
    let cost: UInt8
    /// A real hash of a random password, checked when an email is unknown so that sign-in takes
    /// the same time whether or not an account exists.
    let decoyHash: String

    init(cost: UInt8) {
        self.cost = cost
        self.decoyHash = Bcrypt.hash(SecretToken.generate(prefix: "decoy"), cost: cost)
    }

    func hash(_ password: String) async throws -> String {
        let cost = self.cost
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    func verify(_ password: String, hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }
}
