import Foundation
import ProfferCore
import SQLKit
import Synchronization

/// What an organisation receives from one disclosure: the grant as checked, the sealed records it
/// covers, and the audit entry committed before any of it may be sent.
public struct Disclosure: Sendable {
    public var grant: Grant
    public var records: [SealedRecord]
    public var entry: AuditEntry
}

extension ProfferStore {
    /// Discloses an active grant's data: in one transaction, checks the grant is this organisation's and active
    /// now, reads the current records of the granted keys (or of `keys`, which must be among them), and appends
    /// the disclosure to the person's audit log. Returns only after the commit, so nothing is sent unaudited.
    public func disclose(grant: GrantID, organisation: OrganisationID, keys: [String]? = nil, at now: Timestamp) async throws -> Disclosure {
        try await disclosures.submit(.init(grantID: grant, organisationID: organisation, keys: keys, at: now))
    }
}

/// Group commit for the hottest write: concurrent disclosures are gathered and handled by one write job
/// with a fixed handful of set-based statements per batch (grants, audit heads, records, one multi-row insert
/// of audit entries, one multi-row upsert of heads) instead of several statements per disclosure.
actor DisclosureBatcher {
    struct Item: Sendable {
        let grantID: GrantID
        let organisationID: OrganisationID
        let keys: [String]?
        let at: Timestamp
    }

    private struct Pending {
        let item: Item
        let continuation: CheckedContinuation<Disclosure, any Error>
    }

    private let writes: WriteQueue
    private let kind: EngineKind
    private var pending: [Pending] = []
    /// Grants as created: keys, purpose and parties never change after creation. What decides whether a grant
    /// is active — `revoked_at` and `expires_at` — is re-read from the database by every batch.
    private let grantCache = GrantCache()
    private var draining = false
    private let maxBatch = 256

    private let recordCache: RecordCache?

    init(writes: WriteQueue, kind: EngineKind, recordCache: RecordCache?) {
        self.writes = writes
        self.kind = kind
        self.recordCache = recordCache
    }

    func submit(_ item: Item) async throws -> Disclosure {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Disclosure, any Error>) in
            pending.append(Pending(item: item, continuation: continuation))
            if !draining {
                draining = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !pending.isEmpty {
            let batch = Array(pending.prefix(maxBatch))
            pending.removeFirst(batch.count)
            let items = batch.map(\.item)
            let kind = self.kind
            let cache = grantCache
            let records = recordCache
            do {
                let (results, snapshots) = try await writes.write { db in
                    try await Self.run(items, on: db, kind: kind, cache: cache, records: records)
                }
                // Committed: only now may what the batch read be reused.
                records?.fill(snapshots)
                for (waiting, result) in zip(batch, results) { waiting.continuation.resume(with: result) }
            } catch {
                for waiting in batch { waiting.continuation.resume(throwing: error) }
            }
        }
        draining = false
    }

    /// One batch inside one transaction. A disclosure that is refused (unknown grant, revoked, expired, key not
    /// covered) gets its error; the others go ahead.
    static func run(_ items: [Item], on db: any SQLDatabase, kind: EngineKind, cache: GrantCache,
                    records recordCache: RecordCache?) async throws -> ([Result<Disclosure, any Error>], [RecordCache.Snapshot]) {
        let ids = Array(Set(items.map(\.grantID)))
        var grants: [GrantID: Grant] = [:]
        let known = cache.lookup(ids)
        if !known.isEmpty {
            for row in try await db.select().columns("id", "expires_at", "revoked_at").from("grants").where("id", .in, known.keys.map(\.rawValue)).all() {
                let id = GrantID(trusted: try row.decode(column: "id", as: String.self))
                guard var grant = known[id] else { continue }
                grant.expiresAt = try row.timestamp("expires_at")
                grant.revokedAt = try row.optionalTimestamp("revoked_at")
                grants[id] = grant
            }
        }
        let unknown = ids.filter { known[$0] == nil }.map(\.rawValue)
        if !unknown.isEmpty {
            for row in try await db.select().column("*").from("grants").where("id", .in, unknown).all() {
                let grant = try ProfferStore.grant(row)
                grants[grant.id] = grant
                cache.remember(grant)
            }
        }

        var outcomes: [Result<(Grant, [String]), any Error>] = items.map { item in
            guard let grant = grants[item.grantID], grant.organisationID == item.organisationID else {
                return .failure(DomainError.notFound(what: "grant", id: item.grantID.rawValue))
            }
            let status = grant.status(at: item.at)
            guard status == .active else {
                return .failure(DomainError.grantNotActive(grantID: grant.id, status: status, since: grant.revokedAt ?? grant.expiresAt))
            }
            if let asked = item.keys, let outside = asked.first(where: { !grant.keys.contains($0) }) {
                return .failure(DomainError.keyNotCovered(key: outside, grantID: grant.id, covered: grant.keys))
            }
            let keys = item.keys.map { asked in grant.keys.filter(asked.contains) } ?? grant.keys
            return .success((grant, keys))
        }

        let people = Array(Set(outcomes.compactMap { try? $0.get().0.personID.rawValue })).sorted()
        guard !people.isEmpty else {
            // Every disclosure of the batch was refused: nothing to write.
            return (outcomes.map { outcome in
                if case .failure(let error) = outcome { return .failure(error) }
                return .failure(DomainError.unavailable("the disclosure could not be processed"))
            }, [])
        }
        // Lock heads in a fixed order so concurrent batches on other instances cannot deadlock.
        var heads: [String: (Int64, String)] = [:]
        let headQuery = db.select().columns("person_id", "seq", "hash").from("audit_heads").where("person_id", .in, people).orderBy("person_id")
        if kind == .postgres { headQuery.for(.update) }
        for row in try await headQuery.all() {
            heads[try row.decode(column: "person_id", as: String.self)] = (try row.decode(column: "seq", as: Int64.self), try row.decode(column: "hash", as: String.self))
        }
        var records: [String: [String: SealedRecord]] = [:]
        var snapshots: [RecordCache.Snapshot] = []
        if let recordCache {
            // Whole record sets per person, from memory where possible; the misses are read and offered back.
            let (hits, generations) = recordCache.lookup(people.map(PersonID.init(trusted:)))
            for (person, set) in hits { records[person.rawValue] = set }
            let misses = people.filter { records[$0] == nil }
            if !misses.isEmpty {
                for row in try await db.select().columns("person_id", "key", "version", "ciphertext", "updated_at").from("records")
                    .where("person_id", .in, misses).all() {
                    records[try row.decode(column: "person_id", as: String.self), default: [:]][try row.decode(column: "key", as: String.self)] = try Self.sealed(row)
                }
                snapshots = misses.map { person in
                    let id = PersonID(trusted: person)
                    return RecordCache.Snapshot(person: id, generation: generations[id] ?? 0, records: records[person] ?? [:])
                }
            }
        } else {
            let allKeys = Array(Set(outcomes.flatMap { (try? $0.get().1) ?? [] }))
            if !allKeys.isEmpty {
                for row in try await db.select().columns("person_id", "key", "version", "ciphertext", "updated_at").from("records")
                    .where("person_id", .in, people).where("key", .in, allKeys).all() {
                    records[try row.decode(column: "person_id", as: String.self), default: [:]][try row.decode(column: "key", as: String.self)] = try Self.sealed(row)
                }
            }
        }

        var results: [Result<Disclosure, any Error>] = []
        var entries: [AuditEntry] = []
        for (item, outcome) in zip(items, outcomes) {
            switch outcome {
            case .failure(let error):
                results.append(.failure(error))
            case .success(let (grant, keys)):
                let person = grant.personID.rawValue
                let sealed = keys.compactMap { records[person]?[$0] }
                let head = heads[person] ?? (0, AuditEntry.genesisHash)
                let entry = AuditEntry(
                    event: AuditEvent(kind: .disclosure, actor: "organisation:\(item.organisationID)", organisationID: item.organisationID,
                                      requestID: grant.requestID, grantID: grant.id, keys: sealed.map(\.key), at: item.at),
                    personID: grant.personID, previousSequence: head.0, previousHash: head.1)
                heads[person] = (entry.sequence, entry.hash)
                entries.append(entry)
                results.append(.success(Disclosure(grant: grant, records: sealed, entry: entry)))
            }
        }
        outcomes.removeAll()
        if !entries.isEmpty {
            let insert = db.insert(into: "audit_entries")
                .columns("person_id", "seq", "kind", "actor", "organisation_id", "request_id", "grant_id", "keys", "note", "at", "previous_hash", "hash")
            for entry in entries {
                insert.values([
                    entry.personID.rawValue, entry.sequence, entry.kind.rawValue, entry.actor, entry.organisationID?.rawValue,
                    entry.requestID?.rawValue, entry.grantID?.rawValue, JSONColumn.encode(entry.keys), entry.note,
                    entry.at.millisecondsSinceEpoch, entry.previousHash, entry.hash,
                ] as [any Encodable & Sendable])
            }
            try await insert.run()
            let upsert = db.insert(into: "audit_heads").columns("person_id", "seq", "hash")
            for (person, head) in heads.sorted(by: { $0.key < $1.key }) where entries.contains(where: { $0.personID.rawValue == person }) {
                upsert.values([person, head.0, head.1] as [any Encodable & Sendable])
            }
            try await upsert.onConflict(with: ["person_id"]) { $0.set(excludedValueOf: "seq").set(excludedValueOf: "hash") }.run()
        }
        return (results, snapshots)
    }

    static func sealed(_ row: any SQLRow) throws -> SealedRecord {
        SealedRecord(key: try row.decode(column: "key", as: String.self), version: try row.decode(column: "version", as: Int64.self),
                     ciphertext: try row.decode(column: "ciphertext", as: Data.self), changedAt: try row.timestamp("updated_at"))
    }
}

/// Grants by id, as created (see `DisclosureBatcher.grantCache`). Bounded: cleared when it grows past its limit.
final class GrantCache: Sendable {
    private let grants = Mutex<[GrantID: Grant]>([:])
    private let limit = 200_000

    func lookup(_ ids: [GrantID]) -> [GrantID: Grant] {
        grants.withLock { cache in
            var found: [GrantID: Grant] = [:]
            for id in ids { if let grant = cache[id] { found[id] = grant } }
            return found
        }
    }

    func remember(_ grant: Grant) {
        var original = grant
        original.revokedAt = nil
        grants.withLock { cache in
            if cache.count >= limit { cache.removeAll(keepingCapacity: true) }
            cache[grant.id] = original
        }
    }
}
