import ArgumentParser
import Foundation
import Logging
import ProfferCore
import ProfferServer
import ProfferStorage

/// `proffer bench-seed`: fill a fresh database for the load benchmark (see BENCHMARKS.md).
struct BenchSeed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-seed",
        abstract: "Seed a fresh database with people, records and active grants for the load benchmark."
    )
    @OptionGroup var options: ServerOptions
    @Option(help: "How many people to create.") var people = 10_000
    @Option(help: "Records per person.") var records = 20
    @Option(help: "Active grants per person (one per benchmark organisation).") var grants = 5
    @Option(help: "Write the fixture (client credentials and grant ids) to this JSON file.") var output: String
    @Option(name: .customLong("price-minor-units"), help: "Price every grant per disclosure at this many EUR minor units, and fund the wallets.")
    var priceMinorUnits: Int64?

    func run() async throws {
        var configuration = try options.resolve()
        configuration.bcryptCost = 4
        let logger = options.logger(configuration)
        if let priceMinorUnits, priceMinorUnits <= 0 { throw ValidationError("--price-minor-units must be positive") }
        let price = priceMinorUnits.map { Money(minorUnits: $0, currency: "EUR") }
        let started = Date()
        let fixture = try await options.withStore(configuration, logger: logger) { store in
            let runtime = try await buildApplication(configuration: configuration, store: store, logger: logger)
            return try await runtime.seedBenchmark(people: people, recordsPerPerson: records, grantsPerPerson: grants, price: price) { done in
                print("seeded \(done) people")
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        guard FileManager.default.createFile(atPath: output, contents: try encoder.encode(fixture), attributes: [.posixPermissions: 0o600]) else {
            throw ValidationError("cannot write \(output)")
        }
        print("seeded \(people) people × \(fixture.records_per_person) records × \(grants) grants in \(Int(Date().timeIntervalSince(started))) s; fixture in \(output)")
    }
}
