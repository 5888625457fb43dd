import Foundation
import HTTPTypes
import Hummingbird
import ProfferCore
import ProfferStorage

/// `POST /oauth/token`: the OAuth 2.0 client credentials grant (RFC 6749 §4.4) for organisations.
/// Errors are problem+json that also carry RFC 6749 §5.2's `error` and `error_description` members.
struct OAuthController: Sendable {
    let services: Services

    struct TokenForm: Decodable {
        var grant_type: String?
        var scope: String?
        var client_id: String?
        var client_secret: String?
    }

    struct TokenResponse: Codable, Sendable {
        var access_token: String
        var token_type = "Bearer"
        var expires_in: Int
        var scope: String
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/oauth/token", use: token)
    }

    static func oauthError(_ status: HTTPResponse.Status, _ code: String, _ description: String) -> Problem {
        var headers: HTTPFields = [:]
        if status == .unauthorized { headers[.wwwAuthenticate] = "Basic realm=\"proffer\"" }
        return Problem(status, "oauth-\(code.replacingOccurrences(of: "_", with: "-"))", title: "OAuth token request refused",
                       detail: description, extensions: ["error": .string(code), "error_description": .string(description)], headers: headers)
    }

    @Sendable func token(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<TokenResponse> {
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true else {
            throw Self.oauthError(.badRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: 8 * 1024)
        } catch {
            throw Self.oauthError(.badRequest, "invalid_request", "the body exceeds 8192 bytes")
        }
        let form: TokenForm
        do {
            form = try URLEncodedFormDecoder().decode(TokenForm.self, from: String(decoding: buffer.readableBytesView, as: UTF8.self))
        } catch {
            throw Self.oauthError(.badRequest, "invalid_request", "the form body could not be parsed")
        }
        guard let grantType = form.grant_type else {
            throw Self.oauthError(.badRequest, "invalid_request", "grant_type is required")
        }
        guard grantType == "client_credentials" else {
            throw Self.oauthError(.badRequest, "unsupported_grant_type", "only the client_credentials grant is supported")
        }
        let (clientID, secret) = try Self.clientCredentials(request, form: form)
        guard let organisation = try await services.authenticateClient(clientID: clientID, secret: secret) else {
            throw Self.oauthError(.unauthorized, "invalid_client", "client authentication failed")
        }
        let requested = form.scope.map { $0.split(separator: " ").map(String.init) } ?? OrganisationScope.allCases.map(\.rawValue)
        let unknown = requested.filter { OrganisationScope(rawValue: $0) == nil }
        if !unknown.isEmpty || requested.isEmpty {
            throw Self.oauthError(.badRequest, "invalid_scope", "unknown scope; available scopes: \(OrganisationScope.all)")
        }
        let scope = OrganisationScope.allCases.map(\.rawValue).filter(requested.contains).joined(separator: " ")
        let token = try await services.accessTokens.issue(for: organisation, scope: scope)
        return JSONResponse(TokenResponse(access_token: token, expires_in: services.accessTokens.lifetimeSeconds, scope: scope),
                            headers: [.cacheControl: "no-store"])
    }

    /// Client credentials from HTTP Basic (preferred, RFC 6749 §2.3.1) or from the form body.
    static func clientCredentials(_ request: Request, form: TokenForm) throws -> (String, String) {
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "basic",
                  let decoded = Data(base64Encoded: String(parts[1])).map({ String(decoding: $0, as: UTF8.self) }),
                  let colon = decoded.firstIndex(of: ":")
            else {
                throw oauthError(.unauthorized, "invalid_client", "the Authorization header must be HTTP Basic with client_id:client_secret")
            }
            let id = String(decoded[..<colon]).removingPercentEncoding ?? ""
            let secret = String(decoded[decoded.index(after: colon)...]).removingPercentEncoding ?? ""
            return (id, secret)
        }
        guard let id = form.client_id, let secret = form.client_secret else {
            throw oauthError(.unauthorized, "invalid_client", "send client credentials with HTTP Basic authentication")
        }
        return (id, secret)
    }
}
