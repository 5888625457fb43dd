import Foundation
import Logging
import ProfferStorage
import SQLKit

/// The engines a contract test runs on: SQLite always, PostgreSQL when `PROFFER_TEST_POSTGRES_URL`
/// names a server (the test script starts a throwaway one and sets it).
public enum TestEngine: String, Sendable, CaseIterable, CustomStringConvertible {
    case sqlite, postgres

    public static var available: [TestEngine] {
        ProcessInfo.processInfo.environment["PROFFER_TEST_POSTGRES_URL"].map { $0.isEmpty ? [.sqlite] : [.sqlite, .postgres] } ?? [.sqlite]
    }

    public var description: String { rawValue }
}

/// A fresh, migrated database for one test: a new SQLite file in a temporary directory, or a new
/// PostgreSQL database created on the test server.
public struct TestDatabase: Sendable {
    public let location: DatabaseLocation
    public let directory: URL

    public static let logger: Logger = {
        var logger = Logger(label: "proffer-test")
        logger.logLevel = .warning
        return logger
    }()

    public static func make(_ engine: TestEngine) async throws -> TestDatabase {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("proffer-test-\(UUID().uuidString.prefix(12))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        switch engine {
        case .sqlite:
            return TestDatabase(location: .sqlite(path: directory.appendingPathComponent("test.sqlite").path), directory: directory)
        case .postgres:
            guard let base = ProcessInfo.processInfo.environment["PROFFER_TEST_POSTGRES_URL"],
                  var components = URLComponents(string: base) else {
                throw TestDatabaseError("PROFFER_TEST_POSTGRES_URL is not set")
            }
            let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
            let admin = try await openDatabase(.postgres(url: base), logger: logger)
            do {
                let statement = "CREATE DATABASE " + name
                try await admin.read { db in try await db.raw(SQLQueryString(statement)).run() }
            } catch {
                await admin.shutdown()
                throw error
            }
            await admin.shutdown()
            components.path = "/" + name
            guard let url = components.string else { throw TestDatabaseError("cannot build the test database URL") }
            return TestDatabase(location: .postgres(url: url), directory: directory)
        }
    }

    /// Opens the store on this database (migrating it).
    public func openStore() async throws -> ProfferStore {
        try await ProfferStore.open(location, logger: Self.logger)
    }

    /// Runs `body` with a store opened on this database and shuts it down afterwards, even when `body` throws.
    public func withStore<T>(_ body: (ProfferStore) async throws -> T) async throws -> T {
        let store = try await openStore()
        do {
            let result = try await body(store)
            await store.shutdown()
            return result
        } catch {
            await store.shutdown()
            throw error
        }
    }
}

public struct TestDatabaseError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Runs `body` with a freshly opened store and shuts it down afterwards, even when `body` throws.
public func withStore<T>(_ engine: TestEngine, _ body: (ProfferStore) async throws -> T) async throws -> T {
    try await TestDatabase.make(engine).withStore(body)
}
