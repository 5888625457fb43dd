import Foundation
import HTTPTypes
import Hummingbird
import ProfferCore
import ProfferStorage

/// Sign-up, sign-in and out, the person's profile and their personal access tokens.
struct AccountController: Sendable {
    let services: Services

    struct SignUp: RequestBody {
        var email: String
        var password: String
        var handle: String
        static let fields: Set<String> = ["email", "password", "handle"]
    }

    struct SignIn: RequestBody {
        var email: String
        var password: String
        static let fields: Set<String> = ["email", "password"]
    }

    struct NewToken: RequestBody {
        var name: String
        var expiresInDays: Int?
        static let fields: Set<String> = ["name", "expiresInDays"]
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/v1/people", use: signUp)
        router.post("/v1/sessions", use: signIn)
        router.delete("/v1/sessions/current", use: signOut)
        router.get("/v1/me", use: me)
        router.get("/v1/me/tokens", use: listTokens)
        router.post("/v1/me/tokens", use: createToken)
        router.delete("/v1/me/tokens/{tokenId}", use: revokeToken)
    }

    static func isValidHandle(_ handle: String) -> Bool {
        handle.wholeMatch(of: /[a-z0-9][a-z0-9-]{2,31}/) != nil
    }

    @Sendable func signUp(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<SessionDTO> {
        let body = try await request.decodeBody(SignUp.self, context: context)
        let (_, session) = try await services.signUp(email: body.email, password: body.password, handle: body.handle)
        return JSONResponse(session, status: .created, headers: [.location: "/v1/me"])
    }

    static func passwordErrors(_ password: String) -> [FieldError] {
        if password.count < 10 { return [FieldError(pointer: "/password", detail: "must be at least 10 characters")] }
        if password.utf8.count > 72 { return [FieldError(pointer: "/password", detail: "must be at most 72 bytes (bcrypt ignores anything longer)")] }
        return []
    }

    @Sendable func signIn(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<SessionDTO> {
        let body = try await request.decodeBody(SignIn.self, context: context)
        guard let (_, session) = try await services.signIn(email: body.email, password: body.password) else {
            throw Problem.unauthorized("the email address or password is wrong")
        }
        return JSONResponse(session, status: .created)
    }

    @Sendable func signOut(_ request: Request, context: AppRequestContext) async throws -> Response {
        let identity = try await services.auth.person(request)
        try await services.store.revokeToken(identity.token.id, of: identity.person.id, at: .now())
        return Response(status: .noContent)
    }

    @Sendable func me(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<PersonDTO> {
        JSONResponse(PersonDTO(try await services.auth.person(request).person))
    }

    @Sendable func listTokens(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<ListDTO<PersonalTokenDTO>> {
        let identity = try await services.auth.person(request)
        let tokens = try await services.store.tokens(for: identity.person.id, kind: .personal)
        return JSONResponse(ListDTO(items: tokens.map { PersonalTokenDTO($0) }))
    }

    @Sendable func createToken(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<PersonalTokenDTO> {
        let identity = try await services.auth.person(request)
        // Otherwise a leaked personal token could renew itself for ever and its expiry would never bite.
        guard identity.token.kind == .session else {
            throw Problem.forbidden("create personal access tokens from a signed-in session (POST /v1/sessions), not with another personal access token")
        }
        let body = try await request.decodeBody(NewToken.self, context: context)
        var errors: [FieldError] = []
        let name = body.name.trimmingCharacters(in: .whitespacesAndNewlines)
        if name.isEmpty || name.count > 100 { errors.append(FieldError(pointer: "/name", detail: "must be 1 to 100 characters")) }
        if let days = body.expiresInDays, !(1...365).contains(days) {
            errors.append(FieldError(pointer: "/expiresInDays", detail: "must be from 1 to 365"))
        }
        if !errors.isEmpty { throw Problem.validation(ValidationFailure(errors)) }
        let now = Timestamp.now()
        let secret = SecretToken.generate(prefix: "pat")
        let token = PersonToken(id: .generate(), personID: identity.person.id, kind: .personal, name: name, createdAt: now,
                                expiresAt: now.adding(days: body.expiresInDays ?? 90), revokedAt: nil)
        try await services.store.createToken(token, digest: SecretToken.digest(secret))
        return JSONResponse(PersonalTokenDTO(token, secret: secret), status: .created)
    }

    @Sendable func revokeToken(_ request: Request, context: AppRequestContext) async throws -> Response {
        let identity = try await services.auth.person(request)
        let id = try request.identifier("tokenId", context: context, as: TokenID.self)
        try await services.store.revokeToken(id, of: identity.person.id, at: .now())
        return Response(status: .noContent)
    }
}
