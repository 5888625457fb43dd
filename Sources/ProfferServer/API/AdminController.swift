import Foundation
import HTTPTypes
import Hummingbird
import ProfferCore
import ProfferStorage

/// The operator's API, guarded by the admin token: registering and verifying organisations.
struct AdminController: Sendable {
    let services: Services

    struct NewOrganisation: RequestBody {
        var name: String
        var domain: String
        var verified: Bool?
        static let fields: Set<String> = ["name", "domain", "verified"]
    }

    struct Verification: RequestBody {
        var verified: Bool
        static let fields: Set<String> = ["verified"]
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/v1/admin/organisations", use: create)
        router.get("/v1/admin/organisations", use: list)
        router.get("/v1/admin/organisations/{organisationId}", use: get)
        router.patch("/v1/admin/organisations/{organisationId}", use: setVerified)
        router.post("/v1/admin/organisations/{organisationId}/secret", use: rotateSecret)
    }

    static func isValidDomain(_ domain: String) -> Bool {
        (4...253).contains(domain.count) && domain.wholeMatch(of: /([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}/) != nil
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<OrganisationDTO> {
        try services.auth.admin(request)
        let body = try await request.decodeBody(NewOrganisation.self, context: context)
        let (organisation, secret) = try await OrganisationRegistry(store: services.store)
            .register(name: body.name, domain: body.domain, verified: body.verified ?? false)
        return JSONResponse(OrganisationDTO(organisation, secret: secret), status: .created,
                            headers: [.location: "/v1/admin/organisations/\(organisation.id)"])
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<ListDTO<OrganisationDTO>> {
        try services.auth.admin(request)
        return JSONResponse(ListDTO(items: try await services.store.organisations().map { OrganisationDTO($0) }))
    }

    @Sendable func get(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<OrganisationDTO> {
        try services.auth.admin(request)
        let id = try request.identifier("organisationId", context: context, as: OrganisationID.self)
        guard let organisation = try await services.store.organisation(id: id) else { throw Problem.notFound("no organisation \(id)") }
        return JSONResponse(OrganisationDTO(organisation))
    }

    @Sendable func setVerified(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<OrganisationDTO> {
        try services.auth.admin(request)
        let id = try request.identifier("organisationId", context: context, as: OrganisationID.self)
        let body = try await request.decodeBody(Verification.self, context: context)
        return JSONResponse(OrganisationDTO(try await services.store.setVerified(body.verified, organisation: id)))
    }

    @Sendable func rotateSecret(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<OrganisationDTO> {
        try services.auth.admin(request)
        let id = try request.identifier("organisationId", context: context, as: OrganisationID.self)
        let secret = SecretToken.generate(prefix: "cs")
        try await services.store.rotateSecret(organisation: id, digest: SecretToken.digest(secret))
        guard let organisation = try await services.store.organisation(id: id) else { throw Problem.notFound("no organisation \(id)") }
        return JSONResponse(OrganisationDTO(organisation, secret: secret))
    }
}

/// Registers organisations with fresh client credentials; shared by the admin API, the CLI and the demo.
public struct OrganisationRegistry: Sendable {
    let store: ProfferStore

    public init(store: ProfferStore) { self.store = store }

    /// Validates and stores a new organisation; returns it with its client secret (shown once, stored hashed).
    public func register(name: String, domain: String, verified: Bool) async throws -> (Organisation, String) {
        var errors: [FieldError] = []
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty || trimmed.count > RequestLimits.maxNameLength || trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            errors.append(FieldError(pointer: "/name", detail: "must be 1 to \(RequestLimits.maxNameLength) printable characters"))
        }
        let lowered = domain.lowercased()
        if !AdminController.isValidDomain(lowered) {
            errors.append(FieldError(pointer: "/domain", detail: "must be a DNS domain name such as example.com"))
        }
        if !errors.isEmpty { throw DomainError.invalid(ValidationFailure(errors)) }
        let secret = SecretToken.generate(prefix: "cs")
        let organisation = Organisation(
            id: .generate(), name: trimmed, domain: lowered, verified: verified,
            clientID: "cl_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""),
            secretDigest: SecretToken.digest(secret), createdAt: .now()
        )
        try await store.createOrganisation(organisation)
        return (organisation, secret)
    }
}
