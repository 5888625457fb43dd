import ProfferCore
import SQLKit
import Synchronization

// The small caches the disclosure batch keeps between batches. Each holds only what cannot change once committed
// (grants as created, people's numbers, accounts that exist), so none needs invalidating; each is bounded.

/// Grants by id, as created (see `DisclosureBatcher.grantCache`). Bounded: cleared when it grows past its limit.
final class GrantCache: Sendable {
    private let grants = Mutex<[IdentifierKey<GrantTag>: Grant]>([:])
    private let limit = 200_000

    func lookup(_ ids: [GrantID]) -> [GrantID: Grant] {
        let keyed = ids.compactMap { id in id.key.map { (id, $0) } }
        return grants.withLock { cache in
            var found: [GrantID: Grant] = [:]
            found.reserveCapacity(keyed.count)
            for (id, key) in keyed { if let grant = cache[key] { found[id] = grant } }
            return found
        }
    }

    func remember(_ grant: Grant) {
        guard let key = grant.id.key else { return }
        // As created: what changes is always taken from the database or the batch memory, never from here.
        var original = grant
        original.changing = Grant.Changing(expiresAt: grant.expiresAt, revokedAt: nil, paidUntil: nil, suspendedAt: nil)
        original.keys = grant.keys.map(Catalogue.standard.shared)
        grants.withLock { cache in
            if cache.count >= limit { cache.removeAll(keepingCapacity: true) }
            cache[key] = original
        }
    }
}

/// People's numbers (migration 13: the audit log's key), which never change once given. Bounded: cleared when it
/// grows past its limit.
final class PersonNumbers: Sendable {
    private let numbers = Mutex<[IdentifierKey<PersonTag>: Int64]>([:])
    private let limit = 500_000

    /// The numbers of `people`, from memory where known, the others read in one statement.
    func of(_ people: [String], on db: any SQLDatabase) async throws -> [String: Int64] {
        var found: [String: Int64] = [:]
        found.reserveCapacity(people.count)
        let keyed = people.map { ($0, PersonID(trusted: $0).key) }
        let missing = numbers.withLock { known in
            keyed.filter { person, key in
                guard let key, let number = known[key] else { return true }
                found[person] = number
                return false
            }.map(\.0)
        }
        guard !missing.isEmpty else { return found }
        var read: [String: Int64] = [:]
        for row in try await db.select().columns("id", "number").from("people").where("id", .in, missing).all() {
            read[try row.decode(column: "id", as: String.self)] = try row.decode(column: "number", as: Int64.self)
        }
        numbers.withLock { known in
            if known.count + read.count > limit { known.removeAll(keepingCapacity: true) }
            for (person, number) in read { if let key = PersonID(trusted: person).key { known[key] = number } }
        }
        return found.merging(read) { _, new in new }
    }
}

/// Ledger accounts known to exist, remembered only after the transaction that created them committed. Bounded:
/// cleared when it grows past its limit (then each account is created-if-missing once more).
final class KnownAccounts: Sendable {
    private let accounts = Mutex<Set<LedgerAccountID>>([])
    private let limit = 500_000

    func unknown<Value>(_ candidates: [(key: LedgerAccountID, value: Value)]) -> [(key: LedgerAccountID, value: Value)] {
        let known = accounts.withLock { known in Set(candidates.map(\.key).filter(known.contains)) }
        return candidates.filter { !known.contains($0.key) }
    }

    func remember(_ created: [LedgerAccountID]) {
        guard !created.isEmpty else { return }
        accounts.withLock { known in
            if known.count + created.count > limit { known.removeAll(keepingCapacity: true) }
            known.formUnion(created)
        }
    }
}
