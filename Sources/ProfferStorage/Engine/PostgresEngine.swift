import Logging
import NIOSSL
import PostgresKit
import PostgresNIO
import SQLKit

/// PostgreSQL through postgres-nio's connection pool; the pool reconnects by itself.
final class PostgresEngine: DatabaseEngine {
    let kind = EngineKind.postgres
    private let client: PostgresClient
    private let runTask: Task<Void, Never>

    private init(client: PostgresClient, runTask: Task<Void, Never>) {
        self.client = client
        self.runTask = runTask
    }

    static func open(url: String, logger: Logger) async throws -> PostgresEngine {
        guard let parts = URLParts(url) else { throw StorageError.badConfiguration("database URL is not a valid postgres:// URL") }
        let tls: PostgresClient.Configuration.TLS = switch parts.sslMode {
        case "require", "verify-full", "verify-ca": .require(.makeClientConfiguration())
        case "prefer": .prefer(.makeClientConfiguration())
        default: .disable
        }
        var configuration = PostgresClient.Configuration(
            host: parts.host, port: parts.port, username: parts.user, password: parts.password,
            database: parts.database, tls: tls
        )
        configuration.options.maximumConnections = 16
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        // The pool serves nothing until `run()` has begun (a query before it waits, and the client warns): the task
        // says it has started, then goes straight into `run()`, so the first query below comes after it.
        let (started, starting) = AsyncStream<Void>.makeStream()
        let runTask = Task {
            starting.finish()
            await client.run()
        }
        for await _ in started {}
        let engine = PostgresEngine(client: client, runTask: runTask)
        // Fail at start-up, not on the first request, when the server cannot be reached.
        do {
            try await engine.read { db in try await db.raw("SELECT 1").run() }
        } catch {
            await engine.shutdown()
            throw StorageError.unreachable("cannot connect to PostgreSQL at \(parts.redacted): \(String(reflecting: error).prefix(200))")
        }
        return engine
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await body(connection.sql(queryLogLevel: nil))
        }
    }

    func withWriteConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await body(connection.sql(queryLogLevel: nil))
        }
    }

    func checkpoint() async throws -> Bool { true }

    func betweenWrites() async {}

    func shutdown() async {
        runTask.cancel()
        await runTask.value
    }
}

/// Storage failures that are not about the caller's input.
public enum StorageError: Error, Sendable, CustomStringConvertible {
    case badConfiguration(String)
    case unreachable(String)
    case corrupt(String)

    public var description: String {
        switch self {
        case .badConfiguration(let text), .unreachable(let text), .corrupt(let text): text
        }
    }
}
