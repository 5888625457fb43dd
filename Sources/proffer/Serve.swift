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
        let store = try await options.openStore(configuration, logger: logger)
        let runtime = try await buildApplication(configuration: configuration, store: store, logger: logger)
        logger.info("starting", metadata: ["database": "\(configuration.resolvedDatabase)", "address": "\(configuration.host):\(configuration.port)"])
        do {
            try await runtime.application.runService()
        } catch {
            await store.shutdown()
            throw error
        }
        await store.shutdown()
        logger.info("stopped")
    }
}

/// `proffer migrate`: apply pending schema migrations and exit.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")
    @OptionGroup var options: ServerOptions

    func run() async throws {
        let configuration = try options.resolve()
        let store = try await options.openStore(configuration, logger: options.logger(configuration))
        await store.shutdown()
        print("database \(configuration.resolvedDatabase) is at schema version \(ProfferStore.latestSchemaVersion)")
    }
}
