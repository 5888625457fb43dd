import Foundation
import ProfferCore
import SQLKit

/// One key's history as imported from an export: every version, sealed for the new account (nil for a deletion).
public struct ImportedHistory: Sendable {
    public var key: String
    public var versions: [(version: Int64, ciphertext: Data?, changedAt: Timestamp)]

    public init(key: String, versions: [(version: Int64, ciphertext: Data?, changedAt: Timestamp)]) {
        self.key = key
        self.versions = versions
    }
}

/// What a person brings from another Proffer: their records with history, terms, rules and prices.
public struct ImportedAccount: Sendable {
    public var histories: [ImportedHistory]
    public var terms: [ProfferedTerm]?
    public var rules: [DecisionRule]
    public var prices: PriceList
    /// A plain note for the audit log: where the archive came from, and the old log's head.
    public var note: String

    public init(histories: [ImportedHistory], terms: [ProfferedTerm]?, rules: [DecisionRule], prices: PriceList, note: String) {
        self.histories = histories
        self.terms = terms
        self.rules = rules
        self.prices = prices
        self.note = note
    }
}

extension ProfferStore {
    /// Loads an exported account into a fresh one, all in one transaction: nothing is half-imported. Refused when
    /// the account already holds records, rules or prices.
    public func importAccount(_ account: ImportedAccount, into person: PersonID, at now: Timestamp) async throws {
        let kind = self.kind
        let cache = recordCache
        try await write { db in
            cache?.invalidate(person)
            for table in ["record_versions", "decision_rules", "person_prices"] {
                let used = try await db.select().column(SQLLiteral.numeric("1"), as: "x").from(table)
                    .where("person_id", .equal, person.rawValue).limit(1).first()
                if used != nil {
                    throw DomainError.conflict("this account already holds data; an archive can be imported only into a fresh account")
                }
            }
            for history in account.histories {
                for entry in history.versions {
                    try await db.raw("""
                        INSERT INTO record_versions (person_id, key, version, ciphertext, changed_at)
                        VALUES (\(bind: person.rawValue), \(bind: history.key), \(bind: entry.version), \(bind: entry.ciphertext), \(bind: entry.changedAt.millisecondsSinceEpoch))
                        """).run()
                }
                if let last = history.versions.last, let ciphertext = last.ciphertext {
                    try await db.raw("""
                        INSERT INTO records (person_id, key, version, ciphertext, updated_at)
                        VALUES (\(bind: person.rawValue), \(bind: history.key), \(bind: last.version), \(bind: ciphertext), \(bind: last.changedAt.millisecondsSinceEpoch))
                        """).run()
                    // Organisations already holding a grant on this key (granted before the import) are told, like any change.
                    try await Self.emitRecordChange(person: person, key: history.key, version: last.version, deleted: false, at: now, on: db)
                }
            }
            if let terms = account.terms {
                try await db.raw("""
                    INSERT INTO person_terms (person_id, terms, updated_at) VALUES (\(bind: person.rawValue), \(bind: JSONColumn.encode(terms)), \(bind: now.millisecondsSinceEpoch))
                    ON CONFLICT (person_id) DO UPDATE SET terms = excluded.terms, updated_at = excluded.updated_at
                    """).run()
            }
            for rule in account.rules {
                try await db.raw("""
                    INSERT INTO decision_rules (id, person_id, body, created_at)
                    VALUES (\(bind: rule.id.rawValue), \(bind: person.rawValue), \(bind: JSONColumn.encode(StoredRule(rule))), \(bind: rule.createdAt.millisecondsSinceEpoch))
                    """).run()
            }
            if !account.prices.entries.isEmpty {
                try await db.raw("""
                    INSERT INTO person_prices (person_id, prices, updated_at) VALUES (\(bind: person.rawValue), \(bind: JSONColumn.encode(account.prices)), \(bind: now.millisecondsSinceEpoch))
                    """).run()
            }
            _ = try await Self.appendAudit(
                AuditEvent(kind: .accountImported, actor: "person", keys: account.histories.map(\.key), note: account.note, at: now),
                for: person, on: db, kind: kind)
        }
    }
}
