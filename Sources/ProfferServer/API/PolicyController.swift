import Foundation
import HTTPTypes
import Hummingbird
import ProfferCore
import ProfferStorage

/// The person's own terms and automatic rules, and the public roster of terms.
struct PolicyController: Sendable {
    let services: Services

    struct TermsBody: RequestBody {
        var terms: [ProfferedTerm]
        static let fields: Set<String> = ["terms"]

        static func checkShape(_ object: [String: JSONValue]) -> [FieldError] {
            guard case .array(let items)? = object["terms"] else { return [] }
            return items.enumerated().flatMap { index, item -> [FieldError] in
                guard case .object(let members) = item else { return [] }
                return members.keys.sorted().filter { $0 != "id" && $0 != "parameters" }.map {
                    FieldError(pointer: "/terms/\(index)/\(JSONPointer.escape($0))", detail: "unknown field; allowed fields are id, parameters")
                }
            }
        }
    }

    struct PricesBody: RequestBody {
        var prices: JSONValue
        static let fields: Set<String> = ["prices"]
    }

    struct PricesDTO: Codable, Sendable {
        var person: String
        var prices: [PriceEntry]
    }

    struct RuleBody: RequestBody {
        var action: RuleAction
        var keys: [KeyPattern]
        var purposes: [String]?
        var organisationVerified: Bool?
        var maxDurationDays: Int?
        var note: String?
        static let fields: Set<String> = ["action", "keys", "purposes", "organisationVerified", "maxDurationDays", "note"]
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/v1/terms", use: roster)
        router.get("/v1/people/{handle}/terms", use: publicTerms)
        router.get("/v1/me/terms", use: myTerms)
        router.put("/v1/me/terms", use: setTerms)
        router.get("/v1/me/prices", use: myPrices)
        router.put("/v1/me/prices", use: setPrices)
        router.get("/v1/me/rules", use: listRules)
        router.post("/v1/me/rules", use: addRule)
        router.delete("/v1/me/rules/{ruleId}", use: removeRule)
        router.get("/v1/me/rules/preview", use: preview)
    }

    @Sendable func roster(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<ListDTO<TermDefinitionDTO>> {
        JSONResponse(ListDTO(items: services.terms.definitions.map(TermDefinitionDTO.init)), headers: [.cacheControl: "public, max-age=300"])
    }

    @Sendable func publicTerms(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<PersonTermsDTO> {
        let handle = context.parameters.get("handle") ?? ""
        guard AccountController.isValidHandle(handle), let person = try await services.store.person(handle: handle) else {
            throw Problem.notFound("no person has the handle \"\(handle.prefix(40))\"")
        }
        if let erasedAt = person.erasedAt { throw Problem.personErased(handle: person.handle, at: erasedAt) }
        return JSONResponse(try await termsDTO(person))
    }

    func termsDTO(_ person: Person) async throws -> PersonTermsDTO {
        PersonTermsDTO(person: person.handle, terms: try await services.proffered(by: person.id).map { ProfferedTermDTO($0, roster: services.terms) },
                       prices: try await services.store.prices(of: person.id).entries)
    }

    @Sendable func myTerms(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<PersonTermsDTO> {
        JSONResponse(try await termsDTO(try await services.auth.person(request).person))
    }

    @Sendable func setTerms(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<PersonTermsDTO> {
        let person = try await services.auth.person(request).person
        let body = try await request.decodeBody(TermsBody.self, context: context)
        let errors = services.terms.validate(body.terms)
        if !errors.isEmpty { throw Problem.validation(ValidationFailure(errors)) }
        try await services.store.setTerms(body.terms, of: person.id, at: .now())
        return JSONResponse(try await termsDTO(person))
    }

    @Sendable func myPrices(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<PricesDTO> {
        let person = try await services.auth.person(request).person
        return JSONResponse(PricesDTO(person: person.handle, prices: try await services.store.prices(of: person.id).entries))
    }

    /// Replaces the person's price list. Prices bind organisations only while the person proffers `minimum-price`.
    @Sendable func setPrices(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<PricesDTO> {
        let person = try await services.auth.person(request).person
        let body = try await request.decodeBody(PricesBody.self, context: context)
        let prices: PriceList
        do { prices = try PriceList.parse(body.prices, catalogue: services.catalogue) } catch { throw Problem.validation(error) }
        try await services.store.setPrices(prices, of: person.id, at: .now())
        return JSONResponse(PricesDTO(person: person.handle, prices: prices.entries))
    }

    @Sendable func listRules(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<ListDTO<RuleDTO>> {
        let person = try await services.auth.person(request).person
        return JSONResponse(ListDTO(items: try await services.store.rules(of: person.id).map(RuleDTO.init)))
    }

    @Sendable func addRule(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<RuleDTO> {
        let person = try await services.auth.person(request).person
        let body = try await request.decodeBody(RuleBody.self, context: context)
        let rule = try await services.addRule(
            DecisionRule(id: .generate(), action: body.action, keys: body.keys, purposes: body.purposes ?? [],
                         organisationVerified: body.organisationVerified, maxDurationDays: body.maxDurationDays,
                         note: body.note?.trimmingCharacters(in: .whitespacesAndNewlines), createdAt: .now()),
            for: person)
        return JSONResponse(RuleDTO(rule), status: .created, headers: [.location: "/v1/me/rules/\(rule.id)"])
    }

    @Sendable func removeRule(_ request: Request, context: AppRequestContext) async throws -> Response {
        let person = try await services.auth.person(request).person
        let id = try request.identifier("ruleId", context: context, as: RuleID.self)
        try await services.store.removeRule(id, of: person.id, at: .now())
        return Response(status: .noContent)
    }

    /// How the person's current terms and rules would decide their recent requests.
    @Sendable func preview(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<ListDTO<RulePreviewDTO>> {
        let person = try await services.auth.person(request).person
        let previews = try await services.rulePreview(for: person, limit: try request.queryInt("limit", default: 50, range: 1...200))
        return JSONResponse(ListDTO(items: previews.map { preview in
            RulePreviewDTO(requestId: preview.request.id.rawValue, organisation: preview.organisation.name, keys: preview.request.keys,
                           purpose: preview.request.purpose, actualState: preview.request.state, wouldBe: preview.outcome,
                           explanation: preview.explanation)
        }))
    }
}
