import ArgumentParser
import Hummingbird
import Logging
import ProfferServer
import ProfferStorage

/// `proffer serve`: run the HTTP server until SIGTERM or SIGINT, then finish in-flight requests and stop.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the Proffer HTTP server.")
    @OptionGroup var options: ServerOptions

    func run() async throws {
        let configuration = try options.resolve()
        let logger = options.logger(configuration)
        try await options.withStore(configuration, logger: logger) { store in
            let runtime = try await buildApplication(configuration: configuration, store: store, logger: logger)
            logger.info("starting", metadata: ["database": "\(configuration.resolvedDatabase)", "address": "\(configuration.host):\(configuration.port)"])
            try await runtime.application.runService()
        }
        logger.info("stopped")
    }
}

/// `proffer migrate`: apply pending schema migrations and exit.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")
    @OptionGroup var options: ServerOptions

    func run() async throws {
        let configuration = try options.resolve()
        try await options.withStore(configuration) { _ in }
        print("database \(configuration.resolvedDatabase) is at schema version \(ProfferStore.latestSchemaVersion)")
    }
}
