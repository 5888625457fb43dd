import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ProfferServer
import ProfferStorage

/// `proffer demo`: a server on a fresh database seeded with example people, organisations, requests and
/// grants; prints what to try.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a server seeded with example data and print credentials and curl lines to try.",
        discussion: "Without --data-dir the demo lives in a new temporary directory. A given data directory must not hold a database yet."
    )
    @OptionGroup var options: ServerOptions
    @Option(name: .customLong("credentials-file"), help: "Also write the demo credentials as JSON to this file (mode 0600).")
    var credentialsFile: String?

    func run() async throws {
        var configuration = try options.resolve()
        if options.dataDir == nil && ProcessInfo.processInfo.environment["PROFFER_DATA_DIR"] == nil {
            configuration.dataDirectory = FileManager.default.temporaryDirectory
                .appendingPathComponent("proffer-demo-\(UUID().uuidString.prefix(8))").path
        }
        if configuration.database == nil, FileManager.default.fileExists(atPath: configuration.resolvedDatabase.sqlitePath ?? "") {
            throw ValidationError("\(configuration.dataDirectory) already holds a database; the demo needs a fresh one")
        }
        // Demo accounts are throwaway: keep sign-up fast.
        configuration.bcryptCost = min(configuration.bcryptCost, 8)
        // The demo runs on one machine: let webhooks reach a plain-http receiver on it, unless told otherwise.
        let environment = ProcessInfo.processInfo.environment
        if environment["PROFFER_WEBHOOK_ALLOW_PRIVATE"] == nil { configuration.webhookAllowPrivateTargets = true }
        if environment["PROFFER_WEBHOOK_ALLOW_HTTP"] == nil { configuration.webhookAllowHTTP = true }
        let logger = options.logger(configuration)
        let base = configuration.publicURL ?? "http://\(configuration.host == "0.0.0.0" ? "127.0.0.1" : configuration.host):\(configuration.port)"
        try await options.withStore(configuration, logger: logger) { store in
            let runtime = try await buildApplication(configuration: configuration, store: store, logger: logger)
            let credentials = try await runtime.seedDemo(baseURL: base)
            if let credentialsFile {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                _ = FileManager.default.createFile(atPath: credentialsFile, contents: try encoder.encode(credentials), attributes: [.posixPermissions: 0o600])
            }
            print(DemoBanner.text(credentials, dataDirectory: configuration.dataDirectory))
            try await runtime.application.runService()
        }
    }
}

extension DatabaseLocation {
    var sqlitePath: String? {
        if case .sqlite(let path) = self { return path }
        return nil
    }
}

enum DemoBanner {
    static func text(_ c: DemoCredentials, dataDirectory: String) -> String {
        let alice = c.people[0]
        let bank = c.organisations[0]
        return """

        Proffer demo is running at \(c.base_url)   (data in \(dataDirectory); Ctrl-C stops it)

        In a browser: \(c.base_url)/ — sign in as a person below; \(c.base_url)/org/signin for an organisation's console
        (its client_id and client_secret); \(c.base_url)/directory for how organisations behave.

        People (email / password):
        \(c.people.map { "  \($0.handle): \($0.email) / \($0.password)" }.joined(separator: "\n"))
        Organisations (client_id / client_secret):
        \(c.organisations.map { "  \($0.name): \($0.client_id) / \($0.client_secret)" }.joined(separator: "\n"))
        Admin token: \(c.admin_token)

        Try, as alice (a session token):
          export ALICE=\(alice.token)
          curl -s \(c.base_url)/v1/me/records -H "Authorization: Bearer $ALICE"
          curl -s \(c.base_url)/v1/me/requests?state=pending -H "Authorization: Bearer $ALICE"
          curl -s \(c.base_url)/v1/me/audit -H "Authorization: Bearer $ALICE"

        Try, as Northwind Bank (OAuth 2.0 client credentials):
          export BANK=$(curl -s -u \(bank.client_id):\(bank.client_secret) -d grant_type=client_credentials \(c.base_url)/oauth/token | sed 's/.*"access_token":"\\([^"]*\\)".*/\\1/')
          curl -s \(c.base_url)/v1/grants -H "Authorization: Bearer $BANK"
          curl -s \(c.base_url)/v1/grants/\(c.example_grant_id ?? "GRANT_ID")/data -H "Authorization: Bearer $BANK"

        Then revoke as alice and read again as the bank (refused):
          curl -s -X POST \(c.base_url)/v1/me/grants/\(c.example_grant_id ?? "GRANT_ID")/revoke -H "Authorization: Bearer $ALICE"
          curl -s \(c.base_url)/v1/grants/\(c.example_grant_id ?? "GRANT_ID")/data -H "Authorization: Bearer $BANK"

        Paying for data: carol charges 0.25 GBP per read of her email; each read debits the bank's wallet and credits her:
          export CAROL=\(c.people.count > 2 ? c.people[2].token : "CAROL_TOKEN")
          curl -s \(c.base_url)/v1/grants/\(c.example_priced_grant_id ?? "GRANT_ID")/data -H "Authorization: Bearer $BANK"
          curl -s \(c.base_url)/v1/organisation/wallet -H "Authorization: Bearer $BANK"
          curl -s \(c.base_url)/v1/me/earnings -H "Authorization: Bearer $CAROL"
          curl -s "\(c.base_url)/v1/me/statement?format=csv" -H "Authorization: Bearer $CAROL"

        Webhooks: have the bank told when carol changes her email (start any receiver on port 9000 first; the
        demo lets webhooks reach this machine over plain http), then look at the delivery log:
          curl -s -X POST \(c.base_url)/v1/organisation/webhooks -H "Authorization: Bearer $BANK" -H 'Content-Type: application/json' -d '{"url":"http://127.0.0.1:9000/hook","events":["record.updated","grant.revoked"]}'
          curl -s -X PUT \(c.base_url)/v1/me/records/contact.email -H "Authorization: Bearer $CAROL" -H 'Content-Type: application/json' -d '{"value":"carol@new.example"}'
          curl -s \(c.base_url)/v1/organisation/webhooks/deliveries -H "Authorization: Bearer $BANK"

        The API document: \(c.base_url)/openapi.json
        """
    }
}
