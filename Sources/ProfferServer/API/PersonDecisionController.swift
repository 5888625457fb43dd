import Foundation
import HTTPTypes
import Hummingbird
import ProfferCore
import ProfferStorage

/// The person's side of requests and grants: the inbox, decisions, revocation, and the audit log.
struct PersonDecisionController: Sendable {
    let services: Services

    struct GrantDecision: RequestBody {
        var keys: [String]?
        var durationDays: Int?
        /// `false` declines to have new values pushed to the organisation (it is then only told a key changed).
        var pushValues: Bool?
        static let fields: Set<String> = ["keys", "durationDays", "pushValues"]
    }

    struct Refusal: RequestBody {
        var reason: String?
        static let fields: Set<String> = ["reason"]
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/v1/me/requests", use: listRequests)
        router.get("/v1/me/requests/{requestId}", use: getRequest)
        router.post("/v1/me/requests/{requestId}/grant", use: grant)
        router.post("/v1/me/requests/{requestId}/refuse", use: refuse)
        router.get("/v1/me/grants", use: listGrants)
        router.get("/v1/me/grants/{grantId}", use: getGrant)
        router.post("/v1/me/grants/{grantId}/revoke", use: revoke)
        router.get("/v1/me/audit", use: audit)
    }

    static func stateFilter(_ request: Request) throws -> DataRequest.State? {
        guard let text = request.uri.queryParameters["state"] else { return nil }
        guard let state = DataRequest.State(rawValue: String(text)) else {
            throw Problem.badRequest("query parameter state must be one of pending, granted, refused")
        }
        return state
    }

    @Sendable func listRequests(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<ListDTO<RequestDTO>> {
        let person = try await services.auth.person(request).person
        let requests = try await services.store.requests(
            of: .person(person.id), state: try Self.stateFilter(request),
            limit: try request.queryInt("limit", default: 50, range: 1...200), offset: try request.queryInt("offset", default: 0, range: 0...1_000_000))
        return JSONResponse(ListDTO(items: try await services.requestDTOs(requests)))
    }

    func ownRequest(_ request: Request, context: AppRequestContext, person: Person) async throws -> DataRequest {
        let id = try request.identifier("requestId", context: context, as: RequestID.self)
        guard let found = try await services.store.request(id: id), found.personID == person.id else {
            throw Problem.notFound("you have no request \(id)")
        }
        return found
    }

    @Sendable func getRequest(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<RequestDTO> {
        let person = try await services.auth.person(request).person
        let found = try await ownRequest(request, context: context, person: person)
        return JSONResponse(try await services.requestDTOs([found])[0])
    }

    @Sendable func grant(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<GrantDTO> {
        let person = try await services.auth.person(request).person
        let found = try await ownRequest(request, context: context, person: person)
        let body = try await request.decodeBody(GrantDecision.self, context: context, allowEmpty: true)
        let stored = try await services.grant(found, keys: body.keys ?? found.keys, days: body.durationDays ?? found.durationDays,
                                              pushValues: body.pushValues ?? true)
        return JSONResponse(try await services.grantDTOs([stored])[0], status: .created, headers: [.location: "/v1/me/grants/\(stored.id)"])
    }

    @Sendable func refuse(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<RequestDTO> {
        let person = try await services.auth.person(request).person
        let found = try await ownRequest(request, context: context, person: person)
        let body = try await request.decodeBody(Refusal.self, context: context, allowEmpty: true)
        let refused = try await services.refuse(found, reason: body.reason)
        return JSONResponse(try await services.requestDTOs([refused])[0])
    }

    @Sendable func listGrants(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<ListDTO<GrantDTO>> {
        let person = try await services.auth.person(request).person
        let grants = try await services.store.grants(
            of: .person(person.id), limit: try request.queryInt("limit", default: 50, range: 1...200),
            offset: try request.queryInt("offset", default: 0, range: 0...1_000_000))
        return JSONResponse(ListDTO(items: try await services.grantDTOs(grants)))
    }

    func ownGrant(_ request: Request, context: AppRequestContext, person: Person) async throws -> Grant {
        let id = try request.identifier("grantId", context: context, as: GrantID.self)
        guard let grant = try await services.store.grant(id: id), grant.personID == person.id else {
            throw Problem.notFound("you have no grant \(id)")
        }
        return grant
    }

    @Sendable func getGrant(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<GrantDTO> {
        let person = try await services.auth.person(request).person
        let grant = try await ownGrant(request, context: context, person: person)
        return JSONResponse(try await services.grantDTOs([grant])[0])
    }

    @Sendable func revoke(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<GrantDTO> {
        let person = try await services.auth.person(request).person
        let grant = try await ownGrant(request, context: context, person: person)
        let body = try await request.decodeBody(Refusal.self, context: context, allowEmpty: true)
        do {
            return JSONResponse(try await services.grantDTOs([try await services.revoke(grant, reason: body.reason)])[0])
        } catch DomainError.grantNotActive(_, let status, let since) {
            throw Problem.conflict("grant \(grant.id) is already \(status.rawValue) (since \(since)); there is nothing to revoke")
        }
    }

    @Sendable func audit(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<AuditPageDTO> {
        let person = try await services.auth.person(request).person
        let after = Int64(try request.queryInt("after", default: 0, range: 0...Int(Int32.max)))
        let limit = try request.queryInt("limit", default: 100, range: 1...500)
        let entries = try await services.store.auditEntries(for: person.id, after: after, limit: limit)
        let head = try await services.store.auditHead(for: person.id)
        let next = entries.count == limit ? entries.last?.sequence : nil
        return JSONResponse(AuditPageDTO(person: person.handle, personId: person.id.rawValue, entries: entries.map(AuditEntryDTO.init), nextAfter: next,
                                         head: AuditHeadDTO(sequence: head.sequence, hash: head.hash)))
    }
}
