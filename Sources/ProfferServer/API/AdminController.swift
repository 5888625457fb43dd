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
        var contact: ContactBody?
        static let fields: Set<String> = ["name", "domain", "verified", "contact"]

        static func checkShape(_ object: [String: JSONValue]) -> [FieldError] {
            guard case .object(let members)? = object["contact"] else { return [] }
            return members.keys.sorted().filter { !ContactBody.fields.contains($0) }.map {
                FieldError(pointer: "/contact/\(JSONPointer.escape($0))", detail: "unknown field; allowed fields are \(ContactBody.fields.sorted().joined(separator: ", "))")
            }
        }
    }

    /// How to reach the organisation about personal data; named in consent receipts.
    struct ContactBody: Decodable, Sendable {
        var name: String?
        var email: String?
        var phone: String?
        var address: JSONValue?
        var policyUrl: String?
        static let fields: Set<String> = ["name", "email", "phone", "address", "policyUrl"]
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
            .register(name: body.name, domain: body.domain, verified: body.verified ?? false, contact: try Self.contact(body.contact))
        return JSONResponse(OrganisationDTO(organisation, secret: secret), status: .created,
                            headers: [.location: "/v1/admin/organisations/\(organisation.id)"])
    }

    /// Validates contact details with the catalogue's own rules for emails, phones, addresses and URLs.
    static func contact(_ body: ContactBody?) throws -> OrganisationContact {
        guard let body else { return OrganisationContact() }
        var errors: [FieldError] = []
        var contact = OrganisationContact()
        func check(_ value: JSONValue?, key: String, pointer: String) -> JSONValue? {
            guard let value, let entry = Catalogue.standard.entry(for: key) else { return nil }
            do { return try entry.validate(value, at: pointer) } catch { errors += error.errors; return nil }
        }
        if let name = body.name {
            if name.isEmpty || name.count > 200 { errors.append(FieldError(pointer: "/contact/name", detail: "must be 1 to 200 characters")) }
            contact.name = name
        }
        if case .string(let email)? = check(body.email.map { .string($0) }, key: "contact.email", pointer: "/contact/email") { contact.email = email }
        if case .string(let phone)? = check(body.phone.map { .string($0) }, key: "contact.phone.mobile", pointer: "/contact/phone") { contact.phone = phone }
        contact.address = check(body.address, key: "address.postal", pointer: "/contact/address")
        if case .string(let url)? = check(body.policyUrl.map { .string($0) }, key: "contact.website", pointer: "/contact/policyUrl") { contact.policyURL = url }
        if !errors.isEmpty { throw Problem.validation(ValidationFailure(errors)) }
        return contact
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
        let (organisation, secret) = try await OrganisationRegistry(store: services.store).rotateSecret(of: id)
        return JSONResponse(OrganisationDTO(organisation, secret: secret))
    }
}

/// Registers organisations with fresh client credentials; shared by the admin API, the CLI and the demo.
public struct OrganisationRegistry: Sendable {
    let store: ProfferStore

    public init(store: ProfferStore) { self.store = store }

    /// Validates and stores a new organisation; returns it with its client secret (shown once, stored hashed).
    public func register(name: String, domain: String, verified: Bool, contact: OrganisationContact = OrganisationContact()) async throws -> (Organisation, String) {
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
            secretDigest: SecretToken.digest(secret), createdAt: .now(), contact: contact
        )
        try await store.createOrganisation(organisation)
        return (organisation, secret)
    }

    /// Replaces an organisation's client secret; returns the organisation with the new secret (shown once). The old
    /// secret stops working at once, and with it every console session opened with it.
    public func rotateSecret(of id: OrganisationID) async throws -> (Organisation, String) {
        let secret = SecretToken.generate(prefix: "cs")
        return (try await store.rotateSecret(organisation: id, digest: SecretToken.digest(secret)), secret)
    }
}
