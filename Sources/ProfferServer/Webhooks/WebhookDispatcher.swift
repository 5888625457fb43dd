import Foundation
import Logging
import NIOCore
import ProfferCore
import ProfferStorage
import ServiceLifecycle

/// Delivers the outbox: claims due deliveries (a lease keeps other workers and instances off them), builds each
/// event's body, signs it the Standard Webhooks way and sends it; then logs the attempt and schedules the next one
/// (exponential back-off with jitter) or marks the delivery delivered or, after the last retry, failed.
struct WebhookDispatcher: Service {
    let services: Services
    let logger: Logger
    /// Attempts under way at once, in all and per endpoint: a slow endpoint holds at most its own share, never the
    /// whole dispatcher, so every other organisation's events keep flowing.
    let maxInFlight = 32
    let maxInFlightPerEndpoint = 4

    /// Runs until graceful shutdown: claims due deliveries whenever a slot is free (at once when an attempt ends,
    /// otherwise every poll interval), sends each in its own task, and stops on shutdown. An attempt cut short by the
    /// shutdown is not recorded; its lease runs out and it is attempted again (at least once). The HTTP client lives
    /// only as long as this loop, so a server built but never run (tests, tools) holds none.
    func run() async throws {
        let sender = WebhookSender(timeoutSeconds: services.configuration.webhookTimeoutSeconds,
                                   allowPrivateTargets: services.configuration.webhookAllowPrivateTargets)
        let poll = Duration.milliseconds(services.configuration.webhookPollMilliseconds)
        // The lease outlasts the attempt's deadline, so a live worker always reports before anyone else may claim.
        let lease = services.configuration.webhookTimeoutSeconds + 30
        await withTaskGroup(of: WebhookEndpointID?.self) { group in
            var inFlight: [WebhookEndpointID: Int] = [:]
            var total = 0
            var timerPending = false
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                if total < maxInFlight {
                    let saturated = Set(inFlight.filter { $0.value >= maxInFlightPerEndpoint }.keys)
                    do {
                        for claim in try await services.store.claimDueDeliveries(at: .now(), leaseSeconds: lease, limit: maxInFlight - total,
                                                                                 excludingEndpoints: saturated) {
                            inFlight[claim.endpointID, default: 0] += 1
                            total += 1
                            group.addTask {
                                await attempt(claim, with: sender)
                                return claim.endpointID
                            }
                        }
                    } catch {
                        logger.warning("claiming webhook deliveries failed; will retry", metadata: ["error.type": "\(type(of: error))"])
                    }
                }
                if !timerPending {
                    timerPending = true
                    group.addTask {
                        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: poll) }
                        return nil
                    }
                }
                guard let finished = await group.next() else { break }
                if let endpoint = finished {
                    inFlight[endpoint, default: 1] -= 1
                    if inFlight[endpoint] == 0 { inFlight[endpoint] = nil }
                    total -= 1
                } else {
                    timerPending = false
                }
            }
            group.cancelAll()
        }
        await sender.shutdown()
    }

    /// One attempt of one delivery, reported to the store whatever happens.
    func attempt(_ claim: ClaimedDelivery, with sender: WebhookSender) async {
        let started = Timestamp.now()
        let clock = ContinuousClock.now
        var result: WebhookSender.Result
        do {
            let body = try await body(of: claim.event)
            let secret = try services.vault.masterKey.openWebhookSecret(claim.sealedSecret, for: claim.endpointID)
            let timestamp = Int64(Date().timeIntervalSince1970)
            let id = claim.event.id.rawValue
            result = await sender.send(to: claim.url, headers: [
                ("content-type", "application/json"),
                ("user-agent", "Proffer-Webhooks/1"),
                ("webhook-id", id),
                ("webhook-timestamp", String(timestamp)),
                ("webhook-signature", secret.signature(id: id, timestamp: timestamp, body: body.readableBytesView)),
            ], body: body)
        } catch {
            logger.warning("a webhook body could not be built", metadata: ["error.type": "\(type(of: error))"])
            result = WebhookSender.Result(status: nil, error: "the event could not be prepared; it will be retried")
        }
        // Cut short by shutdown: leave it leased; it is attempted again when the lease runs out.
        if Task.isCancelled { return }
        let elapsed = ContinuousClock.now - clock
        let attempt = WebhookAttempt(attempt: claim.attempt, startedAt: started,
                                     durationMilliseconds: elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000,
                                     status: result.status, error: result.error)
        let outcome: DeliveryOutcome = if attempt.succeeded {
            .delivered
        } else if let delay = services.configuration.webhookRetrySchedule.delay(after: claim.scheduleAttempt) {
            .retry(at: Timestamp(millisecondsSinceEpoch: Timestamp.now().millisecondsSinceEpoch + Int64(delay * 1000)))
        } else {
            .failed
        }
        do {
            try await services.store.recordAttempt(event: claim.event.id, endpoint: claim.endpointID, attempt, outcome: outcome)
        } catch {
            // The lease runs out and the attempt is made again: at least once.
            logger.warning("a webhook attempt could not be recorded", metadata: ["error.type": "\(type(of: error))"])
        }
    }

    /// The body an attempt of an event sends: `{"type", "timestamp", "data"}`, the same bytes each time while nothing
    /// changes. A `record.updated` event of a grant that pushes values carries the value, disclosed once — audited in
    /// the person's log and charged like a read on a priced grant — on the first attempt and pinned from then on, but
    /// only while the grant stays active.
    func body(of stored: WebhookEvent) async throws -> ByteBuffer {
        var event = stored
        if event.valueState == .pending { event = try await pushedValue(of: event) }
        var data: [String: JSONValue] = if case .object(let fields) = event.payload { fields } else { [:] }
        switch event.valueState {
        case .disclosed:
            // Every attempt and replay sends the value only while the grant is active: a grant revoked (or expired, or
            // suspended) after the value was disclosed but before the organisation received it gets the fact alone.
            var live = false
            if let grantID = event.grantID, let grant = try await services.store.grant(id: grantID) { live = grant.status(at: .now()) == .active }
            if !live {
                data["valueWithheld"] = .string("the grant is no longer active, so the value is not sent")
            } else if let person = event.personID, let key = event.recordKey, let version = event.valueVersion,
               let sealed = try await services.store.recordVersion(person: person, key: key, version: version) {
                data["value"] = try services.vault.open(sealed, with: try await services.person(person).dataKey)
                data["valueVersion"] = .integer(version)
            } else {
                // Erased since: the value is gone for good.
                data["valueWithheld"] = .string("the value no longer exists")
            }
        case .withheld:
            data["valueWithheld"] = .string(event.valueNote ?? "the value could not be disclosed")
        case .notPushed, .pending:
            break
        }
        let envelope: JSONValue = .object(["type": .string(event.type.rawValue), "timestamp": .string(event.createdAt.rfc3339), "data": .object(data)])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return ByteBuffer(bytes: try encoder.encode(envelope))
    }

    struct ValueBeingPrepared: Error {}

    /// The event with its pushed value settled: disclosed by this worker when it gets the hold, or by the worker that
    /// holds it (another endpoint's attempt, another instance) — waited for briefly, else this attempt is retried.
    private func pushedValue(of event: WebhookEvent) async throws -> WebhookEvent {
        for _ in 0..<50 {
            let now = Timestamp.now()
            guard let (current, claimed) = try await services.store.claimPushedValue(
                of: event.id, until: now.adding(seconds: services.configuration.webhookTimeoutSeconds + 30), at: now) else { return event }
            if current.valueState != .pending { return current }
            if claimed { return try await disclosePushedValue(of: current) }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ValueBeingPrepared()
    }

    /// Discloses a pushed value through the ordinary disclosure path (grant still active, paid, audited) and pins the
    /// version sent; a refusal pins the reason instead. Retried after a crash before the pin, a priced push is not
    /// charged twice (the event id is the disclosure's idempotency key).
    private func disclosePushedValue(of event: WebhookEvent) async throws -> WebhookEvent {
        guard let grant = event.grantID, let key = event.recordKey else {
            return try await pin(event, .withheld, version: nil, note: "the event names no grant")
        }
        do {
            let disclosure = try await services.store.disclose(grant: grant, organisation: event.organisationID, keys: [key],
                                                               idempotencyKey: "webhook-\(event.id.rawValue)",
                                                               channel: "pushed in webhook event \(event.id.rawValue)", at: .now())
            guard let record = disclosure.records.first(where: { $0.key == key }) else {
                return try await pin(event, .withheld, version: nil, note: "the record was deleted before it could be sent")
            }
            return try await pin(event, .disclosed, version: record.version, note: nil)
        } catch let error as DomainError {
            let note: String = switch error {
            case .paymentRequired: "the organisation's wallet could not pay for the value; read it from the grant once funded"
            case .grantNotActive(_, let status, _): "the grant is \(status.rawValue), so the value was not sent"
            default: "the value could not be disclosed"
            }
            return try await pin(event, .withheld, version: nil, note: note)
        } catch is LedgerError {
            return try await pin(event, .withheld, version: nil, note: "the value could not be disclosed")
        }
    }

    private func pin(_ event: WebhookEvent, _ state: PushedValueState, version: Int64?, note: String?) async throws -> WebhookEvent {
        try await services.store.pinPushedValue(of: event.id, state: state, version: version, note: note) ?? event
    }
}

