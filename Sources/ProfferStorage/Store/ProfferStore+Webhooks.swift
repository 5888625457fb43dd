import Foundation
import ProfferCore
import SQLKit

/// A delivery claimed by a worker: everything needed to send one attempt.
public struct ClaimedDelivery: Sendable {
    public var event: WebhookEvent
    public var endpointID: WebhookEndpointID
    public var url: String
    public var sealedSecret: Data
    /// This attempt's number (1-based, counted over the delivery's whole life).
    public var attempt: Int
    /// This attempt's place in the retry schedule (1 for the first attempt after creation or a replay).
    public var scheduleAttempt: Int
}

/// What one attempt came to, as the worker reports it.
public enum DeliveryOutcome: Sendable, Equatable {
    case delivered
    case retry(at: Timestamp)
    case failed
}

extension ProfferStore {
    /// The most endpoints an organisation may register.
    public static let maxWebhookEndpoints = 20

    // MARK: Endpoints

    /// Registers an endpoint; `sealedSecret` is its signing secret sealed with the master key.
    public func createWebhookEndpoint(_ endpoint: WebhookEndpoint, sealedSecret: Data) async throws {
        try await write { db in
            let count = try await db.raw("""
                SELECT COUNT(*) AS n FROM webhook_endpoints WHERE organisation_id = \(bind: endpoint.organisationID.rawValue) AND disabled_at IS NULL
                """).first()?.decode(column: "n", as: Int.self) ?? 0
            guard count < Self.maxWebhookEndpoints else {
                throw DomainError.conflict("an organisation may have at most \(Self.maxWebhookEndpoints) webhook endpoints; delete one first")
            }
            try await db.raw("""
                INSERT INTO webhook_endpoints (id, organisation_id, url, description, sealed_secret, created_at, disabled_at)
                VALUES (\(bind: endpoint.id.rawValue), \(bind: endpoint.organisationID.rawValue), \(bind: endpoint.url), \(bind: endpoint.description),
                        \(bind: sealedSecret), \(bind: endpoint.createdAt.millisecondsSinceEpoch), NULL)
                """).run()
            for type in Set(endpoint.eventTypes) {
                try await db.raw("""
                    INSERT INTO webhook_subscriptions (endpoint_id, event_type) VALUES (\(bind: endpoint.id.rawValue), \(bind: type.rawValue))
                    """).run()
            }
        }
    }

    /// An organisation's endpoints, deleted ones included (they keep their delivery log), newest first.
    public func webhookEndpoints(of organisation: OrganisationID) async throws -> [WebhookEndpoint] {
        try await read { db in
            let rows = try await db.raw("""
                SELECT * FROM webhook_endpoints WHERE organisation_id = \(bind: organisation.rawValue) ORDER BY created_at DESC, id
                """).all()
            return try await Self.endpoints(rows, on: db)
        }
    }

    /// One of the organisation's endpoints (nil for another organisation's).
    public func webhookEndpoint(_ id: WebhookEndpointID, of organisation: OrganisationID) async throws -> WebhookEndpoint? {
        try await read { db in
            let rows = try await db.raw("""
                SELECT * FROM webhook_endpoints WHERE id = \(bind: id.rawValue) AND organisation_id = \(bind: organisation.rawValue)
                """).all()
            return try await Self.endpoints(rows, on: db).first
        }
    }

    /// Deletes an endpoint: nothing more is sent to it; its pending deliveries fail with that reason, its log stays.
    public func deleteWebhookEndpoint(_ id: WebhookEndpointID, of organisation: OrganisationID, at now: Timestamp) async throws {
        let kind = self.kind
        try await write { db in
            guard let row = try await db.raw("""
                SELECT disabled_at FROM webhook_endpoints WHERE id = \(bind: id.rawValue) AND organisation_id = \(bind: organisation.rawValue)\(unsafeRaw: kind.forUpdate)
                """).first(), try row.decodeNil(column: "disabled_at") else {
                throw DomainError.notFound(what: "webhook endpoint", id: id.rawValue)
            }
            try await db.raw("UPDATE webhook_endpoints SET disabled_at = \(bind: now.millisecondsSinceEpoch) WHERE id = \(bind: id.rawValue)").run()
            try await db.raw("""
                UPDATE webhook_deliveries SET state = 'failed', next_attempt_at = NULL, last_error = 'the endpoint was deleted'
                WHERE endpoint_id = \(bind: id.rawValue) AND state = 'pending'
                """).run()
        }
    }

    private static func endpoints(_ rows: [any SQLRow], on db: any SQLDatabase) async throws -> [WebhookEndpoint] {
        guard !rows.isEmpty else { return [] }
        let ids = try rows.map { try $0.decode(column: "id", as: String.self) }
        var types: [String: [WebhookEventType]] = [:]
        for row in try await db.select().columns("endpoint_id", "event_type").from("webhook_subscriptions").where("endpoint_id", .in, ids)
            .orderBy("event_type").all() {
            if let type = WebhookEventType(rawValue: try row.decode(column: "event_type", as: String.self)) {
                types[try row.decode(column: "endpoint_id", as: String.self), default: []].append(type)
            }
        }
        return try rows.map { row in
            let id = try row.decode(column: "id", as: String.self)
            return WebhookEndpoint(
                id: WebhookEndpointID(trusted: id), organisationID: OrganisationID(trusted: try row.decode(column: "organisation_id", as: String.self)),
                url: try row.decode(column: "url", as: String.self), description: try row.decode(column: "description", as: String.self),
                eventTypes: types[id] ?? [], createdAt: try row.timestamp("created_at"), disabledAt: try row.optionalTimestamp("disabled_at"))
        }
    }

    // MARK: The outbox

    /// Writes events into the outbox inside the caller's transaction, with one delivery per live endpoint of the
    /// event's organisation subscribed to its type. An event nobody subscribed to is not stored. Returns how many
    /// events were stored.
    @discardableResult
    static func emit(_ events: [WebhookEvent], on db: any SQLDatabase) async throws -> Int {
        var stored = 0
        for event in events {
            let endpoints = try await db.raw("""
                SELECT e.id FROM webhook_endpoints e JOIN webhook_subscriptions s ON s.endpoint_id = e.id
                WHERE e.organisation_id = \(bind: event.organisationID.rawValue) AND e.disabled_at IS NULL AND s.event_type = \(bind: event.type.rawValue)
                ORDER BY e.id
                """).all().map { try $0.decode(column: "id", as: String.self) }
            guard !endpoints.isEmpty else { continue }
            try await db.raw("""
                INSERT INTO webhook_events (id, organisation_id, type, person_id, grant_id, record_key, payload, created_at, value_state, value_version, value_note)
                VALUES (\(bind: event.id.rawValue), \(bind: event.organisationID.rawValue), \(bind: event.type.rawValue), \(bind: event.personID?.rawValue),
                        \(bind: event.grantID?.rawValue), \(bind: event.recordKey), \(bind: JSONColumn.encode(event.payload)),
                        \(bind: event.createdAt.millisecondsSinceEpoch), \(bind: event.valueState.rawValue), NULL, NULL)
                """).run()
            for endpoint in endpoints {
                try await db.raw("""
                    INSERT INTO webhook_deliveries (event_id, endpoint_id, organisation_id, state, attempts, schedule_base, next_attempt_at, created_at)
                    VALUES (\(bind: event.id.rawValue), \(bind: endpoint), \(bind: event.organisationID.rawValue), 'pending', 0, 0,
                            \(bind: event.createdAt.millisecondsSinceEpoch), \(bind: event.createdAt.millisecondsSinceEpoch))
                    """).run()
            }
            stored += 1
        }
        return stored
    }

    /// The person's handle, for event payloads (organisations know people by handle).
    static func handle(of person: PersonID, on db: any SQLDatabase) async throws -> String {
        try await db.raw("SELECT handle FROM people WHERE id = \(bind: person.rawValue)").first()?.decode(column: "handle", as: String.self) ?? ""
    }

    /// `request.decided`, and `grant.created` when granted, for the request's organisation.
    static func emitDecision(of request: DataRequest, grant: Grant?, at now: Timestamp, on db: any SQLDatabase) async throws {
        let handle = try await handle(of: request.personID, on: db)
        var decided: [String: JSONValue] = [
            "requestId": .string(request.id.rawValue), "person": .string(handle), "state": .string(grant == nil ? "refused" : "granted"),
            "decidedBy": .string(Self.publicDecider(request.decidedBy)), "decidedAt": .string(now.rfc3339),
            "keysAsked": .array(request.keys.map(JSONValue.string)),
        ]
        var events: [WebhookEvent] = []
        if let grant {
            decided["grantId"] = .string(grant.id.rawValue)
            decided["keysGranted"] = .array(grant.keys.map(JSONValue.string))
        }
        events.append(WebhookEvent(organisationID: request.organisationID, type: .requestDecided, personID: request.personID, grantID: grant?.id,
                                   payload: .object(decided), createdAt: now))
        if let grant {
            events.append(WebhookEvent(organisationID: grant.organisationID, type: .grantCreated, personID: grant.personID, grantID: grant.id,
                                       payload: .object(grantPayload(grant, handle: handle, extra: [:])), createdAt: now))
        }
        try await emit(events, on: db)
    }

    /// A grant's change (`grant.revoked`, `grant.expired`, `grant.suspended`) for its organisation.
    static func emitGrantChange(_ type: WebhookEventType, of grant: Grant, extra: [String: JSONValue], at now: Timestamp, on db: any SQLDatabase) async throws {
        let handle = try await handle(of: grant.personID, on: db)
        try await emit([WebhookEvent(organisationID: grant.organisationID, type: type, personID: grant.personID, grantID: grant.id,
                                     payload: .object(grantPayload(grant, handle: handle, extra: extra)), createdAt: now)], on: db)
    }

    /// `record.updated` for every organisation whose active grant covers the key (and who subscribed): one event
    /// per grant. A grant that pushes values gets its event with the value to be disclosed on delivery.
    static func emitRecordChange(person: PersonID, key: String, version: Int64, deleted: Bool, at now: Timestamp, on db: any SQLDatabase) async throws {
        let rows = try await db.raw("""
            SELECT DISTINCT g.id, g.organisation_id, g.request_id, g.keys, g.push_values
            FROM grants g JOIN webhook_endpoints e ON e.organisation_id = g.organisation_id AND e.disabled_at IS NULL
                          JOIN webhook_subscriptions s ON s.endpoint_id = e.id AND s.event_type = \(bind: WebhookEventType.recordUpdated.rawValue)
            WHERE g.person_id = \(bind: person.rawValue) AND g.revoked_at IS NULL AND g.suspended_at IS NULL
              AND g.expires_at > \(bind: now.millisecondsSinceEpoch)
            ORDER BY g.id
            """).all()
        var events: [WebhookEvent] = []
        var handle: String?
        for row in rows {
            guard try row.stringList("keys").contains(key) else { continue }
            if handle == nil { handle = try await Self.handle(of: person, on: db) }
            let grantID = GrantID(trusted: try row.decode(column: "id", as: String.self))
            let pushes = try row.decode(column: "push_values", as: Int.self) != 0 && !deleted
            let payload: [String: JSONValue] = [
                "grantId": .string(grantID.rawValue), "person": .string(handle ?? ""), "key": .string(key), "version": .integer(version),
                "change": .string(deleted ? "deleted" : "updated"), "changedAt": .string(now.rfc3339),
            ]
            events.append(WebhookEvent(organisationID: OrganisationID(trusted: try row.decode(column: "organisation_id", as: String.self)),
                                       type: .recordUpdated, personID: person, grantID: grantID, recordKey: key, payload: .object(payload),
                                       createdAt: now, valueState: pushes ? .pending : .notPushed))
        }
        try await emit(events, on: db)
    }

    private static func grantPayload(_ grant: Grant, handle: String, extra: [String: JSONValue]) -> [String: JSONValue] {
        var payload: [String: JSONValue] = [
            "grantId": .string(grant.id.rawValue), "requestId": .string(grant.requestID.rawValue), "person": .string(handle),
            "keys": .array(grant.keys.map(JSONValue.string)), "purpose": .string(grant.purpose), "expiresAt": .string(grant.expiresAt.rfc3339),
            "pushValues": .bool(grant.pushValues),
        ]
        payload.merge(extra) { _, new in new }
        return payload
    }

    /// Who decided, as an organisation may see it: never the id of the person's private rule.
    static func publicDecider(_ decidedBy: String?) -> String {
        switch decidedBy {
        case nil, "person"?: "person"
        case "terms"?: "terms"
        case "operator"?: "operator"
        default: "rule"
        }
    }

    // MARK: Delivery

    /// Claims up to `limit` deliveries due now for one attempt each: their next attempt moves `leaseSeconds` ahead,
    /// so no other worker (on PostgreSQL, another instance; `SKIP LOCKED` passes over rows being claimed) sends the
    /// same attempt while this one is under way. A worker that dies mid-attempt leaves the delivery to be retried
    /// when the lease runs out: delivery is at least once.
    /// Deliveries to `excludingEndpoints` (already busy in this worker) are left for later.
    public func claimDueDeliveries(at now: Timestamp, leaseSeconds: Int, limit: Int,
                                   excludingEndpoints: Set<WebhookEndpointID> = []) async throws -> [ClaimedDelivery] {
        let kind = self.kind
        return try await write { db in
            let query = db.select().columns("event_id", "endpoint_id", "attempts", "schedule_base").from("webhook_deliveries")
                .where("state", .equal, WebhookDelivery.State.pending.rawValue)
                .where("next_attempt_at", .lessThanOrEqual, now.millisecondsSinceEpoch)
                .orderBy("next_attempt_at").orderBy("event_id").limit(limit)
            if !excludingEndpoints.isEmpty { query.where("endpoint_id", .notIn, excludingEndpoints.map(\.rawValue).sorted()) }
            if kind == .postgres { query.lockingClause(SQLRaw("FOR UPDATE SKIP LOCKED")) }
            let due = try await query.all()
            guard !due.isEmpty else { return [] }
            let lease = now.adding(seconds: leaseSeconds).millisecondsSinceEpoch
            var claimed: [(event: String, endpoint: String, attempt: Int, base: Int)] = []
            for row in due {
                let event = try row.decode(column: "event_id", as: String.self)
                let endpoint = try row.decode(column: "endpoint_id", as: String.self)
                let attempt = try row.decode(column: "attempts", as: Int.self) + 1
                try await db.raw("""
                    UPDATE webhook_deliveries SET attempts = \(bind: attempt), next_attempt_at = \(bind: lease), last_attempt_at = \(bind: now.millisecondsSinceEpoch)
                    WHERE event_id = \(bind: event) AND endpoint_id = \(bind: endpoint)
                    """).run()
                claimed.append((event, endpoint, attempt, try row.decode(column: "schedule_base", as: Int.self)))
            }
            let events = try await Self.events(ids: Array(Set(claimed.map(\.event))), on: db)
            var endpoints: [String: (url: String, secret: Data)] = [:]
            for row in try await db.select().columns("id", "url", "sealed_secret").from("webhook_endpoints")
                .where("id", .in, Array(Set(claimed.map(\.endpoint)))).all() {
                endpoints[try row.decode(column: "id", as: String.self)] = (try row.decode(column: "url", as: String.self),
                                                                           try row.decode(column: "sealed_secret", as: Data.self))
            }
            return claimed.compactMap { claim in
                guard let event = events[claim.event], let endpoint = endpoints[claim.endpoint] else { return nil }
                return ClaimedDelivery(event: event, endpointID: WebhookEndpointID(trusted: claim.endpoint), url: endpoint.url,
                                       sealedSecret: endpoint.secret, attempt: claim.attempt, scheduleAttempt: claim.attempt - claim.base)
            }
        }
    }

    /// Records one attempt in the delivery log and moves the delivery on: delivered, due again later, or failed.
    /// A late report from an attempt whose lease ran out (another worker has since made a newer attempt) is logged
    /// but only changes the delivery's state if it succeeded.
    public func recordAttempt(event: WebhookEventID, endpoint: WebhookEndpointID, _ attempt: WebhookAttempt, outcome: DeliveryOutcome) async throws {
        let kind = self.kind
        try await write { db in
            guard let row = try await db.raw("""
                SELECT attempts, state FROM webhook_deliveries WHERE event_id = \(bind: event.rawValue) AND endpoint_id = \(bind: endpoint.rawValue)\(unsafeRaw: kind.forUpdate)
                """).first() else { return }
            try await db.raw("""
                INSERT INTO webhook_attempts (event_id, endpoint_id, attempt, started_at, duration_ms, status, error)
                VALUES (\(bind: event.rawValue), \(bind: endpoint.rawValue), \(bind: attempt.attempt), \(bind: attempt.startedAt.millisecondsSinceEpoch),
                        \(bind: attempt.durationMilliseconds), \(bind: attempt.status), \(bind: attempt.error))
                ON CONFLICT (event_id, endpoint_id, attempt) DO NOTHING
                """).run()
            let latest = try row.decode(column: "attempts", as: Int.self) == attempt.attempt
            let pending = try row.decode(column: "state", as: String.self) == WebhookDelivery.State.pending.rawValue
            guard pending, latest || outcome == .delivered else { return }
            let (state, next, delivered): (WebhookDelivery.State, Int64?, Int64?) = switch outcome {
            case .delivered: (.delivered, nil, attempt.startedAt.millisecondsSinceEpoch + attempt.durationMilliseconds)
            case .retry(let at): (.pending, at.millisecondsSinceEpoch, nil)
            case .failed: (.failed, nil, nil)
            }
            try await db.raw("""
                UPDATE webhook_deliveries SET state = \(bind: state.rawValue), next_attempt_at = \(bind: next), delivered_at = \(bind: delivered),
                       last_status = \(bind: attempt.status), last_error = \(bind: attempt.error)
                WHERE event_id = \(bind: event.rawValue) AND endpoint_id = \(bind: endpoint.rawValue)
                """).run()
        }
    }

    /// What a worker about to push a value finds: the event as stored now, and whether this worker holds the
    /// disclosure (until `until`). Another worker's unexpired hold means it is disclosing the value right now.
    public func claimPushedValue(of event: WebhookEventID, until: Timestamp, at now: Timestamp) async throws -> (WebhookEvent, claimed: Bool)? {
        let kind = self.kind
        return try await write { db in
            guard let row = try await db.raw("""
                SELECT value_state, value_claimed_until FROM webhook_events WHERE id = \(bind: event.rawValue)\(unsafeRaw: kind.forUpdate)
                """).first() else { return nil }
            var claimed = false
            if try row.decode(column: "value_state", as: String.self) == PushedValueState.pending.rawValue,
               (try row.optional("value_claimed_until", as: Int64.self) ?? 0) < now.millisecondsSinceEpoch {
                try await db.raw("""
                    UPDATE webhook_events SET value_claimed_until = \(bind: until.millisecondsSinceEpoch) WHERE id = \(bind: event.rawValue)
                    """).run()
                claimed = true
            }
            guard let stored = try await Self.events(ids: [event.rawValue], on: db)[event.rawValue] else { return nil }
            return (stored, claimed)
        }
    }

    /// Pins what a `record.updated` event's first delivery disclosed (or why the value was withheld), so every attempt
    /// and every endpoint sends the same body. The first pin wins.
    public func pinPushedValue(of event: WebhookEventID, state: PushedValueState, version: Int64?, note: String?) async throws -> WebhookEvent? {
        let kind = self.kind
        return try await write { db in
            _ = try await db.raw("SELECT id FROM webhook_events WHERE id = \(bind: event.rawValue)\(unsafeRaw: kind.forUpdate)").first()
            try await db.raw("""
                UPDATE webhook_events SET value_state = \(bind: state.rawValue), value_version = \(bind: version), value_note = \(bind: note)
                WHERE id = \(bind: event.rawValue) AND value_state = 'pending'
                """).run()
            return try await Self.events(ids: [event.rawValue], on: db)[event.rawValue]
        }
    }

    /// Sends a delivery again from the start of the retry schedule (delivered or failed ones; a pending one is
    /// already on its way). The event keeps its id, so receivers that saw it before can recognise it.
    public func replayDelivery(event: WebhookEventID, endpoint: WebhookEndpointID, of organisation: OrganisationID, at now: Timestamp) async throws -> WebhookDelivery {
        let kind = self.kind
        return try await write { db in
            guard let row = try await db.raw("""
                SELECT d.state, e.disabled_at FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
                WHERE d.event_id = \(bind: event.rawValue) AND d.endpoint_id = \(bind: endpoint.rawValue)
                  AND d.organisation_id = \(bind: organisation.rawValue)\(unsafeRaw: kind.forUpdate)
                """).first() else {
                throw DomainError.notFound(what: "webhook delivery", id: "\(event.rawValue) to \(endpoint.rawValue)")
            }
            guard try row.decodeNil(column: "disabled_at") else {
                throw DomainError.conflict("the endpoint was deleted, so nothing more is sent to it (events go to the endpoints subscribed when they happened)")
            }
            guard try row.decode(column: "state", as: String.self) != WebhookDelivery.State.pending.rawValue else {
                throw DomainError.conflict("the delivery is still pending: it is being retried on its schedule")
            }
            try await db.raw("""
                UPDATE webhook_deliveries SET state = 'pending', schedule_base = attempts, next_attempt_at = \(bind: now.millisecondsSinceEpoch),
                       delivered_at = NULL
                WHERE event_id = \(bind: event.rawValue) AND endpoint_id = \(bind: endpoint.rawValue)
                """).run()
            guard let delivery = try await Self.deliveries(db.select().column("*").from("webhook_deliveries")
                .where("event_id", .equal, event.rawValue).where("endpoint_id", .equal, endpoint.rawValue)).first else {
                throw StorageError.corrupt("a replayed delivery vanished")
            }
            return delivery
        }
    }

    // MARK: The delivery log

    /// An organisation's deliveries, newest event first (event ids are time-ordered), optionally in one state or to one
    /// endpoint; `before` pages on from the last delivery of the previous page.
    public func webhookDeliveries(of organisation: OrganisationID, state: WebhookDelivery.State? = nil, endpoint: WebhookEndpointID? = nil,
                                  before: (WebhookEventID, WebhookEndpointID)? = nil, limit: Int = 50) async throws -> [(WebhookDelivery, WebhookEvent)] {
        try await read { db in
            let query = db.select().column("*").from("webhook_deliveries").where("organisation_id", .equal, organisation.rawValue)
            if let state { query.where("state", .equal, state.rawValue) }
            if let endpoint { query.where("endpoint_id", .equal, endpoint.rawValue) }
            if let (event, endpoint) = before {
                query.where { $0.where("event_id", .lessThan, event.rawValue)
                    .orWhere { $0.where("event_id", .equal, event.rawValue).where("endpoint_id", .lessThan, endpoint.rawValue) } }
            }
            let deliveries = try await Self.deliveries(query.orderBy("event_id", .descending).orderBy("endpoint_id", .descending).limit(limit))
            let events = try await Self.events(ids: Array(Set(deliveries.map(\.eventID.rawValue))), on: db)
            return deliveries.compactMap { delivery in events[delivery.eventID.rawValue].map { (delivery, $0) } }
        }
    }

    /// One delivery with its event and every attempt, oldest first.
    public func webhookDelivery(event: WebhookEventID, endpoint: WebhookEndpointID, of organisation: OrganisationID) async throws
        -> (WebhookDelivery, WebhookEvent, [WebhookAttempt])? {
        try await read { db in
            guard let delivery = try await Self.deliveries(db.select().column("*").from("webhook_deliveries")
                .where("event_id", .equal, event.rawValue).where("endpoint_id", .equal, endpoint.rawValue)
                .where("organisation_id", .equal, organisation.rawValue)).first,
                let stored = try await Self.events(ids: [event.rawValue], on: db)[event.rawValue] else { return nil }
            let attempts = try await db.raw("""
                SELECT * FROM webhook_attempts WHERE event_id = \(bind: event.rawValue) AND endpoint_id = \(bind: endpoint.rawValue) ORDER BY attempt
                """).all().map { row in
                WebhookAttempt(attempt: try row.decode(column: "attempt", as: Int.self), startedAt: try row.timestamp("started_at"),
                               durationMilliseconds: try row.decode(column: "duration_ms", as: Int64.self),
                               status: try row.optional("status", as: Int.self), error: try row.optional("error", as: String.self))
            }
            return (delivery, stored, attempts)
        }
    }

    private static func deliveries(_ query: SQLSelectBuilder) async throws -> [WebhookDelivery] {
        try await query.all().map { row in
            WebhookDelivery(
                eventID: WebhookEventID(trusted: try row.decode(column: "event_id", as: String.self)),
                endpointID: WebhookEndpointID(trusted: try row.decode(column: "endpoint_id", as: String.self)),
                organisationID: OrganisationID(trusted: try row.decode(column: "organisation_id", as: String.self)),
                state: WebhookDelivery.State(rawValue: try row.decode(column: "state", as: String.self)) ?? .pending,
                attempts: try row.decode(column: "attempts", as: Int.self),
                nextAttemptAt: try row.optionalTimestamp("next_attempt_at"), lastAttemptAt: try row.optionalTimestamp("last_attempt_at"),
                lastStatus: try row.optional("last_status", as: Int.self), lastError: try row.optional("last_error", as: String.self),
                deliveredAt: try row.optionalTimestamp("delivered_at"), createdAt: try row.timestamp("created_at"))
        }
    }

    static func events(ids: [String], on db: any SQLDatabase) async throws -> [String: WebhookEvent] {
        guard !ids.isEmpty else { return [:] }
        var events: [String: WebhookEvent] = [:]
        for row in try await db.select().column("*").from("webhook_events").where("id", .in, ids).all() {
            guard let type = WebhookEventType(rawValue: try row.decode(column: "type", as: String.self)),
                  let valueState = PushedValueState(rawValue: try row.decode(column: "value_state", as: String.self)) else {
                throw StorageError.corrupt("a stored webhook event has an unknown type or value state")
            }
            let id = try row.decode(column: "id", as: String.self)
            events[id] = WebhookEvent(
                id: WebhookEventID(trusted: id), organisationID: OrganisationID(trusted: try row.decode(column: "organisation_id", as: String.self)),
                type: type, personID: try row.optional("person_id", as: String.self).map(PersonID.init(trusted:)),
                grantID: try row.optional("grant_id", as: String.self).map(GrantID.init(trusted:)),
                recordKey: try row.optional("record_key", as: String.self),
                payload: try JSONColumn.decode(JSONValue.self, try row.decode(column: "payload", as: String.self)),
                createdAt: try row.timestamp("created_at"), valueState: valueState, valueVersion: try row.optional("value_version", as: Int64.self),
                valueNote: try row.optional("value_note", as: String.self))
        }
        return events
    }

    /// One version of a record as stored (nil when that version is a deletion or gone).
    public func recordVersion(person: PersonID, key: String, version: Int64) async throws -> SealedRecord? {
        try await read { db in
            guard let row = try await db.raw("""
                SELECT * FROM record_versions WHERE person_id = \(bind: person.rawValue) AND key = \(bind: key) AND version = \(bind: version)
                """).first(), let ciphertext = try row.optional("ciphertext", as: Data.self) else { return nil }
            return SealedRecord(key: key, version: version, ciphertext: ciphertext, changedAt: try row.timestamp("changed_at"))
        }
    }
}
