import Foundation
import ProfferCore
@testable import ProfferStorage
import ProfferTestSupport
import SQLKit
import Testing

/// People's numbers key the audit log (migration 13): each person has one, no two share one, chains written before
/// the upgrade read back whole by it, and people who sign up afterwards — at the same time, on PostgreSQL's
/// concurrent writers too — each get a new one.
@Suite("Person numbers")
struct PersonNumberTests {
    static let engines = TestEngine.available

    static func numbers(_ store: ProfferStore) async throws -> [String: Int64] {
        try await store.engine.read { db in
            var numbers: [String: Int64] = [:]
            for row in try await db.raw("SELECT id, number FROM people").all() {
                numbers[try row.decode(column: "id", as: String.self)] = try row.decode(column: "number", as: Int64.self)
            }
            return numbers
        }
    }

    @Test(arguments: engines)
    func chainsWrittenBeforeTheUpgradeReadBackWholeAndNewPeopleAreNumberedAfterThem(engine: TestEngine) async throws {
        let database = try await TestDatabase.make(engine)
        let old = try await openDatabase(database.location, logger: TestDatabase.logger)
        try await Migrator.migrate(old, upTo: 12)
        // Three people with chains of different lengths, as version 12 wrote them (keyed by person id).
        var written: [PersonID: [AuditEntry]] = [:]
        for (index, length) in [3, 1, 5].enumerated() {
            let person = PersonID.generate()
            var chain: [AuditEntry] = []
            for link in 0..<length {
                let event = AuditEvent(kind: link == 0 ? .accountCreated : .recordPut, actor: "person", keys: link == 0 ? [] : ["contact.email"],
                                       at: Timestamp(millisecondsSinceEpoch: Int64(1_000 * (link + 1))))
                chain.append(AuditEntry(event: event, personID: person, previousSequence: chain.last?.sequence ?? 0,
                                        previousHash: chain.last?.hash ?? AuditEntry.genesisHash))
            }
            written[person] = chain
            try await old.withWriteConnection { [chain] db in
                try await db.raw("""
                    INSERT INTO people (id, handle, email, password_hash, wrapped_key, created_at)
                    VALUES (\(bind: person.rawValue), \(bind: "twelve-\(index)"), \(bind: "twelve-\(index)@example.org"), 'h', \(bind: Data([1])), \(bind: Int64(index)))
                    """).run()
                for entry in chain {
                    try await db.raw("""
                        INSERT INTO audit_entries (person_id, seq, kind, actor, keys, at, previous_hash, hash)
                        VALUES (\(bind: person.rawValue), \(bind: entry.sequence), \(bind: entry.kind.rawValue), \(bind: entry.actor), \(bind: entry.keysJSON),
                                \(bind: entry.at.millisecondsSinceEpoch), \(bind: entry.previousHash), \(bind: entry.hash))
                        """).run()
                }
                if engine == .postgres, let head = chain.last {
                    try await db.raw("INSERT INTO audit_heads (person_id, seq, hash) VALUES (\(bind: person.rawValue), \(bind: head.sequence), \(bind: head.hash))").run()
                }
            }
        }
        await old.shutdown()

        try await database.withStore { store in
            let before = try await Self.numbers(store)
            #expect(before.count == 3 && Set(before.values).count == 3, "every person numbered once, no number shared")
            for (person, chain) in written {
                #expect(try await StoreContractTests.fullChain(store, person) == chain, "the chain reads back whole")
                #expect(try await store.auditHead(for: person) == (chain.last?.sequence ?? 0, chain.last?.hash ?? ""))
                let newest = try await store.auditEntriesNewestFirst(for: person, limit: 2)
                #expect(newest == Array(chain.reversed().prefix(2)))
            }
            // Sign-ups at once through two stores on the same database (two server instances): on PostgreSQL their
            // transactions run concurrently and must not both take the same number.
            let joined = try await database.withStore { other in
                try await withThrowingTaskGroup(of: Person.self) { group in
                    for index in 0..<24 {
                        let through = index.isMultiple(of: 2) ? store : other
                        group.addTask { try await StoreContractTests.makePerson(through, handle: "after-\(index)") }
                    }
                    return try await group.reduce(into: [Person]()) { $0.append($1) }
                }
            }
            let after = try await Self.numbers(store)
            let newNumbers = joined.compactMap { after[$0.id.rawValue] }
            #expect(newNumbers.count == 24 && Set(newNumbers).count == 24)
            #expect(newNumbers.allSatisfy { $0 > (before.values.max() ?? 0) }, "new people are numbered after those the upgrade numbered")
            for person in joined {
                let chain = try await StoreContractTests.fullChain(store, person.id)
                #expect(chain.map(\.kind) == [.accountCreated], "each new chain is its own, under its own number")
            }
        }
    }
    /// The tables a table's foreign keys refer to, as migration 15 checks them.
    static func foreignKeyParents(of table: String, _ store: ProfferStore) async throws -> [String] {
        let kind = store.engine.kind
        return try await store.engine.read { db in
            try await Migration0015AuditEntriesWithoutForeignKey.foreignKeys(of: table, on: db, kind: kind)
        }
    }

    /// Migration 15: the audit log's person id no longer references `people` (an index seek, on PostgreSQL a trigger,
    /// per appended entry); the rest of the schema keeps its foreign keys, and chains append and read back as before.
    @Test(arguments: engines)
    func theAuditLogKeepsNoForeignKeyAndTheRestOfTheSchemaKeepsTheirs(engine: TestEngine) async throws {
        let database = try await TestDatabase.make(engine)
        let old = try await openDatabase(database.location, logger: TestDatabase.logger)
        try await Migrator.migrate(old, upTo: 14)
        await old.shutdown()
        try await database.withStore { store in
            #expect(try await Self.foreignKeyParents(of: "audit_entries", store).isEmpty)
            #expect(try await Self.foreignKeyParents(of: "records", store) == ["people"], "other tables still reference people")
            let person = try await StoreContractTests.makePerson(store, handle: "after-fifteen")
            #expect(try await StoreContractTests.fullChain(store, person.id).map(\.kind) == [.accountCreated])
        }
    }
}

