import Foundation
import HTTPTypes
import Hummingbird
import ProfferCore
import ProfferStorage

/// Closing an account: the person's data is erased and their data key destroyed; organisations holding grants
/// find them revoked.
struct ClosureController: Sendable {
    let services: Services

    struct Confirmation: RequestBody {
        var password: String
        var confirmHandle: String
        static let fields: Set<String> = ["password", "confirmHandle"]
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/v1/me/close", use: close)
    }

    /// Needs a signed-in session (a leaked personal access token must not be able to destroy an account), the
    /// password again, and the handle typed out; any of them wrong changes nothing.
    @Sendable func close(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<AccountClosureDTO> {
        let identity = try await services.auth.person(request)
        guard identity.token.kind == .session else {
            throw Problem.forbidden("close your account from a signed-in session (POST /v1/sessions), not with a personal access token; nothing was changed")
        }
        let person = identity.person
        let body = try await request.decodeBody(Confirmation.self, context: context)
        guard body.confirmHandle == person.handle else {
            throw Problem.validation(ValidationFailure(pointer: "/confirmHandle",
                                                       detail: "must be your handle, exactly, to confirm that you mean to close this account; nothing was changed"))
        }
        guard body.password.utf8.count <= 72, try await services.passwords.verify(body.password, hash: person.passwordHash) else {
            throw Problem.forbidden("the password is wrong; nothing was changed")
        }
        let closure = try await services.closeAccount(person.id, actor: "person", at: .now())
        return JSONResponse(AccountClosureDTO(closure))
    }
}

/// What closing an account did.
struct AccountClosureDTO: Codable, Sendable {
    var person: String
    var erasedAt: Timestamp
    var grantsRevoked: Int
    var requestsRefused: Int
    var organisationsNotified: Int
    var recordVersionsDeleted: Int

    init(_ closure: AccountClosure) {
        person = closure.handle
        erasedAt = closure.erasedAt
        grantsRevoked = closure.revokedGrants.count
        requestsRefused = closure.refusedRequests.count
        organisationsNotified = closure.notices.count
        recordVersionsDeleted = closure.recordVersionsDeleted
    }
}

extension Services {
    /// Closes a person's account (see `ProfferStore.closeAccount`), signing a consent receipt for every decision
    /// it forces, then forgets the person's unwrapped key held in memory.
    func closeAccount(_ person: PersonID, actor: String, at now: Timestamp) async throws -> AccountClosure {
        let explanation = "The person closed their account."
        let closure = try await store.closeAccount(person: person, at: now, actor: actor) { [self] decision in
            switch decision {
            case .revoked(let grant, let request, let organisation):
                try await receipt(.revoked, request: request, grant: grant, organisation: organisation, decidedBy: actor, explanation: explanation, at: now)
            case .refused(let request, let organisation):
                try await receipt(.refused, request: request, grant: nil, organisation: organisation, decidedBy: actor, explanation: explanation, at: now)
            case .expired(let grant, let request, let organisation):
                try await receipt(.expired, request: request, grant: grant, organisation: organisation, decidedBy: "system",
                                  explanation: "The grant reached its expiry.", at: now)
            }
        }
        vault.forget(person)
        return closure
    }
}

extension ProfferRuntime {
    /// `proffer person erase`: closes the account of the person with `handle` as the operator. Throws
    /// `DomainError.notFound` for an unknown handle and `.personErased` for one already closed.
    public func eraseAccount(handle: String) async throws -> AccountClosure {
        guard let person = try await services.store.person(handle: handle) else { throw DomainError.notFound(what: "person", id: handle) }
        return try await services.closeAccount(person.id, actor: "operator", at: .now())
    }
}
