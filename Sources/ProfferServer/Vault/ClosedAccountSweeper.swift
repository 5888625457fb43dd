import Foundation
import Logging
import ProfferCore
import ProfferStorage
import ServiceLifecycle

/// Forgets what this server holds in memory of people whose accounts were closed elsewhere — by another instance on
/// the same PostgreSQL, or by the operator's `proffer person erase` on the same SQLite file while this server runs.
/// A closure made through this server forgets at once (`Services.closeAccount`); this covers the others within
/// `PROFFER_CLOSURE_SWEEP_SECONDS`. Nothing is disclosed meanwhile either way — the closure revoked every grant in the
/// database, which each disclosure reads — but no copy of a destroyed key, or of a value it opened, may outlive it.
struct ClosedAccountSweeper: Service {
    let services: Services
    let logger: Logger
    /// How far back each sweep looks before the previous one began: closure times come from the clock of the instance
    /// that closed the account, which may lag this one's; a closure seen again is forgotten again, which is harmless.
    static let clockMargin: Int = 600

    func run() async throws {
        var lookFrom = Timestamp.now().adding(seconds: -Self.clockMargin)
        await runPeriodically(every: .seconds(services.configuration.closureSweepSeconds), logger: logger, failure: "forgetting closed accounts failed") {
            let started = Timestamp.now()
            try await sweep(closedSince: lookFrom)
            lookFrom = started.adding(seconds: -Self.clockMargin)
        }
    }

    /// Forgets every person whose account closed at or after `since`; returns how many there were.
    @discardableResult
    func sweep(closedSince since: Timestamp) async throws -> Int {
        let closed = try await services.store.accountsClosed(since: since)
        for person in closed { services.vault.forget(person) }
        return closed.count
    }
}
