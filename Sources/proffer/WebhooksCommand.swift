import ArgumentParser
import Foundation
import ProfferCore
import ProfferServer
import ProfferStorage

/// `proffer webhooks …`: what an operator needs when an organisation asks "did you send it?" — its endpoints, the
/// delivery log with each attempt, and a replay. On the database directly; safe while servers run.
struct WebhooksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "webhooks", abstract: "Organisations' webhook endpoints and deliveries.",
                                                    subcommands: [List.self, Deliveries.self, Show.self, Replay.self])

    static func organisation(_ text: String) throws -> OrganisationID {
        guard let id = OrganisationID(text) else { throw ValidationError("\(text) is not an organisation id (org_…)") }
        return id
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "An organisation's endpoints (never their secrets).")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The organisation id (org_…).") var organisation: String

        func run() async throws {
            let id = try WebhooksCommand.organisation(organisation)
            let endpoints = try await options.withStore { try await $0.webhookEndpoints(of: id) }
            if endpoints.isEmpty { print("no webhook endpoints") }
            for endpoint in endpoints {
                let state = endpoint.disabledAt.map { "deleted \($0)" } ?? "active"
                print("\(endpoint.id)  \(state)  \(endpoint.url)  [\(endpoint.eventTypes.map(\.rawValue).joined(separator: ", "))]")
            }
        }
    }

    struct Deliveries: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "An organisation's delivery log, newest first.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The organisation id (org_…).") var organisation: String
        @Option(help: "Only deliveries in this state: pending, delivered or failed.") var state: String?
        @Option(help: "How many (1 to 1000).") var limit: Int = 50

        func run() async throws {
            let id = try WebhooksCommand.organisation(organisation)
            let wanted = try state.map { text in
                guard let state = WebhookDelivery.State(rawValue: text) else { throw ValidationError("--state must be pending, delivered or failed") }
                return state
            }
            guard (1...1000).contains(limit) else { throw ValidationError("--limit must be 1 to 1000") }
            let found = try await options.withStore { try await $0.webhookDeliveries(of: id, state: wanted, limit: limit) }
            if found.isEmpty { print("no deliveries") }
            for (delivery, event) in found {
                let last = delivery.lastStatus.map { "last \($0)" } ?? delivery.lastError.map { "last: \($0)" } ?? ""
                print("\(event.id) → \(delivery.endpointID)  \(event.type.rawValue)  \(delivery.state.rawValue)  \(delivery.attempts) attempt(s)  \(last)")
            }
        }
    }

    /// Which delivery: the organisation, the event and the endpoint.
    struct DeliveryArguments: ParsableArguments {
        @Argument(help: "The organisation id (org_…).") var organisation: String
        @Argument(help: "The event id (msg_…).") var event: String
        @Argument(help: "The endpoint id (whe_…).") var endpoint: String

        func ids() throws -> (OrganisationID, WebhookEventID, WebhookEndpointID) {
            guard let eventID = WebhookEventID(event), let endpointID = WebhookEndpointID(endpoint) else {
                throw ValidationError("give an event id (msg_…) and an endpoint id (whe_…)")
            }
            return (try WebhooksCommand.organisation(organisation), eventID, endpointID)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One delivery with every attempt.")
        @OptionGroup var options: ServerOptions
        @OptionGroup var delivery: DeliveryArguments

        func run() async throws {
            let (id, eventID, endpointID) = try delivery.ids()
            guard let (found, stored, attempts) = try await options.withStore({
                try await $0.webhookDelivery(event: eventID, endpoint: endpointID, of: id)
            }) else { throw ValidationError("no such delivery for \(id)") }
            print("\(stored.type.rawValue) \(stored.id) created \(stored.createdAt) → \(found.endpointID): \(found.state.rawValue)")
            for attempt in attempts {
                print("  #\(attempt.attempt) \(attempt.startedAt) \(attempt.durationMilliseconds) ms  \(attempt.status.map(String.init) ?? "-")  \(attempt.error ?? "ok")")
            }
            if let next = found.nextAttemptAt, found.state == .pending { print("  next attempt \(next)") }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send a delivered or failed delivery again (same event id and body).")
        @OptionGroup var options: ServerOptions
        @OptionGroup var delivery: DeliveryArguments

        func run() async throws {
            let (id, eventID, endpointID) = try delivery.ids()
            try await options.withStore { store in
                do {
                    _ = try await store.replayDelivery(event: eventID, endpoint: endpointID, of: id, at: .now())
                } catch DomainError.notFound {
                    throw ValidationError("no such delivery for \(id)")
                } catch DomainError.conflict(let reason) {
                    throw ValidationError(reason)
                }
            }
            print("queued: a running server sends it within a second or so")
        }
    }
}
