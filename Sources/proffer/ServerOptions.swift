import ArgumentParser
import Foundation
import Logging
import ProfferCore
import ProfferServer
import ProfferStorage

/// Flags shared by every command that opens the database or starts the server. Each flag falls back
/// to a `PROFFER_…` environment variable, then to its default: command line > environment > default.
struct ServerOptions: ParsableArguments {
    @Option(help: "Address to listen on (PROFFER_HOST).") var host: String?
    @Option(help: "Port to listen on (PROFFER_PORT).") var port: Int?
    @Option(name: .customLong("data-dir"), help: "Directory for the SQLite file and generated keys (PROFFER_DATA_DIR).") var dataDir: String?
    @Option(help: "SQLite file path or postgres:// URL (PROFFER_DATABASE_URL). Default: DATA_DIR/proffer.sqlite.") var database: String?
    @Option(name: .customLong("public-url"), help: "Externally visible base URL, the token issuer (PROFFER_PUBLIC_URL).") var publicURL: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error (PROFFER_LOG_LEVEL).") var logLevel: String?
    @Option(name: .customLong("sqlite-synchronous"), help: "NORMAL (survives crashes) or FULL (also power loss) (PROFFER_SQLITE_SYNCHRONOUS).") var sqliteSynchronous: String?

    func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServerConfiguration {
        var configuration = ServerConfiguration()
        configuration.host = host ?? environment["PROFFER_HOST"] ?? configuration.host
        if let text = port.map(String.init) ?? environment["PROFFER_PORT"] {
            guard let value = Int(text), (0...65_535).contains(value) else { throw ValidationError("port must be 0 to 65535") }
            configuration.port = value
        }
        configuration.dataDirectory = dataDir ?? environment["PROFFER_DATA_DIR"] ?? configuration.dataDirectory
        if let text = database ?? environment["PROFFER_DATABASE_URL"], !text.isEmpty {
            configuration.database = DatabaseLocation(text)
        }
        configuration.publicURL = publicURL ?? environment["PROFFER_PUBLIC_URL"]
        configuration.adminToken = environment["PROFFER_ADMIN_TOKEN"]
        configuration.masterKey = environment["PROFFER_MASTER_KEY"]
        if let text = logLevel ?? environment["PROFFER_LOG_LEVEL"] {
            guard let level = Logger.Level(rawValue: text.lowercased()) else { throw ValidationError("unknown log level \(text)") }
            configuration.logLevel = level
        }
        if let text = sqliteSynchronous ?? environment["PROFFER_SQLITE_SYNCHRONOUS"] {
            guard let mode = SQLiteSynchronous(rawValue: text.uppercased()) else { throw ValidationError("sqlite-synchronous must be NORMAL or FULL") }
            configuration.sqliteSynchronous = mode
        }
        if let cost = try Self.integer("PROFFER_BCRYPT_COST", in: 4...16, environment) { configuration.bcryptCost = UInt8(cost) }
        configuration.accessTokenLifetimeSeconds = try Self.integer("PROFFER_ACCESS_TOKEN_TTL", in: 30...86_400, environment, unit: " seconds")
            ?? configuration.accessTokenLifetimeSeconds
        if let text = environment["PROFFER_JURISDICTION"] {
            guard (2...40).contains(text.count) else { throw ValidationError("PROFFER_JURISDICTION must be 2 to 40 characters, e.g. EU or GB") }
            configuration.jurisdiction = text
        }
        configuration.expirySweepSeconds = try Self.integer("PROFFER_EXPIRY_SWEEP_SECONDS", in: 1...3600, environment) ?? configuration.expirySweepSeconds
        configuration.closureSweepSeconds = try Self.integer("PROFFER_CLOSURE_SWEEP_SECONDS", in: 1...3600, environment) ?? configuration.closureSweepSeconds
        configuration.operatorFeeBasisPoints = try Self.integer("PROFFER_OPERATOR_FEE_BPS", in: 0...10_000, environment, unit: " basis points")
            ?? configuration.operatorFeeBasisPoints
        configuration.chargeIntervalSeconds = try Self.integer("PROFFER_CHARGE_INTERVAL_SECONDS", in: 1...86_400, environment)
            ?? configuration.chargeIntervalSeconds
        configuration.webhookTimeoutSeconds = try Self.integer("PROFFER_WEBHOOK_TIMEOUT_SECONDS", in: 1...60, environment) ?? configuration.webhookTimeoutSeconds
        configuration.webhookPollMilliseconds = try Self.integer("PROFFER_WEBHOOK_POLL_MS", in: 10...60_000, environment) ?? configuration.webhookPollMilliseconds
        if let text = environment["PROFFER_WEBHOOK_RETRY_SCHEDULE"] {
            guard let schedule = RetrySchedule(parsing: text), schedule.delaysSeconds.count <= 50 else {
                throw ValidationError("PROFFER_WEBHOOK_RETRY_SCHEDULE must be 1 to 50 comma-separated positive numbers of seconds, e.g. 5,300,1800")
            }
            configuration.webhookRetrySchedule = schedule
        }
        configuration.directoryMaxAgeSeconds = try Self.integer("PROFFER_DIRECTORY_MAX_AGE_SECONDS", in: 0...3600, environment)
            ?? configuration.directoryMaxAgeSeconds
        configuration.disclosureCachePeople = try Self.integer("PROFFER_DISCLOSURE_CACHE_PEOPLE", in: 0...10_000_000, environment,
                                                               unit: " (0 keeps no decrypted values)") ?? configuration.disclosureCachePeople
        configuration.webhookAllowPrivateTargets = try Self.flag("PROFFER_WEBHOOK_ALLOW_PRIVATE", environment) ?? configuration.webhookAllowPrivateTargets
        configuration.webhookAllowHTTP = try Self.flag("PROFFER_WEBHOOK_ALLOW_HTTP", environment) ?? configuration.webhookAllowHTTP
        return configuration
    }

    /// A whole-number environment variable within `range`; nil when unset. Out of range or not a number is refused
    /// with "NAME must be LOW to HIGH" and `unit`.
    static func integer(_ name: String, in range: ClosedRange<Int>, _ environment: [String: String], unit: String = "") throws -> Int? {
        guard let text = environment[name] else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw ValidationError("\(name) must be \(range.lowerBound) to \(range.upperBound)\(unit)")
        }
        return value
    }

    /// A yes/no environment variable: 1/true/yes or 0/false/no; nil when unset.
    static func flag(_ name: String, _ environment: [String: String]) throws -> Bool? {
        guard let text = environment[name] else { return nil }
        switch text.lowercased() {
        case "1", "true", "yes": return true
        case "0", "false", "no", "": return false
        default: throw ValidationError("\(name) must be 1 or 0")
        }
    }

    func logger(_ configuration: ServerConfiguration) -> Logger {
        var logger = Logger(label: "proffer")
        logger.logLevel = configuration.logLevel
        return logger
    }

    /// Opens the configured database, runs `body` with the store and shuts the store down however `body` ends (a store
    /// left open at exit trips SQLiteNIO's assertion instead of printing the error). A domain refusal `body` does not
    /// map itself becomes the command's error message.
    func withStore<T>(_ configuration: ServerConfiguration, logger: Logger? = nil, _ body: (ProfferStore) async throws -> T) async throws -> T {
        let store = try await openStore(configuration, logger: logger ?? self.logger(configuration))
        do {
            let result = try await body(store)
            await store.shutdown()
            return result
        } catch let error as DomainError {
            await store.shutdown()
            throw ValidationError(describe(error))
        } catch {
            await store.shutdown()
            throw error
        }
    }

    /// `withStore` with the configuration resolved from these options.
    func withStore<T>(_ body: (ProfferStore) async throws -> T) async throws -> T {
        try await withStore(try resolve(), body)
    }

    /// Opens (and migrates) the configured database.
    private func openStore(_ configuration: ServerConfiguration, logger: Logger) async throws -> ProfferStore {
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        return try await ProfferStore.open(configuration.resolvedDatabase, synchronous: configuration.sqliteSynchronous,
                                           fees: FeePolicy(basisPoints: configuration.operatorFeeBasisPoints), logger: logger)
    }
}
