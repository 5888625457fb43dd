import Crypto
import Foundation
import JWTKit
import ProfferCore
import Synchronization

/// The scopes an organisation's access token may carry.
enum OrganisationScope: String, CaseIterable, Sendable {
    case requestsWrite = "requests:write"
    case requestsRead = "requests:read"
    case grantsRead = "grants:read"
    case dataRead = "data:read"
    case webhooksManage = "webhooks:manage"

    static var all: String { allCases.map(\.rawValue).joined(separator: " ") }
}

/// RFC 9068 JWT access token claims for an organisation.
struct AccessTokenClaims: JWTPayload, Equatable {
    var iss: IssuerClaim
    var sub: SubjectClaim
    var aud: AudienceClaim
    var exp: ExpirationClaim
    var iat: IssuedAtClaim
    var jti: IDClaim
    var client_id: String
    var scope: String
    /// Console tokens only: which client secret the session was opened with (`AccessTokens.binding(of:)`), so that
    /// rotating the secret ends every console session opened with the old one.
    var secret_binding: String?

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
    }
}

/// A verified token's claims with what every request asks of them, worked out once when it is first verified.
/// A class: the cache hands out one shared, immutable copy.
final class VerifiedToken: Sendable {
    let claims: AccessTokenClaims
    /// The organisation it was issued to, or nil if its subject is not an organisation's id.
    let organisationID: OrganisationID?
    let scopes: Set<String>

    init(_ claims: AccessTokenClaims) {
        self.claims = claims
        organisationID = OrganisationID(claims.sub.value)
        scopes = Set(claims.scope.split(separator: " ").map(String.init))
    }
}

/// Issues and verifies organisations' access tokens: EdDSA-signed JWTs whose public key is published in
/// the JWKS. A verified token is cached (by its SHA-256) until it expires, so the hot path pays for one
/// signature check per token, not per request.
final class AccessTokens: Sendable {
    let keys: JWTKeyCollection
    let kid: String
    let publicKey: Curve25519.Signing.PublicKey
    let issuer: String
    let lifetimeSeconds: Int
    private let cacheLimit: Int
    private let cache = Mutex<[SHA256Digest: VerifiedToken]>([:])

    static let audience = "proffer-api"
    /// The organisation console's cookie: a token the API does not accept.
    static let consoleAudience = "proffer-console"
    /// The most verified tokens kept; beyond it the cache is cleared (tokens are then simply verified again).
    static let cacheLimit = 50_000

    init(signingKey: Curve25519.Signing.PrivateKey, issuer: String, lifetimeSeconds: Int, cacheLimit: Int = AccessTokens.cacheLimit) async throws {
        self.cacheLimit = cacheLimit
        let publicKey = signingKey.publicKey
        let kid = Hex.encode(Data(SHA256.hash(data: publicKey.rawRepresentation)).prefix(8))
        let keys = JWTKeyCollection()
        await keys.add(eddsa: EdDSA.PrivateKey(backing: signingKey), kid: JWKIdentifier(string: kid))
        self.keys = keys
        self.kid = kid
        self.publicKey = publicKey
        self.issuer = issuer
        self.lifetimeSeconds = lifetimeSeconds
    }

    /// A token for `organisation`; `boundToSecret` ties it to the organisation's current client secret (see
    /// `AccessTokenClaims.secret_binding`).
    func issue(for organisation: Organisation, scope: String, lifetimeSeconds lifetime: Int? = nil, audience: String = AccessTokens.audience,
               boundToSecret: Bool = false, now: Date = Date()) async throws -> String {
        let claims = AccessTokenClaims(
            iss: IssuerClaim(value: issuer),
            sub: SubjectClaim(value: organisation.id.rawValue),
            aud: AudienceClaim(value: [audience]),
            exp: ExpirationClaim(value: now.addingTimeInterval(TimeInterval(lifetime ?? lifetimeSeconds))),
            iat: IssuedAtClaim(value: now),
            jti: IDClaim(value: UUID().uuidString.lowercased()),
            client_id: organisation.clientID,
            scope: scope,
            secret_binding: boundToSecret ? Self.binding(of: organisation.secretDigest) : nil
        )
        var header = JWTHeader()
        header.typ = "at+jwt"
        return try await keys.sign(claims, kid: JWKIdentifier(string: kid), header: header)
    }

    /// What a secret-bound token carries of the client secret: a truncated hash of the stored digest (itself a hash of
    /// the secret), which says whether the secret is still the same and nothing about it.
    static func binding(of secretDigest: Data) -> String {
        Hex.encode(Data(SHA256.hash(data: Data("proffer-console-session|".utf8) + secretDigest)).prefix(16))
    }

    /// A valid, unexpired token issued by this server for `audience`, or nil.
    func verify(_ token: String, audience: String = AccessTokens.audience, now: Date = Date()) async -> VerifiedToken? {
        var token = token
        let digest = token.withUTF8 { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
        if let cached = cache.withLock({ $0[digest] }) {
            return cached.claims.exp.value > now && cached.claims.aud.value.contains(audience) ? cached : nil
        }
        guard let claims = try? await keys.verify(token, as: AccessTokenClaims.self),
              claims.iss.value == issuer, claims.aud.value.contains(audience)
        else { return nil }
        let verified = VerifiedToken(claims)
        cache.withLock { entries in
            if entries.count >= cacheLimit {
                entries = entries.filter { $0.value.claims.exp.value > now }
                // Still full of live tokens (someone minting many): start over rather than grow without bound.
                if entries.count >= cacheLimit { entries.removeAll(keepingCapacity: true) }
            }
            entries[digest] = verified
        }
        return verified
    }

    /// How many verified tokens are cached (for tests of the bound).
    var cachedCount: Int { cache.withLock { $0.count } }

    /// The JWKS document (RFC 7517) with the public signing key.
    var jwks: JWKSDocument {
        JWKSDocument(keys: [JWKDocument(ed25519: publicKey, kid: kid)])
    }
}

struct JWKSDocument: Codable, Sendable { var keys: [JWKDocument] }
/// A public signing key as a JWK (RFC 7517; OKP keys per RFC 8037).
struct JWKDocument: Codable, Sendable {
    var kty: String
    var crv: String
    var x: String
    var kid: String
    var alg: String
    var use: String

    init(ed25519 key: Curve25519.Signing.PublicKey, kid: String) {
        kty = "OKP"
        crv = "Ed25519"
        x = key.rawRepresentation.base64URLEncodedString()
        self.kid = kid
        alg = "EdDSA"
        use = "sig"
    }
}
