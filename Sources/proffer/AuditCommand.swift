import ArgumentParser
import Foundation
import ProfferCore
import ProfferServer
import ProfferStorage

/// `proffer audit verify`: check a person's hash chain, from the database or from a file of entries.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "Audit log tools.", subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify audit hash chains.",
            discussion: """
                With --handle, checks that person's chain in the database; with --all, every person's. With --file, \
                checks a JSON file holding the pages of GET /v1/me/audit (one page object, or an array of pages or entries).
                Exits non-zero when a chain is broken.
                """
        )
        @OptionGroup var options: ServerOptions
        @Option(help: "A person's handle.") var handle: String?
        @Flag(help: "Verify every person's chain.") var all = false
        @Option(help: "A JSON file of audit entries as served by GET /v1/me/audit.") var file: String?

        func run() async throws {
            if let file {
                let report = try verifyFile(file)
                print(summary(report, name: file))
                if !report.isValid { throw ExitCode(1) }
                return
            }
            guard handle != nil || all else { throw ValidationError("give --handle HANDLE, --all or --file FILE") }
            let broken = try await options.withStore { store in
                var people: [(PersonID, String)] = []
                if let handle {
                    guard let person = try await store.person(handle: handle) else { throw ValidationError("no person has the handle \(handle)") }
                    people = [(person.id, person.handle)]
                } else {
                    people = try await store.allPersonIDs()
                }
                return try await verify(people, in: store)
            }
            if broken > 0 { throw ExitCode(1) }
        }

        /// Checks each person's chain page by page and prints a line (or the problems) per person; returns how many
        /// chains are broken.
        func verify(_ people: [(PersonID, String)], in store: ProfferStore) async throws -> Int {
            var broken = 0
            for (id, name) in people {
                var entries: [AuditEntry] = []
                var after: Int64 = 0
                while true {
                    let page = try await store.auditEntries(for: id, after: after, limit: 1000)
                    entries += page
                    guard let last = page.last, page.count == 1000 else { break }
                    after = last.sequence
                }
                var report = AuditChainVerifier.verify(entries)
                let head = try await store.auditHead(for: id)
                if head.hash != report.headHash || head.sequence != entries.last?.sequence ?? 0 {
                    report.problems.append("the chain's head (\(head.sequence)) does not match its last entry: entries were removed")
                }
                if !report.isValid { broken += 1 }
                print(summary(report, name: name))
            }
            return broken
        }

        func summary(_ report: AuditChainVerifier.Report, name: String) -> String {
            if report.isValid { return "ok      \(name): \(report.entriesChecked) entries, head \(report.headHash)" }
            return "BROKEN  \(name):\n" + report.problems.map { "  - \($0)" }.joined(separator: "\n")
        }

        func verifyFile(_ path: String) throws -> AuditChainVerifier.Report {
            guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
            struct Page: Decodable { var personId: String; var entries: [FileEntry] }
            struct FileEntry: Decodable {
                var sequence: Int64; var kind: String; var actor: String; var organisation: String?; var request: String?
                var grant: String?; var keys: [String]; var note: String?; var at: Timestamp; var previousHash: String; var hash: String
            }
            let decoder = JSONDecoder()
            let pages: [Page]
            if let page = try? decoder.decode(Page.self, from: data) {
                pages = [page]
            } else if let many = try? decoder.decode([Page].self, from: data) {
                pages = many
            } else {
                throw ValidationError("\(path) is not a page (or an array of pages) from GET /v1/me/audit")
            }
            guard let first = pages.first, let personID = PersonID(first.personId) else { throw ValidationError("the file names no valid personId") }
            let entries = try pages.flatMap(\.entries).map { item in
                guard let kind = AuditKind(rawValue: item.kind) else { throw ValidationError("entry \(item.sequence) has an unknown kind") }
                let event = AuditEvent(
                    kind: kind, actor: item.actor, organisationID: item.organisation.map(OrganisationID.init(trusted:)),
                    requestID: item.request.map(RequestID.init(trusted:)), grantID: item.grant.map(GrantID.init(trusted:)),
                    keys: item.keys, note: item.note, at: item.at)
                var entry = AuditEntry(event: event, personID: personID, previousSequence: item.sequence - 1, previousHash: item.previousHash)
                entry.hash = item.hash
                return entry
            }
            return AuditChainVerifier.verify(entries)
        }
    }
}
