import ArgumentParser

/// The one Proffer executable.
@main
struct Proffer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proffer",
        abstract: "Proffer: a personal data store where people grant, price and audit what organisations may read.",
        subcommands: [Serve.self, Demo.self, Migrate.self, OrgCommand.self, AuditCommand.self, ReceiptCommand.self, WalletCommand.self, LedgerCommand.self, WebhooksCommand.self, ImportCommand.self, PersonCommand.self, BenchSeed.self]
    )
}
