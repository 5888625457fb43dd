import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ProfferCore
import ProfferStorage

/// The organisation's API: ask people for data, follow requests and grants, and read granted data.
struct OrganisationController: Sendable {
    let services: Services

    struct NewRequest: RequestBody {
        var person: String
        var keys: [String]
        var purpose: String
        var retentionDays: Int
        var thirdParties: [ThirdParty]
        var durationDays: Int
        var reason: String
        var acceptedTerms: [TermID]?
        var tracking: Bool?
        var sale: Bool?
        var automatedDecisions: Bool?
        /// What the organisation offers in return; validated by `Offer.parse`.
        var offer: JSONValue?
        /// Ask to be sent new values of the granted keys when they change, not only told of the change.
        var pushValues: Bool?
        static let fields: Set<String> = ["person", "keys", "purpose", "retentionDays", "thirdParties", "durationDays", "reason",
                                          "acceptedTerms", "tracking", "sale", "automatedDecisions", "offer", "pushValues"]

        static func checkShape(_ object: [String: JSONValue]) -> [FieldError] {
            guard case .array(let parties)? = object["thirdParties"] else { return [] }
            var errors: [FieldError] = []
            for (index, party) in parties.enumerated() {
                guard case .object(let members) = party else { continue }
                for key in members.keys.sorted() where key != "name" && key != "purpose" {
                    errors.append(FieldError(pointer: "/thirdParties/\(index)/\(JSONPointer.escape(key))", detail: "unknown field; allowed fields are name, purpose"))
                }
            }
            return errors
        }
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/v1/organisation", use: whoAmI)
        router.post("/v1/requests", use: createRequest)
        router.get("/v1/requests", use: listRequests)
        router.get("/v1/requests/{requestId}", use: getRequest)
        router.get("/v1/grants", use: listGrants)
        router.get("/v1/grants/{grantId}", use: getGrant)
        router.get("/v1/grants/{grantId}/data", use: readData)
    }

    func organisation(_ identity: Authenticator.OrganisationIdentity) async throws -> Organisation {
        guard let organisation = try await services.store.organisation(id: identity.organisationID) else {
            throw Problem.unauthorized("the organisation of this access token no longer exists")
        }
        return organisation
    }

    @Sendable func whoAmI(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<OrganisationSummaryDTO> {
        let identity = try await services.auth.organisation(request)
        return JSONResponse(OrganisationSummaryDTO(try await organisation(identity)))
    }

    @Sendable func createRequest(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<RequestDTO> {
        let identity = try await services.auth.organisation(request)
        try identity.require(.requestsWrite)
        let body = try await request.decodeBody(NewRequest.self, context: context)
        let offer = try validate(body)
        guard AccountController.isValidHandle(body.person), let person = try await services.store.person(handle: body.person) else {
            throw Problem.validation(ValidationFailure(pointer: "/person", detail: "no person has the handle \"\(body.person.prefix(40))\""))
        }
        if let erasedAt = person.erasedAt { throw Problem.personErased(handle: person.handle, at: erasedAt) }
        let organisation = try await organisation(identity)
        let now = Timestamp.now()
        var dataRequest = DataRequest(
            id: .generate(), organisationID: identity.organisationID, personID: person.id, keys: body.keys,
            purpose: body.purpose, retentionDays: body.retentionDays,
            thirdParties: body.thirdParties.map { ThirdParty(name: $0.name.trimmingCharacters(in: .whitespaces), purpose: $0.purpose) },
            durationDays: body.durationDays, reason: body.reason, state: .pending, createdAt: now, decidedAt: nil, grantID: nil,
            acceptedTerms: body.acceptedTerms ?? [],
            declarations: Declarations(tracking: body.tracking ?? false, sale: body.sale ?? false, automatedDecisions: body.automatedDecisions ?? false),
            offer: offer, pushValues: body.pushValues ?? false
        )
        let decision = services.evaluator.decide(
            terms: try await services.proffered(by: person.id), rules: try await services.store.rules(of: person.id),
            request: dataRequest.facts(organisationVerified: organisation.verified), prices: try await services.store.prices(of: person.id))
        switch decision {
        case .askPerson(let explanation):
            // Still undecided: the explanation tells the person (and the organisation) why they are asked.
            dataRequest.decisionNote = explanation
            try await services.store.createRequest(dataRequest)
        case .refusedByTerms(let broken):
            dataRequest.decide(.refused, by: "terms", note: decision.explanation, at: now)
            let receipt = try await services.receipt(.refused, request: dataRequest, grant: nil, organisation: organisation,
                                                     decidedBy: "terms", explanation: decision.explanation, at: now)
            try await services.store.createRequest(dataRequest, receipt: receipt)
            throw Self.termsProblem(broken, request: dataRequest, receipt: receipt)
        case .refusedByRule(let rule, let explanation):
            dataRequest.decide(.refused, by: "rule:\(rule)", note: explanation, at: now)
            let receipt = try await services.receipt(.refused, request: dataRequest, grant: nil, organisation: organisation,
                                                     decidedBy: "rule:\(rule)", explanation: explanation, at: now)
            try await services.store.createRequest(dataRequest, receipt: receipt)
        case .grantedByRule(let rules, let days, let explanation):
            let decidedBy = "rule:" + (rules.first?.rawValue ?? "")
            let grant = services.grant(of: dataRequest, keys: dataRequest.keys, days: days, at: now)
            dataRequest.decide(.granted, by: decidedBy, note: explanation, at: now)
            dataRequest.grantID = grant.id
            let receipt = try await services.receipt(.granted, request: dataRequest, grant: grant, organisation: organisation,
                                                     decidedBy: decidedBy, explanation: explanation, at: now)
            try await services.store.createRequest(dataRequest, grant: grant, receipt: receipt)
        }
        return JSONResponse(RequestDTO(dataRequest, organisation: organisation, personHandle: person.handle),
                            status: .created, headers: [.location: "/v1/requests/\(dataRequest.id)"])
    }

    /// The answer to a request that breaks the person's terms: each broken term, where in the request it is
    /// broken, and the refusal's receipt.
    static func termsProblem(_ broken: [BrokenTerm], request: DataRequest, receipt: ReceiptRecord) -> Problem {
        let errors = broken.map { term -> FieldError in
            let pointer: String = switch term.term {
            case .noOnwardSharing: "/thirdParties"
            case .serviceOnly: "/purpose"
            case .maxRetention: "/retentionDays"
            case .noStalking: "/tracking"
            case .noSale: "/sale"
            case .noAutomatedDecisions: "/automatedDecisions"
            case .minimumPrice: "/offer"
            case .deleteOnServiceEnd, .breachNotification: "/acceptedTerms"
            }
            return FieldError(pointer: term.reason == "the request does not accept it" ? "/acceptedTerms" : pointer,
                              detail: "breaks \(term.term.rawValue): \(term.reason)")
        }
        return Problem(.unprocessableContent, "terms-refused", title: "Refused by the person's terms",
                       detail: "the request breaks the person's terms, so it was refused without asking them: "
                           + broken.map { "\($0.term.rawValue) (\($0.reason))" }.joined(separator: "; ")
                           + ". See GET /v1/people/{handle}/terms.",
                       errors: errors,
                       extensions: ["brokenTerms": .array(broken.map { .string($0.term.rawValue) }),
                                    "requestId": .string(request.id.rawValue), "receiptId": .string(receipt.id.rawValue)])
    }

    /// Validates a new request; returns its offer (nothing when none is made).
    func validate(_ body: NewRequest) throws -> Offer {
        var errors: [FieldError] = []
        var offer = Offer.nothing
        if let value = body.offer {
            do { offer = try Offer.parse(value) } catch { errors += error.errors }
        }
        if body.person.isEmpty || body.person.count > 32 {
            errors.append(FieldError(pointer: "/person", detail: "must be a person's handle (3 to 32 characters)"))
        }
        if body.keys.isEmpty || body.keys.count > RequestLimits.maxKeys {
            errors.append(FieldError(pointer: "/keys", detail: "must list 1 to \(RequestLimits.maxKeys) catalogue keys"))
        }
        if Set(body.keys).count != body.keys.count {
            errors.append(FieldError(pointer: "/keys", detail: "lists a key more than once"))
        }
        for (index, key) in body.keys.enumerated() where !services.catalogue.contains(key) {
            errors.append(FieldError(pointer: "/keys/\(index)", detail: "\"\(key.prefix(60))\" is not a key in the catalogue (GET /v1/catalogue)"))
        }
        if services.purposes.purpose(body.purpose) == nil {
            errors.append(FieldError(pointer: "/purpose", detail: "\"\(body.purpose.prefix(60))\" is not a known purpose (GET /v1/purposes)"))
        }
        if !(1...RequestLimits.maxRetentionDays).contains(body.retentionDays) {
            errors.append(FieldError(pointer: "/retentionDays", detail: "must be from 1 to \(RequestLimits.maxRetentionDays)"))
        }
        if !(1...RequestLimits.maxDurationDays).contains(body.durationDays) {
            errors.append(FieldError(pointer: "/durationDays", detail: "must be from 1 to \(RequestLimits.maxDurationDays)"))
        }
        let reason = body.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        if reason.isEmpty || reason.count > RequestLimits.maxReasonLength {
            errors.append(FieldError(pointer: "/reason", detail: "must be 1 to \(RequestLimits.maxReasonLength) characters saying why you need the data"))
        }
        if body.thirdParties.count > RequestLimits.maxThirdParties {
            errors.append(FieldError(pointer: "/thirdParties", detail: "must list at most \(RequestLimits.maxThirdParties) third parties"))
        }
        for (index, party) in body.thirdParties.enumerated() {
            let name = party.name.trimmingCharacters(in: .whitespaces)
            if name.isEmpty || name.count > RequestLimits.maxNameLength {
                errors.append(FieldError(pointer: "/thirdParties/\(index)/name", detail: "must be 1 to \(RequestLimits.maxNameLength) characters"))
            }
            if let purpose = party.purpose, purpose.count > RequestLimits.maxReasonLength {
                errors.append(FieldError(pointer: "/thirdParties/\(index)/purpose", detail: "must be at most \(RequestLimits.maxReasonLength) characters"))
            }
        }
        if !errors.isEmpty { throw Problem.validation(ValidationFailure(errors)) }
        return offer
    }

    @Sendable func listRequests(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<ListDTO<RequestDTO>> {
        let identity = try await services.auth.organisation(request)
        try identity.require(.requestsRead)
        let requests = try await services.store.requests(
            of: .organisation(identity.organisationID), state: try PersonDecisionController.stateFilter(request),
            limit: try request.queryInt("limit", default: 50, range: 1...200), offset: try request.queryInt("offset", default: 0, range: 0...1_000_000))
        return JSONResponse(ListDTO(items: try await services.requestDTOs(requests)))
    }

    @Sendable func getRequest(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<RequestDTO> {
        let identity = try await services.auth.organisation(request)
        try identity.require(.requestsRead)
        let id = try request.identifier("requestId", context: context, as: RequestID.self)
        guard let found = try await services.store.request(id: id), found.organisationID == identity.organisationID else {
            throw Problem.notFound("your organisation has no request \(id)")
        }
        return JSONResponse(try await services.requestDTOs([found])[0])
    }

    @Sendable func listGrants(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<ListDTO<GrantDTO>> {
        let identity = try await services.auth.organisation(request)
        try identity.require(.grantsRead)
        let grants = try await services.store.grants(
            of: .organisation(identity.organisationID), limit: try request.queryInt("limit", default: 50, range: 1...200),
            offset: try request.queryInt("offset", default: 0, range: 0...1_000_000))
        return JSONResponse(ListDTO(items: try await services.grantDTOs(grants)))
    }

    func ownGrant(_ request: Request, context: AppRequestContext, identity: Authenticator.OrganisationIdentity) async throws -> Grant {
        let id = try request.identifier("grantId", context: context, as: GrantID.self)
        guard let grant = try await services.store.grant(id: id), grant.organisationID == identity.organisationID else {
            throw Problem.notFound("your organisation has no grant \(id)")
        }
        return grant
    }

    @Sendable func getGrant(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<GrantDTO> {
        let identity = try await services.auth.organisation(request)
        try identity.require(.grantsRead)
        return JSONResponse(try await services.grantDTOs([try await ownGrant(request, context: context, identity: identity)])[0])
    }

    /// The disclosure: only the granted keys, only while the grant is active, and only after the
    /// disclosure's audit entry is durably committed — all decided inside one write transaction.
    @Sendable func readData(_ request: Request, context: AppRequestContext) async throws -> Response {
        let identity = try await services.auth.organisation(request)
        try identity.require(.dataRead)
        let id = try request.identifier("grantId", context: context, as: GrantID.self)
        let subset = request.uri.queryParameters["keys"].map { $0.split(separator: ",").map(String.init) }
        if let subset, subset.isEmpty || subset.count > RequestLimits.maxKeys {
            throw Problem.badRequest("query parameter keys must list 1 to \(RequestLimits.maxKeys) granted keys, comma-separated")
        }
        // Optional here: a priced read retried with the same key is disclosed again but charged once.
        let idempotencyKey = request.headers[WalletController.idempotencyKeyField] == nil ? nil : try WalletController.idempotencyKey(request)
        let now = Timestamp.now()
        let disclosure: Disclosure
        do {
            disclosure = try await services.store.disclose(grant: id, organisation: identity.organisationID, keys: subset,
                                                           idempotencyKey: idempotencyKey, at: now)
        } catch DomainError.notFound {
            throw Problem.notFound("your organisation has no grant \(id)")
        } catch let error as DomainError {
            throw error
        } catch let error as LedgerError {
            throw error
        } catch {
            context.logger.error("audit write failed; disclosure withheld", metadata: ["error.type": "\(type(of: error))"])
            throw Problem(.serviceUnavailable, "audit-unavailable", title: "Disclosure withheld",
                          detail: "the disclosure could not be recorded in the person's audit log, so no data was sent; retry later",
                          headers: [.retryAfter: "1"])
        }
        let person = try await services.person(disclosure.grant.personID)
        let records = try services.vault.disclosedValues(disclosure.records, of: disclosure.grant.personID, with: person.dataKey) { record, json in
            DisclosureBody.member(key: record.key, valueJSON: json, updatedAt: record.changedAt)
        }
        let asked = subset.map { keys in disclosure.grant.keys.filter(keys.contains) } ?? disclosure.grant.keys
        var response = try DisclosureBody(grantID: id.rawValue, person: person.handle, purpose: disclosure.grant.purpose, disclosedAt: now,
                                          expiresAt: disclosure.grant.expiresAt, records: records,
                                          missing: asked.filter { key in !records.contains { $0.key == key } }).response(from: request, context: context)
        if disclosure.replayed { response.headers[WalletController.replayedField] = "true" }
        return response
    }
}
