import ArgumentParser
import Foundation
import ProfferCore
import ProfferServer
import ProfferStorage

/// `proffer org …`: the operator's organisation verbs, working directly on the database.
struct OrgCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "org", abstract: "Register and manage organisations.",
        subcommands: [Create.self, List.self, Verify.self, RotateSecret.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register an organisation and print its client credentials (the secret is shown once).")
        @OptionGroup var options: ServerOptions
        @Option(help: "The organisation's name.") var name: String
        @Option(help: "The organisation's DNS domain, e.g. bank.example.") var domain: String
        @Flag(help: "Mark the organisation as verified by the operator.") var verified = false

        func run() async throws {
            let (organisation, secret) = try await options.withStore { store in
                try await OrganisationRegistry(store: store).register(name: name, domain: domain, verified: verified)
            }
            print("id:            \(organisation.id)")
            print("client_id:     \(organisation.clientID)")
            print("client_secret: \(secret)")
            print("verified:      \(organisation.verified)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List organisations.")
        @OptionGroup var options: ServerOptions

        func run() async throws {
            for organisation in try await options.withStore({ try await $0.organisations() }) {
                print("\(organisation.id)  \(organisation.verified ? "verified  " : "unverified")  \(organisation.domain)  \(organisation.name)")
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Mark an organisation verified (or not, with --revoke).")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The organisation id (org_…).") var id: String
        @Flag(help: "Remove the verified mark.") var revoke = false

        func run() async throws {
            guard let organisationID = OrganisationID(id) else { throw ValidationError("\(id) is not an organisation id") }
            let organisation = try await options.withStore { try await $0.setVerified(!revoke, organisation: organisationID) }
            print("\(organisation.id) verified: \(organisation.verified)")
        }
    }

    struct RotateSecret: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-secret",
            abstract: "Replace an organisation's client secret and print the new one (shown once); the old one, and console sessions opened with it, stop working at once.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The organisation id (org_…).") var id: String

        func run() async throws {
            guard let organisationID = OrganisationID(id) else { throw ValidationError("\(id) is not an organisation id") }
            let (organisation, secret) = try await options.withStore { try await OrganisationRegistry(store: $0).rotateSecret(of: organisationID) }
            print("id:            \(organisation.id)")
            print("client_id:     \(organisation.clientID)")
            print("client_secret: \(secret)")
        }
    }
}

func describe(_ error: DomainError) -> String {
    switch error {
    case .invalid(let failure): failure.errors.map { "\($0.pointer.dropFirst()): \($0.detail)" }.joined(separator: "\n")
    case .conflict(let text), .unavailable(let text): text
    case .notFound(let what, let id): "no \(what) \(id)"
    case .personErased(let handle, let at): "\(handle) already closed their account at \(at)"
    default: "\(error)"
    }
}
