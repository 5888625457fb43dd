import Foundation
import HTTPTypes
import Hummingbird
import ProfferCore
import ProfferStorage

/// An organisation's webhooks: endpoints (the signing secret shown once, at creation), and the delivery log with
/// each attempt and a replay. Needs the `webhooks:manage` scope.
struct WebhookController: Sendable {
    let services: Services

    static let maxDescriptionLength = 200

    struct NewEndpoint: RequestBody {
        var url: String
        var events: [String]
        var description: String?
        static let fields: Set<String> = ["url", "events", "description"]
    }

    struct EndpointDTO: Codable, Sendable {
        var id: String
        var url: String
        var description: String
        var events: [WebhookEventType]
        var createdAt: Timestamp
        var deletedAt: Timestamp?
        /// Only in the answer that creates the endpoint: `whsec_…`, for verifying signatures. Not shown again.
        var secret: String?

        init(_ endpoint: WebhookEndpoint, secret: WebhookSecret? = nil) {
            id = endpoint.id.rawValue
            url = endpoint.url
            description = endpoint.description
            events = endpoint.eventTypes
            createdAt = endpoint.createdAt
            deletedAt = endpoint.disabledAt
            self.secret = secret?.text
        }
    }

    struct EndpointList: Codable, Sendable {
        var endpoints: [EndpointDTO]
    }

    struct AttemptDTO: Codable, Sendable {
        var attempt: Int
        var startedAt: Timestamp
        var durationMs: Int64
        var status: Int?
        var error: String?
    }

    struct DeliveryDTO: Codable, Sendable {
        var eventId: String
        var endpointId: String
        var type: WebhookEventType
        var eventCreatedAt: Timestamp
        var state: WebhookDelivery.State
        var attempts: Int
        var nextAttemptAt: Timestamp?
        var lastAttemptAt: Timestamp?
        var lastStatus: Int?
        var lastError: String?
        var deliveredAt: Timestamp?
        /// In the single-delivery answer: the event's data (without any pushed value) and every attempt.
        var data: JSONValue?
        var attemptLog: [AttemptDTO]?

        init(_ delivery: WebhookDelivery, event: WebhookEvent, attempts: [WebhookAttempt]? = nil) {
            eventId = delivery.eventID.rawValue
            endpointId = delivery.endpointID.rawValue
            type = event.type
            eventCreatedAt = event.createdAt
            state = delivery.state
            self.attempts = delivery.attempts
            nextAttemptAt = delivery.state == .pending ? delivery.nextAttemptAt : nil
            lastAttemptAt = delivery.lastAttemptAt
            lastStatus = delivery.lastStatus
            lastError = delivery.lastError
            deliveredAt = delivery.deliveredAt
            if let attempts {
                data = event.payload
                attemptLog = attempts.map { AttemptDTO(attempt: $0.attempt, startedAt: $0.startedAt, durationMs: $0.durationMilliseconds,
                                                       status: $0.status, error: $0.error) }
            }
        }
    }

    struct DeliveryPage: Codable, Sendable {
        var deliveries: [DeliveryDTO]
        /// Pass as `before` for the next (older) page; absent on the last page.
        var next: String?
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/v1/organisation/webhooks", use: create)
        router.get("/v1/organisation/webhooks", use: list)
        router.get("/v1/organisation/webhooks/deliveries", use: deliveries)
        router.get("/v1/organisation/webhooks/deliveries/{eventId}/{endpointId}", use: delivery)
        router.post("/v1/organisation/webhooks/deliveries/{eventId}/{endpointId}/replay", use: replay)
        router.get("/v1/organisation/webhooks/{endpointId}", use: get)
        router.delete("/v1/organisation/webhooks/{endpointId}", use: delete)
    }

    private func identity(_ request: Request) async throws -> Authenticator.OrganisationIdentity {
        let identity = try await services.auth.organisation(request)
        try identity.require(.webhooksManage)
        return identity
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<EndpointDTO> {
        let identity = try await identity(request)
        let body = try await request.decodeBody(NewEndpoint.self, context: context)
        var errors: [FieldError] = []
        let configuration = services.configuration
        var url: WebhookURL?
        switch WebhookURL.parse(body.url, requireHTTPS: !configuration.webhookAllowHTTP) {
        case .success(let parsed): url = parsed
        case .failure(let failure): errors += failure.errors
        }
        if let parsed = url, !configuration.webhookAllowPrivateTargets, let refusal = await WebhookSender.forbiddenAddress(of: parsed) {
            errors.append(FieldError(pointer: "/url", detail: refusal))
        }
        var types: [WebhookEventType] = []
        if body.events.isEmpty || body.events.count > WebhookEventType.allCases.count {
            errors.append(FieldError(pointer: "/events", detail: "list 1 to \(WebhookEventType.allCases.count) event types: "
                + WebhookEventType.allCases.map(\.rawValue).joined(separator: ", ")))
        } else {
            for (index, name) in body.events.enumerated() {
                if let type = WebhookEventType(rawValue: name) {
                    if types.contains(type) {
                        errors.append(FieldError(pointer: "/events/\(index)", detail: "lists \(name) more than once"))
                    } else {
                        types.append(type)
                    }
                } else {
                    errors.append(FieldError(pointer: "/events/\(index)", detail: "unknown event type \"\(name.prefix(60))\"; known: "
                        + WebhookEventType.allCases.map(\.rawValue).joined(separator: ", ")))
                }
            }
        }
        let description = (body.description ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        if description.count > Self.maxDescriptionLength || description.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            errors.append(FieldError(pointer: "/description", detail: "must be at most \(Self.maxDescriptionLength) characters without control characters"))
        }
        if !errors.isEmpty { throw Problem.validation(ValidationFailure(errors)) }
        let endpoint = WebhookEndpoint(id: .generate(), organisationID: identity.organisationID, url: body.url, description: description,
                                       eventTypes: types.sorted { $0.rawValue < $1.rawValue }, createdAt: .now())
        let secret = WebhookSecret.generate()
        try await services.store.createWebhookEndpoint(endpoint, sealedSecret: try services.vault.masterKey.sealWebhookSecret(secret, for: endpoint.id))
        return JSONResponse(EndpointDTO(endpoint, secret: secret), status: .created,
                            headers: [.location: "/v1/organisation/webhooks/\(endpoint.id)", .cacheControl: "no-store"])
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<EndpointList> {
        let identity = try await identity(request)
        return JSONResponse(EndpointList(endpoints: try await services.store.webhookEndpoints(of: identity.organisationID).map { EndpointDTO($0) }))
    }

    @Sendable func get(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<EndpointDTO> {
        let identity = try await identity(request)
        let id = try request.identifier("endpointId", context: context, as: WebhookEndpointID.self)
        guard let endpoint = try await services.store.webhookEndpoint(id, of: identity.organisationID) else {
            throw Problem.notFound("your organisation has no webhook endpoint \(id)")
        }
        return JSONResponse(EndpointDTO(endpoint))
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let identity = try await identity(request)
        let id = try request.identifier("endpointId", context: context, as: WebhookEndpointID.self)
        try await services.store.deleteWebhookEndpoint(id, of: identity.organisationID, at: .now())
        return Response(status: .noContent)
    }

    @Sendable func deliveries(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<DeliveryPage> {
        let identity = try await identity(request)
        let query = request.uri.queryParameters
        var errors: [FieldError] = []
        var state: WebhookDelivery.State?
        if let text = query["state"] {
            state = WebhookDelivery.State(rawValue: String(text))
            if state == nil { errors.append(FieldError(pointer: "/state", detail: "must be pending, delivered or failed")) }
        }
        var endpoint: WebhookEndpointID?
        if let text = query["endpoint"] {
            endpoint = WebhookEndpointID(String(text))
            if endpoint == nil { errors.append(FieldError(pointer: "/endpoint", detail: "must be a webhook endpoint id (whe_…)")) }
        }
        var before: (WebhookEventID, WebhookEndpointID)?
        if let text = query["before"] {
            let parts = text.split(separator: ".")
            if parts.count == 2, let event = WebhookEventID(String(parts[0])), let end = WebhookEndpointID(String(parts[1])) {
                before = (event, end)
            } else {
                errors.append(FieldError(pointer: "/before", detail: "must be the next value of a previous page"))
            }
        }
        var limit = 50
        if let text = query["limit"] {
            if let value = Int(String(text)), (1...200).contains(value) { limit = value } else {
                errors.append(FieldError(pointer: "/limit", detail: "must be 1 to 200"))
            }
        }
        if !errors.isEmpty { throw Problem.badRequest(errors.map { "\($0.pointer.dropFirst()): \($0.detail)" }.joined(separator: "; "), errors: errors) }
        let found = try await services.store.webhookDeliveries(of: identity.organisationID, state: state, endpoint: endpoint, before: before, limit: limit)
        let next = found.count == limit ? found.last.map { "\($0.0.eventID.rawValue).\($0.0.endpointID.rawValue)" } : nil
        return JSONResponse(DeliveryPage(deliveries: found.map { DeliveryDTO($0.0, event: $0.1) }, next: next))
    }

    @Sendable func delivery(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<DeliveryDTO> {
        let identity = try await identity(request)
        let event = try request.identifier("eventId", context: context, as: WebhookEventID.self)
        let endpoint = try request.identifier("endpointId", context: context, as: WebhookEndpointID.self)
        guard let (delivery, stored, attempts) = try await services.store.webhookDelivery(event: event, endpoint: endpoint, of: identity.organisationID) else {
            throw Problem.notFound("your organisation has no delivery of \(event) to \(endpoint)")
        }
        return JSONResponse(DeliveryDTO(delivery, event: stored, attempts: attempts))
    }

    @Sendable func replay(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<DeliveryDTO> {
        let identity = try await identity(request)
        let event = try request.identifier("eventId", context: context, as: WebhookEventID.self)
        let endpoint = try request.identifier("endpointId", context: context, as: WebhookEndpointID.self)
        let delivery = try await services.store.replayDelivery(event: event, endpoint: endpoint, of: identity.organisationID, at: .now())
        guard let (_, stored, _) = try await services.store.webhookDelivery(event: event, endpoint: endpoint, of: identity.organisationID) else {
            throw Problem.notFound("your organisation has no delivery of \(event) to \(endpoint)")
        }
        return JSONResponse(DeliveryDTO(delivery, event: stored), status: .accepted)
    }
}
