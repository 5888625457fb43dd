import Foundation
import Logging
import ProfferCore
import ProfferStorage
import ServiceLifecycle

/// The directory's and the console's figures: they aggregate every request and grant, so pages read figures at most
/// `maxAgeSeconds` old (a minute by default — a person choosing an organisation loses nothing to that), kept fresh
/// by a background job (`DirectoryRefresher`) while anyone looks at them, so that no page waits for a computation.
/// Concurrent callers share one computation.
actor DirectoryCache {
    let maxAgeSeconds: Int
    typealias Figures = (organisations: [Organisation], records: [OrganisationID: OrganisationRecord])
    private var cached: (at: ContinuousClock.Instant, figures: Figures)?
    private var running: Task<Figures, any Error>?
    private var lastRead: ContinuousClock.Instant?

    init(maxAgeSeconds: Int) {
        self.maxAgeSeconds = maxAgeSeconds
    }

    func current(store: ProfferStore) async throws -> Figures {
        lastRead = .now
        if let cached, ContinuousClock.now - cached.at < .seconds(maxAgeSeconds) { return cached.figures }
        return try await refresh(store)
    }

    /// Whether the figures were read within the last `window`: the background job keeps them warm only then, so a
    /// server nobody browses does not aggregate every request and grant twice a minute.
    func recentlyRead(within window: Duration) -> Bool {
        lastRead.map { ContinuousClock.now - $0 < window } ?? false
    }

    /// Computes the figures anew (joining a computation already under way).
    @discardableResult
    func refresh(_ store: ProfferStore) async throws -> Figures {
        let task = running ?? Task { () async throws -> Figures in (try await store.organisations(), try await store.organisationRecords()) }
        running = task
        defer { running = nil }
        let figures = try await task.value
        cached = (.now, figures)
        return figures
    }
}

/// Keeps the directory's figures fresh while pages read them: recomputes them at half their maximum age, so a page
/// always finds them young enough. With a maximum age of zero (every page computes its own), it has nothing to do.
struct DirectoryRefresher: Service {
    let cache: DirectoryCache
    let store: ProfferStore
    let logger: Logger

    func run() async throws {
        guard cache.maxAgeSeconds > 0 else {
            try? await gracefulShutdown()
            return
        }
        await runPeriodically(every: .seconds(max(1, cache.maxAgeSeconds / 2)), logger: logger, failure: "refreshing the directory failed") {
            if await cache.recentlyRead(within: .seconds(10 * cache.maxAgeSeconds)) { try await cache.refresh(store) }
        }
    }
}
