import Foundation
import ProfferCore
import ProfferStorage
import ProfferTestSupport
import SQLKit
import Testing

/// The storage contract for webhooks: events written in the transaction of their change (and only then), only to
/// subscribed endpoints, `record.updated` only for organisations whose active grant covers the key; deliveries
/// claimed under a lease that no other worker — on PostgreSQL another instance — can take at the same time.
@Suite("Storage contract: webhook outbox")
struct WebhookOutboxStoreTests {
    static let engines = TestEngine.available

    static func endpoint(_ store: ProfferStore, _ organisation: Organisation, _ types: [WebhookEventType] = WebhookEventType.allCases) async throws -> WebhookEndpoint {
        let endpoint = WebhookEndpoint(id: .generate(), organisationID: organisation.id, url: "https://hooks.example.net/\(UUID().uuidString)",
                                       description: "test", eventTypes: types, createdAt: .now())
        try await store.createWebhookEndpoint(endpoint, sealedSecret: Data([1, 2, 3]))
        return endpoint
    }

    static func grant(_ store: ProfferStore, _ organisation: Organisation, _ person: Person, keys: [String], pushValues: Bool = false) async throws -> Grant {
        let now = Timestamp.now()
        let request = DataRequest(id: .generate(), organisationID: organisation.id, personID: person.id, keys: keys, purpose: "ServiceProvision",
                                  retentionDays: 30, thirdParties: [], durationDays: 30, reason: "test", state: .pending, createdAt: now,
                                  decidedAt: nil, grantID: nil, pushValues: pushValues)
        try await store.createRequest(request)
        let grant = Grant(id: .generate(), requestID: request.id, organisationID: organisation.id, personID: person.id, keys: keys,
                          purpose: request.purpose, retentionDays: 30, thirdParties: [], createdAt: now, expiresAt: now.adding(days: 30),
                          revokedAt: nil, pushValues: pushValues)
        return try await store.grantRequest(grant, by: person.id)
    }

    static func events(_ store: ProfferStore, _ organisation: Organisation) async throws -> [WebhookEvent] {
        try await store.webhookDeliveries(of: organisation.id, limit: 200).map(\.1)
    }

    static func put(_ store: ProfferStore, _ person: Person, _ key: String) async throws {
        _ = try await store.putRecord(person: person.id, key: key, at: .now()) { _ in Data("sealed".utf8) }
    }

    @Test(arguments: engines)
    func eventsGoOnlyToSubscribedEndpointsAndPermittedOrganisations(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let person = try await StoreContractTests.makePerson(store)
            let pushing = try await StoreContractTests.makeOrganisation(store)
            let telling = try await StoreContractTests.makeOrganisation(store)
            let otherKey = try await StoreContractTests.makeOrganisation(store)
            let revoked = try await StoreContractTests.makeOrganisation(store)
            let unsubscribed = try await StoreContractTests.makeOrganisation(store)
            for organisation in [pushing, telling, otherKey, revoked] { _ = try await Self.endpoint(store, organisation) }
            _ = try await Self.endpoint(store, unsubscribed, [.grantRevoked])

            _ = try await Self.grant(store, pushing, person, keys: ["address.home", "contact.email"], pushValues: true)
            _ = try await Self.grant(store, telling, person, keys: ["address.home"])
            _ = try await Self.grant(store, otherKey, person, keys: ["contact.email"])
            let gone = try await Self.grant(store, revoked, person, keys: ["address.home"])
            _ = try await store.revokeGrant(gone.id, by: person.id, reason: nil, at: .now())
            _ = try await Self.grant(store, unsubscribed, person, keys: ["address.home"])

            try await Self.put(store, person, "address.home")

            let pushed = try await Self.events(store, pushing).filter { $0.type == .recordUpdated }
            #expect(pushed.count == 1)
            #expect(pushed.first?.valueState == .pending, "a grant that pushes values gets the value disclosed on delivery")
            #expect(pushed.first?.recordKey == "address.home")
            let told = try await Self.events(store, telling).filter { $0.type == .recordUpdated }
            #expect(told.count == 1)
            #expect(told.first?.valueState == .notPushed, "without push, only the fact")
            #expect(try await Self.events(store, otherKey).filter { $0.type == .recordUpdated }.isEmpty, "not covered by its grant")
            #expect(try await Self.events(store, revoked).filter { $0.type == .recordUpdated }.isEmpty, "its grant was revoked")
            #expect(try await Self.events(store, revoked).map(\.type).contains(.grantRevoked))
            #expect(try await Self.events(store, unsubscribed).isEmpty, "subscribed to grant.revoked only, and nothing was revoked for it")
            // Lifecycle events came with the changes that caused them.
            #expect(Set(try await Self.events(store, telling).map(\.type)) == [.requestDecided, .grantCreated, .recordUpdated])
            // Nothing in any payload is a record's value: the store never saw one in plaintext anyway, and the payload
            // holds only names, ids and times.
            if case .object(let data) = told.first?.payload {
                #expect(data["value"] == nil)
                #expect(data["key"] == .string("address.home"))
            } else {
                Issue.record("payload is not an object")
            }
        }
    }

    @Test(arguments: engines)
    func aFailedChangeWritesNoEvent(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let person = try await StoreContractTests.makePerson(store)
            let organisation = try await StoreContractTests.makeOrganisation(store)
            _ = try await Self.endpoint(store, organisation)
            let grant = try await Self.grant(store, organisation, person, keys: ["contact.email"])
            _ = try await store.revokeGrant(grant.id, by: person.id, reason: nil, at: .now())
            let before = try await Self.events(store, organisation).count
            await #expect(throws: DomainError.self) { _ = try await store.revokeGrant(grant.id, by: person.id, reason: nil, at: .now()) }
            await #expect(throws: DomainError.self) { _ = try await store.refuseRequest(grant.requestID, by: person.id, note: nil, at: .now()) }
            #expect(try await Self.events(store, organisation).count == before, "a refused change is rolled back with its events")
        }
    }

    @Test(arguments: engines)
    func aClaimedAttemptIsNeverClaimedTwiceWhileLeased(engine: TestEngine) async throws {
        try await PricedDisclosureStoreTests.withTwoInstances(engine) { store, other in
            let person = try await StoreContractTests.makePerson(store)
            let organisation = try await StoreContractTests.makeOrganisation(store)
            _ = try await Self.endpoint(store, organisation)
            _ = try await Self.endpoint(store, organisation, [.recordUpdated])
            _ = try await Self.grant(store, organisation, person, keys: ["contact.email"])
            for _ in 0..<10 { try await Self.put(store, person, "contact.email") }
            let due = try await store.webhookDeliveries(of: organisation.id, state: .pending, limit: 200).count
            #expect(due == 2 + 20, "request.decided and grant.created to the first endpoint, 10 record changes to both")

            // Many workers on two instances claim at once: every delivery is claimed exactly once.
            let now = Timestamp.now()
            let claims = try await withThrowingTaskGroup(of: [ClaimedDelivery].self, returning: [ClaimedDelivery].self) { group in
                for worker in 0..<8 {
                    group.addTask { try await (worker % 2 == 0 ? store : other).claimDueDeliveries(at: now, leaseSeconds: 60, limit: 5) }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            let keys = claims.map { "\($0.event.id)|\($0.endpointID)" }
            #expect(Set(keys).count == keys.count, "no delivery claimed twice")
            #expect(keys.count == due, "every due delivery claimed")
            #expect(claims.allSatisfy { $0.attempt == 1 && $0.scheduleAttempt == 1 })
            // Under lease: nothing more to claim, until the lease runs out.
            #expect(try await store.claimDueDeliveries(at: now.adding(seconds: 59), leaseSeconds: 60, limit: 100).isEmpty)
            let again = try await other.claimDueDeliveries(at: now.adding(seconds: 61), leaseSeconds: 60, limit: 100)
            #expect(again.count == due, "a worker that died mid-attempt leaves its deliveries to be attempted again")
            #expect(again.allSatisfy { $0.attempt == 2 })
        }
    }

    @Test(arguments: engines)
    func attemptsMoveADeliveryOnAndAReplayStartsTheScheduleAgain(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let person = try await StoreContractTests.makePerson(store)
            let organisation = try await StoreContractTests.makeOrganisation(store)
            let stranger = try await StoreContractTests.makeOrganisation(store)
            let endpoint = try await Self.endpoint(store, organisation, [.grantCreated])
            _ = try await Self.grant(store, organisation, person, keys: ["contact.email"])
            let now = Timestamp.now()
            var claim = try #require(try await store.claimDueDeliveries(at: now, leaseSeconds: 60, limit: 10).first)
            try await store.recordAttempt(event: claim.event.id, endpoint: endpoint.id,
                                          WebhookAttempt(attempt: 1, startedAt: now, durationMilliseconds: 12, status: 500, error: "the endpoint answered 500"),
                                          outcome: .retry(at: now.adding(seconds: 5)))
            #expect(try await store.claimDueDeliveries(at: now.adding(seconds: 4), leaseSeconds: 60, limit: 10).isEmpty, "not due before its retry time")
            claim = try #require(try await store.claimDueDeliveries(at: now.adding(seconds: 5), leaseSeconds: 60, limit: 10).first)
            #expect(claim.attempt == 2)
            try await store.recordAttempt(event: claim.event.id, endpoint: endpoint.id,
                                          WebhookAttempt(attempt: 2, startedAt: now, durationMilliseconds: 2000, status: nil, error: "no answer within the timeout"),
                                          outcome: .failed)
            var (delivery, _, attempts) = try #require(try await store.webhookDelivery(event: claim.event.id, endpoint: endpoint.id, of: organisation.id))
            #expect(delivery.state == .failed)
            #expect(attempts.map(\.status) == [500, nil])
            #expect(delivery.lastError == "no answer within the timeout")
            // Only its organisation sees or replays it.
            #expect(try await store.webhookDelivery(event: claim.event.id, endpoint: endpoint.id, of: stranger.id) == nil)
            await #expect(throws: DomainError.self) { _ = try await store.replayDelivery(event: claim.event.id, endpoint: endpoint.id, of: stranger.id, at: now) }

            delivery = try await store.replayDelivery(event: claim.event.id, endpoint: endpoint.id, of: organisation.id, at: now.adding(seconds: 10))
            #expect(delivery.state == .pending)
            await #expect(throws: DomainError.self, "a pending delivery is already on its way") {
                _ = try await store.replayDelivery(event: claim.event.id, endpoint: endpoint.id, of: organisation.id, at: now)
            }
            claim = try #require(try await store.claimDueDeliveries(at: now.adding(seconds: 10), leaseSeconds: 60, limit: 10).first)
            #expect(claim.attempt == 3)
            #expect(claim.scheduleAttempt == 1, "a replay starts the retry schedule again")
            // A late report from the attempt before does not undo the newer attempt's lease...
            try await store.recordAttempt(event: claim.event.id, endpoint: endpoint.id,
                                          WebhookAttempt(attempt: 2, startedAt: now, durationMilliseconds: 1, status: 503, error: "late"), outcome: .failed)
            #expect(try await store.webhookDelivery(event: claim.event.id, endpoint: endpoint.id, of: organisation.id)?.0.state == .pending)
            try await store.recordAttempt(event: claim.event.id, endpoint: endpoint.id,
                                          WebhookAttempt(attempt: 3, startedAt: now, durationMilliseconds: 8, status: 204, error: nil), outcome: .delivered)
            (delivery, _, attempts) = try #require(try await store.webhookDelivery(event: claim.event.id, endpoint: endpoint.id, of: organisation.id))
            #expect(delivery.state == .delivered)
            #expect(delivery.deliveredAt != nil)
            #expect(attempts.map(\.attempt) == [1, 2, 3])
        }
    }

    @Test(arguments: engines)
    func deletingAnEndpointStopsItsDeliveriesAndKeepsTheLog(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let person = try await StoreContractTests.makePerson(store)
            let organisation = try await StoreContractTests.makeOrganisation(store)
            let stranger = try await StoreContractTests.makeOrganisation(store)
            let endpoint = try await Self.endpoint(store, organisation)
            _ = try await Self.grant(store, organisation, person, keys: ["contact.email"])
            await #expect(throws: DomainError.self, "another organisation's endpoint") {
                try await store.deleteWebhookEndpoint(endpoint.id, of: stranger.id, at: .now())
            }
            try await store.deleteWebhookEndpoint(endpoint.id, of: organisation.id, at: .now())
            #expect(try await store.claimDueDeliveries(at: .now(), leaseSeconds: 60, limit: 10).isEmpty)
            let log = try await store.webhookDeliveries(of: organisation.id)
            #expect(log.count == 2)
            #expect(log.allSatisfy { $0.0.state == .failed && $0.0.lastError == "the endpoint was deleted" })
            #expect(try await store.webhookEndpoints(of: organisation.id).first?.disabledAt != nil)
            // Later changes send it nothing.
            try await Self.put(store, person, "contact.email")
            #expect(try await store.webhookDeliveries(of: organisation.id).count == 2)
        }
    }

    @Test(arguments: engines)
    func expiryAndSuspensionAreEventsOfTheirOwnTransactions(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let person = try await StoreContractTests.makePerson(store)
            let organisation = try await StoreContractTests.makeOrganisation(store)
            _ = try await Self.endpoint(store, organisation, [.grantExpired, .grantSuspended])
            // A grant already past its end: the expiry job records it once, with its event.
            let then = Timestamp.now().adding(days: -40)
            let request = DataRequest(id: .generate(), organisationID: organisation.id, personID: person.id, keys: ["contact.email"],
                                      purpose: "ServiceProvision", retentionDays: 30, thirdParties: [], durationDays: 30, reason: "test",
                                      state: .pending, createdAt: then, decidedAt: nil, grantID: nil)
            try await store.createRequest(request)
            let expired = try await store.grantRequest(Grant(id: .generate(), requestID: request.id, organisationID: organisation.id, personID: person.id,
                                                             keys: request.keys, purpose: request.purpose, retentionDays: 30, thirdParties: [],
                                                             createdAt: then, expiresAt: then.adding(days: 30), revokedAt: nil), by: person.id)
            let receipt = ReceiptRecord(id: .generate(), personID: person.id, organisationID: organisation.id, requestID: request.id, grantID: expired.id,
                                        event: .expired, kid: "k", jws: "x.y.z", issuedAt: .now())
            #expect(try await store.recordExpiry(of: expired, receipt: receipt, at: .now()))
            #expect(try await store.recordExpiry(of: expired, receipt: receipt, at: .now()) == false, "recorded once")
            var events = try await Self.events(store, organisation)
            #expect(events.map(\.type) == [.grantExpired], "subscribed to expiry and suspension only; one expiry")
            #expect(events.first?.grantID == expired.id)

            // A per-month grant whose organisation cannot pay is suspended, with its event, once. It runs 90 days, so its
            // first period is a whole calendar month whatever today's date (a 30-day grant pays 30/31 of a 31-day month).
            let monthly = try await PricedDisclosureStoreTests.pricedGrant(store, organisation, person,
                                                                           offer: .price(.perMonth, Money(minorUnits: 500, currency: "EUR")), days: 90)
            #expect(monthly.suspendedAt != nil, "the first month could not be paid")
            _ = try await store.chargeDuePeriods(at: .now())
            events = try await Self.events(store, organisation)
            let suspended = events.filter { $0.type == .grantSuspended }
            #expect(suspended.count == 1)
            if case .object(let data)? = suspended.first?.payload {
                #expect(data["amountDue"] == .object(["amount": .integer(500), "currency": .string("EUR")]))
            } else {
                Issue.record("no suspension payload")
            }
        }
    }


    @Test(arguments: engines)
    func erasureTellsEveryOrganisationThatEverHeldAGrant(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let person = try await StoreContractTests.makePerson(store)
            let live = try await StoreContractTests.makeOrganisation(store)
            let former = try await StoreContractTests.makeOrganisation(store)
            let stranger = try await StoreContractTests.makeOrganisation(store)
            for organisation in [live, former, stranger] { _ = try await Self.endpoint(store, organisation) }
            let liveGrant = try await Self.grant(store, live, person, keys: ["contact.email"])
            let formerGrant = try await Self.grant(store, former, person, keys: ["contact.email"])
            _ = try await store.revokeGrant(formerGrant.id, by: person.id, reason: nil, at: .now())
            let pending = try await StoreContractTests.makeRequest(store, live, person)

            _ = try await store.closeAccount(person: person.id, at: .now())

            let toLive = try await Self.events(store, live)
            let erased = try #require(toLive.first { $0.type == .personErased })
            if case .object(let data) = erased.payload {
                #expect(data["grantIds"] == .array([.string(liveGrant.id.rawValue)]))
                #expect(data["person"] == .string(person.handle))
            } else {
                Issue.record("no payload")
            }
            #expect(toLive.contains { $0.type == .grantRevoked && $0.grantID == liveGrant.id }, "the live grant's revocation is told too")
            #expect(toLive.contains { $0.type == .requestDecided && {
                if case .object(let data) = $0.payload { data["requestId"] == .string(pending.id.rawValue) && data["state"] == .string("refused") } else { false }
            }($0) })
            #expect(try await Self.events(store, former).contains { $0.type == .personErased }, "a former holder may still keep data: it is told")
            #expect(try await Self.events(store, stranger).isEmpty, "an organisation that never held a grant hears nothing")
        }
    }

}
