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
    /// How many deliveries one claim takes, sent concurrently.
    let batchSize = 32

    /// Runs until graceful shutdown. The HTTP client lives only as long as this loop, so a server built but never
    /// run (tests, tools) holds none.
    func run() async throws {
        let sender = WebhookSender(timeoutSeconds: services.configuration.webhookTimeoutSeconds,
                                   allowPrivateTargets: services.configuration.webhookAllowPrivateTargets)
        await runPeriodically(every: .milliseconds(services.configuration.webhookPollMilliseconds), logger: logger, failure: "webhook delivery failed") {
            let sent = try await deliverDue(with: sender)
            if sent > 0 { logger.debug("webhook attempts made", metadata: ["attempts": "\(sent)"]) }
        }
        await sender.shutdown()
    }

    /// Makes every attempt due now; returns how many were made.
    @discardableResult
    func deliverDue(with sender: WebhookSender) async throws -> Int {
        var made = 0
        while !Task.isShuttingDownGracefully {
            // The lease outlasts the attempt's deadline, so a live worker always reports before anyone else may claim.
            let claims = try await services.store.claimDueDeliveries(at: .now(), leaseSeconds: services.configuration.webhookTimeoutSeconds + 30,
                                                                     limit: batchSize)
            if claims.isEmpty { break }
            await withTaskGroup(of: Void.self) { group in
                for claim in claims {
                    group.addTask { await attempt(claim, with: sender) }
                }
            }
            made += claims.count
            if claims.count < batchSize { break }
        }
        return made
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

    /// The body every attempt of an event sends: `{"type", "timestamp", "data"}`, the same bytes each time. A
    /// `record.updated` event of a grant that pushes values carries the value, disclosed once — audited in the
    /// person's log and charged like a read on a priced grant — on the first attempt, and pinned from then on.
    func body(of stored: WebhookEvent) async throws -> ByteBuffer {
        var event = stored
        if event.valueState == .pending { event = try await disclosePushedValue(of: event) }
        var data: [String: JSONValue] = if case .object(let fields) = event.payload { fields } else { [:] }
        switch event.valueState {
        case .disclosed:
            if let person = event.personID, let key = event.recordKey, let version = event.valueVersion,
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
