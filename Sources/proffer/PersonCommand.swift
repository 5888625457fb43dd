import ArgumentParser
import Foundation
import ProfferCore
import ProfferServer
import ProfferStorage

/// `proffer person …`: the operator's verbs on a person's account, working directly on the database.
struct PersonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "person", abstract: "Act on a person's account.",
        subcommands: [Erase.self]
    )

    struct Erase: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Close a person's account: revoke their grants, erase their data and destroy their data key.",
            discussion: """
                The same as the person's POST /v1/me/close, done by the operator (the person's audit log says so). Live \
                grants are revoked and pending requests refused, each with a consent receipt; records and their history, \
                tokens, terms, rules and prices are deleted and the wrapped data key destroyed, so no backup can bring the \
                records back. The handle stays reserved. This cannot be undone: without --yes, type the handle to confirm.
                """)
        @OptionGroup var options: ServerOptions
        @Option(help: "The handle of the person whose account to close.") var handle: String
        @Flag(help: "Do not ask for confirmation.") var yes = false

        func run() async throws {
            if !yes {
                print("This erases \(handle)'s data for good. Type the handle to confirm: ", terminator: "")
                guard readLine()?.trimmingCharacters(in: .whitespaces) == handle else {
                    throw ValidationError("not confirmed; nothing was changed")
                }
            }
            let configuration = try options.resolve()
            let logger = options.logger(configuration)
            let closure = try await options.withStore(configuration, logger: logger) { store in
                do {
                    let runtime = try await buildApplication(configuration: configuration, store: store, logger: logger)
                    return try await runtime.eraseAccount(handle: handle)
                } catch let error as DomainError {
                    throw ValidationError("not erased: \(describe(error))")
                }
            }
            print("erased \(closure.handle) (\(closure.personID)) at \(closure.erasedAt)")
            print("grants revoked:     \(closure.revokedGrants.count)")
            print("requests refused:   \(closure.refusedRequests.count)")
            print("record versions:    \(closure.recordVersionsDeleted) deleted")
            print("organisations told: \(closure.notices.count)")
        }
    }
}
