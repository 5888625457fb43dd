import Foundation
import ProfferCore
import ProfferStorage

/// What the load script needs from a seeded benchmark database.
public struct BenchmarkFixture: Codable, Sendable {
    public struct Client: Codable, Sendable {
        public var client_id: String
        public var client_secret: String
        /// Grants this organisation holds, one per line in the load script's rotation.
        public var grants: [String]
    }

    public var people: Int
    public var records_per_person: Int
    public var grants_per_person: Int
    /// The per-disclosure price of every grant, when the benchmark is priced.
    public var price: Money?
    public var organisations: [Client]
}

extension ProfferRuntime {
    /// Seeds `people` people, each with `recordsPerPerson` records and one active grant from each of
    /// `grantsPerPerson` organisations, through the same store paths the API uses (audited, encrypted).
    /// With a `price`, every grant is priced per disclosure and every organisation's wallet is funded for
    /// far more reads than a benchmark makes.
    public func seedBenchmark(people: Int, recordsPerPerson: Int = 20, grantsPerPerson: Int = 5, price: Money? = nil,
                              progress: @escaping @Sendable (Int) -> Void = { _ in }) async throws -> BenchmarkFixture {
        let services = self.services
        let registry = OrganisationRegistry(store: services.store)
        var clients: [(Organisation, String)] = []
        for index in 0..<grantsPerPerson {
            clients.append(try await registry.register(name: "Bench Org \(index)", domain: "bench\(index).example", verified: true))
        }
        let keys = Array(services.catalogue.entries.filter { !$0.sensitive && Self.benchValue(for: $0) != nil }.prefix(recordsPerPerson))
        let passwordHash = try await services.passwords.hash("benchmark-password")
        let now = Timestamp.now()
        let organisationIDs = clients.map(\.0.id)
        if let price {
            for organisation in organisationIDs {
                _ = try await services.store.creditWallet(
                    organisation, Money(minorUnits: 1_000_000_000_000, currency: price.currency), reference: "benchmark funding", provider: services.payments.name,
                    idempotency: IdempotencyKey(scope: "admin", key: "bench-\(organisation)", requestDigest: Data("bench".utf8)), at: now)
            }
        }
        let offer: Offer = price.map { .price(.perDisclosure, $0) } ?? .nothing
        let grantsByOrganisation = try await withThrowingTaskGroup(of: [GrantID].self) { group in
            var next = 0
            var collected: [[GrantID]] = []
            func launch(_ index: Int) {
                group.addTask {
                    try await Self.seedPerson(index, services: services, keys: keys, passwordHash: passwordHash,
                                              organisations: organisationIDs, offer: offer, now: now)
                }
            }
            while next < min(people, 32) { launch(next); next += 1 }
            while let grants = try await group.next() {
                collected.append(grants)
                if collected.count.isMultiple(of: 500) { progress(collected.count) }
                if next < people { launch(next); next += 1 }
            }
            return collected
        }
        return BenchmarkFixture(
            people: people, records_per_person: keys.count, grants_per_person: grantsPerPerson, price: price,
            organisations: clients.enumerated().map { index, client in
                .init(client_id: client.0.clientID, client_secret: client.1, grants: grantsByOrganisation.map { $0[index].rawValue })
            })
    }

    private static func seedPerson(_ index: Int, services: Services, keys: [CatalogueEntry], passwordHash: String,
                                   organisations: [OrganisationID], offer: Offer, now: Timestamp) async throws -> [GrantID] {
        let id = PersonID.generate()
        let (dataKey, wrapped) = try services.vault.masterKey.newDataKey(for: id)
        try await services.store.createPerson(Person(id: id, handle: "bench-\(index)", email: "bench-\(index)@example.org",
                                                     passwordHash: passwordHash, wrappedDataKey: wrapped, createdAt: now))
        let vault = services.vault
        for entry in keys {
            guard let value = benchValue(for: entry) else { continue }
            _ = try await services.store.putRecord(person: id, key: entry.key, at: now) { version in
                try vault.seal(value, key: entry.key, version: version, with: dataKey)
            }
        }
        var grants: [GrantID] = []
        for organisation in organisations {
            let request = DataRequest(id: .generate(), organisationID: organisation, personID: id, keys: keys.prefix(5).map(\.key),
                                      purpose: "ServiceProvision", retentionDays: 365, thirdParties: [], durationDays: 365,
                                      reason: "benchmark", state: .pending, createdAt: now, decidedAt: nil, grantID: nil, offer: offer)
            // Seeded without receipts: the benchmark measures disclosures, and signing 50,000 receipts would only slow the seeding.
            let grant = services.grant(of: request, keys: request.keys, days: 365, at: now)
            try await services.store.createRequest(request)
            grants.append(try await services.store.grantRequest(grant, by: id).id)
        }
        return grants
    }

    /// A valid example value for a catalogue entry, or nil when the entry's type has no simple example.
    static func benchValue(for entry: CatalogueEntry) -> JSONValue? {
        let candidates: [JSONValue] = [
            .string("benchmark@example.org"), .string("+447700900123"), .string("1990-04-12"), .string("GB"), .string("en"),
            .string("https://example.org"), .bool(true), .integer(3),
            .object(["amount": .integer(4_200_000), "currency": .string("GBP")]),
            .object(["lines": .array([.string("1 High Street")]), "locality": .string("Bristol"), "country": .string("GB")]),
            .string("Benchmark value"),
        ]
        return candidates.lazy.compactMap { try? entry.validate($0) }.first
    }
}
