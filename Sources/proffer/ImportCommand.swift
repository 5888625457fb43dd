import ArgumentParser
import Foundation
import ProfferCore
import ProfferServer
import ProfferStorage

/// `proffer import FILE --handle H`: load a person's export (from this or another Proffer) into their fresh account.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Load an export archive (GET /v1/me/export) into a person's fresh account.",
        discussion: "The person signs up here first; their records with history, terms, rules and prices are loaded in one transaction, or nothing is. The same as POST /v1/me/import.")
    @OptionGroup var options: ServerOptions
    @Argument(help: "The ZIP archive.") var file: String
    @Option(help: "The handle of the account to load it into.") var handle: String

    func run() async throws {
        guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
        let configuration = try options.resolve()
        let logger = options.logger(configuration)
        let note = try await options.withStore(configuration, logger: logger) { store in
            do {
                let runtime = try await buildApplication(configuration: configuration, store: store, logger: logger)
                return try await runtime.importArchive(data, intoHandle: handle)
            } catch let refusal as ImportRefusal {
                throw ValidationError("not imported: \(refusal.description)")
            } catch DomainError.conflict(let reason) {
                throw ValidationError("not imported: \(reason)")
            }
        }
        print("imported into \(handle): \(note)")
    }
}
