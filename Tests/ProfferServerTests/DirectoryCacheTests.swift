import Foundation
import ProfferCore
import ProfferStorage
import ProfferTestSupport
import Testing

@testable import ProfferServer

/// The directory's figures: served up to their maximum age, recomputed on demand, kept warm only while read.
@Suite("Directory cache")
struct DirectoryCacheTests {
    @Test func figuresAreServedUntilTheirMaximumAgeAndRefreshedOnDemand() async throws {
        let database = try await TestDatabase.make(.sqlite)
        let store = try await database.openStore()
        let cache = DirectoryCache(maxAgeSeconds: 60)
        #expect(await cache.recentlyRead(within: .seconds(600)) == false, "never read: the background job leaves it alone")
        #expect(try await cache.current(store: store).organisations.isEmpty)
        #expect(await cache.recentlyRead(within: .seconds(600)))
        let organisation = Organisation(id: .generate(), name: "Late Co", domain: "late.example", verified: false, clientID: "cl_late",
                                        secretDigest: Data([1]), createdAt: .now())
        try await store.createOrganisation(organisation)
        #expect(try await cache.current(store: store).organisations.isEmpty, "within its maximum age the figures stand")
        try await cache.refresh(store)
        #expect(try await cache.current(store: store).organisations.map(\.id) == [organisation.id])
        let uncached = DirectoryCache(maxAgeSeconds: 0)
        #expect(try await uncached.current(store: store).organisations.count == 1, "a maximum age of zero computes every time")
        await store.shutdown()
    }
}
