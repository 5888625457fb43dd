import Foundation
import NIOCore
import ProfferCore
import SQLKit

/// What an organisation receives from one disclosure: the grant as checked, the sealed records it
/// covers, and the audit entry committed before any of it may be sent.
public struct Disclosure: Sendable {
    public var grant: Grant
    public var records: [SealedRecord]
    public var entry: AuditEntry
    /// A priced read retried under an idempotency key already paid for: disclosed again, not charged again.
    public var replayed: Bool = false
}

extension ProfferStore {
    /// Discloses an active grant's data: in one transaction, checks the grant is this organisation's and active
    /// now, reads the current records of the granted keys (or of `keys`, which must be among them), and appends
    /// the disclosure to the person's audit log. Returns only after the commit, so nothing is sent unaudited.
    ///
    /// With an `idempotencyKey`, a priced read is charged once: a retry with the same key (for the same grant and
    /// keys) discloses again without charging; the same key for another read is refused.
    ///
    /// `channel` says how the data leaves when it is not an ordinary read (a webhook push), for the audit entry.
    public func disclose(grant: GrantID, organisation: OrganisationID, keys: [String]? = nil, idempotencyKey: String? = nil,
                         channel: String? = nil, at now: Timestamp) async throws -> Disclosure {
        try await disclosures.submit(.init(grantID: grant, organisationID: organisation, keys: keys, idempotencyKey: idempotencyKey,
                                           channel: channel, at: now))
    }
}

/// Group commit for the hottest write: concurrent disclosures are gathered and handled by one write job
/// with a fixed handful of set-based statements per batch (grants, audit heads, records, one multi-row insert
/// of audit entries, on PostgreSQL one multi-row upsert of heads) instead of several statements per disclosure.
final class DisclosureBatcher: Sendable {
    struct Item: Sendable {
        let grantID: GrantID
        let organisationID: OrganisationID
        let keys: [String]?
        let idempotencyKey: String?
        var channel: String? = nil
        let at: Timestamp

        var idempotencyScope: String { "disclosure:\(organisationID.rawValue)" }
    }

    private struct Pending {
        let item: Item
        let continuation: CheckedContinuation<Disclosure, any Error>
    }

    private let writes: WriteQueue
    private let kind: EngineKind
    private let queue = BatchQueue<Pending>(maxBatch: 256)
    /// Grants as created: keys, purpose and parties never change after creation. What decides whether a grant
    /// is active — `revoked_at` and `expires_at` — is re-read from the database by every batch (on SQLite, unless
    /// nothing else has written since the last batch: `memory`).
    private let grantCache = GrantCache()
    /// On SQLite, grants' changing state and chains' heads as the last batch left them, while nothing else writes.
    private let memory = BatchMemory()

    private let recordCache: RecordCache?
    /// Earnings accounts known to exist (accounts are never deleted), so a batch need not create them again.
    private let knownAccounts = KnownAccounts()
    private let personNumbers = PersonNumbers()

    private let fees: FeePolicy

    init(writes: WriteQueue, kind: EngineKind, recordCache: RecordCache?, fees: FeePolicy) {
        self.fees = fees
        self.writes = writes
        self.kind = kind
        self.recordCache = recordCache
    }

    func submit(_ item: Item) async throws -> Disclosure {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Disclosure, any Error>) in
            if queue.append(Pending(item: item, continuation: continuation)) {
                Task(executorPreference: WriterThread.shared) { await self.drain() }
            }
        }
    }

    private func drain() async {
        while let batch = queue.nextBatch() {
            let items = batch.map(\.item)
            let kind = self.kind
            let cache = grantCache
            let records = recordCache
            let fees = self.fees
            let memory = self.memory
            let accounts = knownAccounts
            let numbers = personNumbers
            do {
                let (results, snapshots, created) = try await writes.write { db in
                    try await Self.run(items, on: db, kind: kind, cache: cache, memory: memory, records: records, fees: fees, accounts: accounts,
                                       numbers: numbers)
                }
                // Committed: only now may what the batch read or created be relied on.
                records?.fill(snapshots)
                knownAccounts.remember(created)
                for (waiting, result) in zip(batch, results) { waiting.continuation.resume(with: result) }
            } catch {
                // What the batch remembered may never have been committed.
                memory.forget()
                for waiting in batch { waiting.continuation.resume(throwing: error) }
            }
        }
    }

    /// What one disclosure of a batch comes to.
    enum Outcome {
        /// Refused before anything is written: unknown grant, revoked, expired, key not covered.
        case refused(any Error)
        /// Refused for want of payment: audited, and no data leaves.
        /// `detail` is for the organisation (its wallet's balance); `note`, for the person's audit log, says only why.
        case unpaid(Grant, PaymentShortfall, detail: String, note: String)
        /// Goes ahead with these keys, paying `price` when the grant is priced per disclosure — unless it retries
        /// a read already paid for under the same idempotency key.
        case disclose(Grant, keys: [String], price: Money?, retry: Retry? = nil)

        var auditedPerson: String? {
            switch self {
            case .refused: nil
            case .unpaid(let grant, _, _, _), .disclose(let grant, _, _, _): grant.personID.rawValue
            }
        }
    }

    /// One batch inside one transaction. A disclosure that is refused (unknown grant, revoked, expired, key not
    /// covered, unpaid) gets its error; the others go ahead. Locks, in this order: audit heads (by person), then
    /// wallets (by id) — the order per-month charges use too.
    static func run(_ items: [Item], on db: any SQLDatabase, kind: EngineKind, cache: GrantCache, memory: BatchMemory, records recordCache: RecordCache?,
                    fees: FeePolicy, accounts: KnownAccounts, numbers personNumbers: PersonNumbers) async throws -> ([Result<Disclosure, any Error>], [RecordCache.Snapshot], [LedgerAccountID]) {
        // On SQLite, rows nothing else has written since the last batch are taken from memory (see `BatchMemory`).
        let writer = db as? SQLiteWriteDatabase
        let stamp = try writer?.changeStamp()
        let ids = Array(Set(items.map(\.grantID)))
        let (grants, grantsRead) = try await currentGrants(ids, on: db, kind: kind, cache: cache,
                                                           remembered: stamp.map { memory.grants(ids, at: $0) } ?? [:])
        var outcomes: [Outcome] = items.map { item in
            guard let grant = grants[item.grantID], grant.organisationID == item.organisationID else {
                return .refused(DomainError.notFound(what: "grant", id: item.grantID.rawValue))
            }
            guard grant.isLive(at: item.at) else {
                return .refused(DomainError.grantNotActive(grantID: grant.id, status: grant.status(at: item.at), since: grant.stoppedAt))
            }
            if let asked = item.keys, let outside = asked.first(where: { !grant.keys.contains($0) }) {
                return .refused(DomainError.keyNotCovered(key: outside, grantID: grant.id, covered: grant.keys))
            }
            let keys = item.keys.map { asked in grant.keys.filter(asked.contains) } ?? grant.keys
            switch grant.offer.price {
            case (.perMonth, _)?:
                // A paid period is read freely to its end, whatever happened to the next one.
                if let paid = grant.paidUntil, paid > item.at { return .disclose(grant, keys: keys, price: nil) }
                if let suspended = grant.suspendedAt {
                    return .unpaid(grant, .suspended, detail: "grant \(grant.id) is suspended since \(suspended.rfc3339) because its monthly price could not be paid; it resumes once the wallet is funded and the period is charged",
                                   note: "the organisation has not paid this month of the grant")
                }
                return .unpaid(grant, .periodUnpaid, detail: "the current period of grant \(grant.id) is not paid yet; it is charged when it starts, so fund the wallet and retry",
                               note: "the organisation has not paid this month of the grant")
            case (.perDisclosure, let price)?:
                return .disclose(grant, keys: keys, price: price)
            case nil:
                return .disclose(grant, keys: keys, price: nil)
            }
        }

        let people = Array(Set(outcomes.compactMap(\.auditedPerson))).sorted()
        guard !people.isEmpty else {
            // Every disclosure of the batch was refused before any write.
            return (outcomes.map { outcome in
                if case .refused(let error) = outcome { return .failure(error) }
                return .failure(DomainError.unavailable("the disclosure could not be processed"))
            }, [], [])
        }
        let numbers = try await personNumbers.of(people, on: db)
        var heads = stamp == nil ? [:] : memory.heads(of: people)
        let unknownHeads = people.filter { heads[$0] == nil }
        heads.merge(try await ProfferStore.auditHeads(of: unknownHeads, on: db, kind: kind, forAppending: true)) { remembered, _ in remembered }
        let paidKeys = try await resolveRetries(&outcomes, items: items, on: db, kind: kind)
        try await settlePayments(&outcomes, on: db, kind: kind)
        // A retry of a read earlier in this batch that could not be paid cannot ride on it.
        for index in outcomes.indices {
            if case .disclose(_, _, _, .ofBatchItem(let first)?) = outcomes[index], case .unpaid = outcomes[first] { outcomes[index] = outcomes[first] }
        }

        // The record cache is used only with the stamp that says whether another process committed since it was filled.
        let cached = recordCache.flatMap { cache in stamp.map { (cache, othersVersion: $0.dataVersion) } }
        let (records, snapshots) = try await sealedRecords(for: outcomes, on: db, cached: cached)
        var results: [Result<Disclosure, any Error>] = []
        var entries: [ProfferStore.AuditRow] = []
        var transfers: [Transfer] = []
        var retries: [(person: String, seq: Int64, original: Int64)] = []
        var firstPaid: [Int: Int64] = [:]
        let idempotency = db.insert(into: "idempotency_keys").columns("scope", "key", "request_digest", "response", "created_at")
        var newKeys = 0
        func append(_ event: AuditEvent, for person: PersonID, charge: TransferID? = nil) throws -> AuditEntry {
            guard let number = numbers[person.rawValue] else { throw StorageError.corrupt("a grant refers to a missing person") }
            let head = heads[person.rawValue] ?? (0, AuditEntry.genesisHash)
            let entry = AuditEntry(event: event, personID: person, previousSequence: head.sequence, previousHash: head.hash)
            heads[person.rawValue] = (entry.sequence, entry.hash)
            entries.append(ProfferStore.AuditRow(entry: entry, personNumber: number, charge: charge))
            return entry
        }
        for (index, (item, outcome)) in zip(items, outcomes).enumerated() {
            let actor = "organisation:" + item.organisationID.rawValue
            switch outcome {
            case .refused(let error):
                results.append(.failure(error))
            case .unpaid(let grant, let shortfall, let detail, let note):
                _ = try append(AuditEvent(kind: .disclosureRefused, actor: actor, organisationID: item.organisationID, requestID: grant.requestID,
                                      grantID: grant.id, keys: [], note: "refused, no data sent: \(note)", at: item.at), for: grant.personID)
                results.append(.failure(DomainError.paymentRequired(grantID: grant.id, shortfall: shortfall, detail: detail)))
            case .disclose(let grant, let keys, let price, let retry):
                let sealed: [SealedRecord]
                if case .ofStored(_, let versions)? = retry {
                    sealed = try await Self.versions(versions, of: grant.personID, keys: keys, on: db)
                } else {
                    let held = records[grant.personID.rawValue] ?? [:]
                    var found: [SealedRecord] = []
                    found.reserveCapacity(keys.count)
                    for key in keys { if let record = held[key] { found.append(record) } }
                    sealed = found
                }
                let original: Int64? = switch retry {
                case .ofStored(let seq, _)?: seq
                case .ofBatchItem(let index)?: firstPaid[index]
                case nil: nil
                }
                let paymentNote: String? = if let original { "retry of disclosure \(original) under its Idempotency-Key; not charged again" } else { price.map { "paid \($0.formatted)" } }
                let note: String? = switch (item.channel, paymentNote) {
                case (let channel?, let payment?): channel + "; " + payment
                case (let only?, nil), (nil, let only?): only
                case (nil, nil): nil
                }
                let charge: TransferID? = price != nil && retry == nil ? .generateTimeOrdered(at: item.at) : nil
                let entry = try append(AuditEvent(kind: .disclosure, actor: actor, organisationID: item.organisationID, requestID: grant.requestID,
                                              grantID: grant.id, keys: sealed.map(\.key), note: note, at: item.at),
                                   for: grant.personID, charge: charge)
                if let original { retries.append((grant.personID.rawValue, entry.sequence, original)) }
                if price != nil, retry == nil, let key = item.idempotencyKey, paidKeys.contains(index) {
                    firstPaid[index] = entry.sequence
                    let paid = PaidRead(personId: grant.personID.rawValue, seq: entry.sequence,
                                        versions: Dictionary(sealed.map { ($0.key, $0.version) }, uniquingKeysWith: { first, _ in first }),
                                        at: item.at.millisecondsSinceEpoch)
                    idempotency.values([item.idempotencyScope, key, Self.digest(grant: grant.id, keys: keys), JSONColumn.encode(paid),
                                        item.at.millisecondsSinceEpoch] as [any Encodable & Sendable])
                    newKeys += 1
                }
                if let price, let charge {
                    transfers.append(try Transfer.charge(.disclosureCharge, price, id: charge, subject: .init(
                        grantID: grant.id, organisationID: grant.organisationID, personID: grant.personID, auditSequence: entry.sequence),
                        fees: fees, reference: nil, at: item.at))
                }
                results.append(.success(Disclosure(grant: grant, records: sealed, entry: entry, replayed: retry != nil)))
            }
        }
        outcomes.removeAll()
        // Everything the batch writes, sent as one chain of statements: one hop to the database and back
        // instead of one per statement.
        var writes: [any SQLExpression] = []
        if !entries.isEmpty {
            writes.append(ProfferStore.auditEntriesInsert(entries))
            if kind == .postgres {
                let written = Set(entries.map(\.entry.personID.rawValue))
                let moved = heads.filter { written.contains($0.key) }.sorted { $0.key < $1.key }.map { ($0.key, $0.value.sequence, $0.value.hash) }
                if let upsert = ProfferStore.auditHeadsUpsert(moved, on: db) { writes.append(upsert) }
            }
        }
        let (charges, created) = try chargeStatements(transfers, on: db, known: accounts)
        writes += charges
        if newKeys > 0 { writes.append(idempotency.query) }
        if !retries.isEmpty {
            let insert = db.insert(into: "disclosure_retries").columns("person_id", "seq", "original_seq")
            for retry in retries { insert.values([retry.person, retry.seq, retry.original] as [any Encodable & Sendable]) }
            writes.append(insert.query)
        }
        try await db.runInOneHop(writes)
        if let writer, let stamp { memory.remember(grants: grantsRead, heads: heads, at: try writer.changeStamp(after: stamp)) }
        return (results, snapshots, created)
    }

    /// How a retried priced read relates to the one it repeats.
    enum Retry: Equatable {
        /// Paid in an earlier batch: the stored disclosure's sequence number and the record versions it sent,
        /// which the retry sends again (the first result, even if the records changed since).
        case ofStored(Int64, versions: [String: Int64])
        /// Paid by an earlier item of this batch.
        case ofBatchItem(Int)
    }

    /// The record versions a paid read sent, for its retry: from the history, in the grant's key order.
    static func versions(_ versions: [String: Int64], of person: PersonID, keys: [String], on db: any SQLDatabase) async throws -> [SealedRecord] {
        guard !versions.isEmpty else { return [] }
        var found: [String: SealedRecord] = [:]
        for row in try await db.select().columns("key", "version", "ciphertext", "changed_at").from("record_versions")
            .where("person_id", .equal, person.rawValue).where("key", .in, Array(versions.keys)).all() {
            let key = try row.decode(column: "key", as: String.self)
            let version = try row.decode(column: "version", as: Int64.self)
            guard versions[key] == version, let ciphertext = try row.optional("ciphertext", as: Data.self) else { continue }
            found[key] = SealedRecord(key: key, version: version, ciphertext: ciphertext, changedAt: try row.timestamp("changed_at"))
        }
        return keys.compactMap { found[$0] }
    }

    /// How long a paid read can be retried under its idempotency key (then the key is refused: use a new one).
    static let replayWindowMilliseconds: Int64 = 24 * 3600 * 1000

    /// What is stored under a paid read's idempotency key: the disclosure, the record versions it sent, when.
    struct PaidRead: Codable {
        var personId: String
        var seq: Int64
        var versions: [String: Int64]
        var at: Int64
    }

    /// What an idempotency key of a priced read stands for: the grant and the keys read.
    static func digest(grant: GrantID, keys: [String]) -> Data {
        Data("disclosure|\(grant.rawValue)|\(keys.joined(separator: ","))".utf8)
    }

    /// Marks priced reads that retry an already paid read under the same idempotency key (stored, or earlier
    /// in this batch) so they are not charged again; refuses a key reused for another read. Returns the indices
    /// of the priced reads whose key is new, to be stored with the disclosure's sequence.
    static func resolveRetries(_ outcomes: inout [Outcome], items: [Item], on db: any SQLDatabase, kind: EngineKind) async throws -> Set<Int> {
        var keyed: [Int] = []
        for (index, outcome) in outcomes.enumerated() {
            if case .disclose(_, _, _?, _) = outcome, items[index].idempotencyKey != nil { keyed.append(index) }
        }
        guard !keyed.isEmpty else { return [] }
        if kind == .postgres {
            // Another instance may be handling the same new key right now: serialise on it (in a fixed order, after
            // the audit heads and before the wallets, like every batch) so only one of them pays.
            for id in Set(keyed.compactMap { index in items[index].idempotencyKey.map { "\(items[index].idempotencyScope)|\($0)" } }).sorted() {
                try await db.raw("SELECT pg_advisory_xact_lock(hashtextextended(\(bind: id), 0)) AS locked").run()
            }
        }
        var stored: [String: (digest: Data, seq: Int64, versions: [String: Int64], at: Timestamp)] = [:]
        let query = db.select().columns("scope", "key", "request_digest", "response").from("idempotency_keys")
            .where("scope", .in, Array(Set(keyed.map { items[$0].idempotencyScope })))
            .where("key", .in, Array(Set(keyed.compactMap { items[$0].idempotencyKey })))
        if kind == .postgres { query.for(.update) }
        for row in try await query.all() {
            let response = try JSONColumn.decode(PaidRead.self, try row.decode(column: "response", as: String.self))
            stored["\(try row.decode(column: "scope", as: String.self))|\(try row.decode(column: "key", as: String.self))"] =
                (try row.decode(column: "request_digest", as: Data.self), response.seq, response.versions,
                 Timestamp(millisecondsSinceEpoch: response.at))
        }
        var firstInBatch: [String: (Data, Int)] = [:]
        var fresh = Set<Int>()
        for index in keyed {
            guard case .disclose(let grant, let keys, let price, _) = outcomes[index], let key = items[index].idempotencyKey else { continue }
            let id = "\(items[index].idempotencyScope)|\(key)"
            let digest = Self.digest(grant: grant.id, keys: keys)
            if let first = stored[id] {
                if first.digest != digest {
                    outcomes[index] = .refused(LedgerError.idempotencyConflict(key: key))
                } else if items[index].at.millisecondsSinceEpoch - first.at.millisecondsSinceEpoch > Self.replayWindowMilliseconds {
                    outcomes[index] = .refused(LedgerError.idempotencyExpired(key: key))
                } else {
                    outcomes[index] = .disclose(grant, keys: keys, price: price, retry: .ofStored(first.seq, versions: first.versions))
                }
            } else if let (firstDigest, first) = firstInBatch[id] {
                outcomes[index] = firstDigest == digest ? .disclose(grant, keys: keys, price: price, retry: .ofBatchItem(first))
                    : .refused(LedgerError.idempotencyConflict(key: key))
            } else {
                firstInBatch[id] = (digest, index)
                fresh.insert(index)
            }
        }
        return fresh
    }

    /// Grants by id with their current state: immutable fields from the cache where known, what changes
    /// (revocation, expiry, payment, suspension) from `remembered` (on SQLite, while nothing else has written; see
    /// `BatchMemory`) or else from the database. On PostgreSQL the rows are share-locked until the batch commits, so a
    /// revocation (which takes the grant's row lock first, as every writer of grants does) cannot commit between this
    /// read and the disclosure. Returns the grants and the changing state it read from the database.
    static func currentGrants(_ ids: [GrantID], on db: any SQLDatabase, kind: EngineKind, cache: GrantCache,
                              remembered: [GrantID: Grant.Changing]) async throws -> ([GrantID: Grant], [GrantID: Grant.Changing]) {
        var grants: [GrantID: Grant] = [:]
        grants.reserveCapacity(ids.count)
        var read: [GrantID: Grant.Changing] = [:]
        var known = cache.lookup(ids)
        for (id, state) in remembered {
            guard var grant = known.removeValue(forKey: id) else { continue }
            grant.changing = state
            grants[id] = grant
        }
        if !known.isEmpty {
            let query = db.select().columns("id", "expires_at", "revoked_at", "paid_until", "suspended_at").from("grants")
                .where("id", .in, known.keys.map(\.rawValue)).orderBy("id")
            if kind == .postgres { query.for(.share) }
            for row in try await query.all() {
                let id = GrantID(trusted: try row.decode(column: "id", as: String.self))
                guard var grant = known[id] else { continue }
                grant.changing = Grant.Changing(expiresAt: try row.timestamp("expires_at"), revokedAt: try row.optionalTimestamp("revoked_at"),
                                                paidUntil: try row.optionalTimestamp("paid_until"), suspendedAt: try row.optionalTimestamp("suspended_at"))
                grants[id] = grant
                read[id] = grant.changing
            }
        }
        let unknown = ids.filter { grants[$0] == nil && known[$0] == nil }.map(\.rawValue)
        if !unknown.isEmpty {
            let query = db.select().column("*").from("grants").where("id", .in, unknown).orderBy("id")
            if kind == .postgres { query.for(.share) }
            for row in try await query.all() {
                let grant = try ProfferStore.grant(row)
                grants[grant.id] = grant
                read[grant.id] = grant.changing
                cache.remember(grant)
            }
        }
        return (grants, read)
    }

    /// Decides which per-disclosure payments the wallets can make, in the batch's order: each wallet is read
    /// under lock once and drawn down in memory, so exactly the affordable disclosures go ahead; the rest become
    /// audited refusals.
    static func settlePayments(_ outcomes: inout [Outcome], on db: any SQLDatabase, kind: EngineKind) async throws {
        var wallets = Set<String>()
        for case .disclose(let grant, _, let price?, nil) in outcomes {
            wallets.insert(LedgerAccountID.wallet(grant.organisationID, price.currency).rawValue)
        }
        guard !wallets.isEmpty else { return }
        var balances: [String: Int64] = [:]
        let query = db.select().columns("id", "balance").from("ledger_accounts").where("id", .in, Array(wallets)).orderBy("id")
        if kind == .postgres { query.for(.update) }
        for row in try await query.all() {
            balances[try row.decode(column: "id", as: String.self)] = try row.decode(column: "balance", as: Int64.self)
        }
        for index in outcomes.indices {
            guard case .disclose(let grant, _, let price?, nil) = outcomes[index] else { continue }
            let wallet = LedgerAccountID.wallet(grant.organisationID, price.currency).rawValue
            let balance = balances[wallet] ?? 0
            if balance >= price.minorUnits {
                balances[wallet] = balance - price.minorUnits
            } else {
                outcomes[index] = .unpaid(grant, .insufficientFunds, detail: "your wallet holds \(Money(minorUnits: balance, currency: price.currency).formatted), less than the \(price.formatted) this disclosure under grant \(grant.id) costs; fund the wallet and retry",
                                          note: "the organisation could not pay the \(price.formatted) this read costs")
            }
        }
    }

    /// A batch's charges as three or four statements: the transfers, the kept balances (wallets, fees) moved by
    /// the sum of their legs, earnings accounts created on first use (their balances are derived from their
    /// entries, see `LedgerAccountKind.balanceIsDerived`), and the legs.
    /// Returns the earnings accounts it made sure exist, to be remembered once the batch commits.
    static func chargeStatements(_ transfers: [Transfer], on db: any SQLDatabase, known: KnownAccounts) throws -> ([any SQLExpression], [LedgerAccountID]) {
        guard let transfersInsert = ProfferStore.transfersInsert(transfers) else { return ([], []) }
        var statements: [any SQLExpression] = [transfersInsert]
        var deltas: [LedgerAccountID: (kind: LedgerAccountKind, currency: String, amount: Int64)] = [:]
        for transfer in transfers {
            for leg in transfer.legs {
                let current = deltas[leg.account]?.amount ?? 0
                deltas[leg.account] = (leg.kind, transfer.currency, try current.checkedAdding(leg.amount))
            }
        }
        let ordered = deltas.sorted { $0.key.rawValue < $1.key.rawValue }
        let kept = ordered.filter { !$0.value.kind.balanceIsDerived }
        if !kept.isEmpty {
            let upsert = db.insert(into: "ledger_accounts").columns("id", "kind", "currency", "balance", "minimum")
            for (account, delta) in kept {
                upsert.values([account.rawValue, delta.kind.rawValue, delta.currency, delta.amount, Int64(0)] as [any Encodable & Sendable])
            }
            statements.append(upsert.onConflict(with: ["id"]) { $0.set("balance", to: SQLRaw("ledger_accounts.balance + excluded.balance")) }.query)
        }
        let derived = known.unknown(ordered.filter { $0.value.kind.balanceIsDerived })
        if !derived.isEmpty {
            let create = db.insert(into: "ledger_accounts").columns("id", "kind", "currency", "balance", "minimum")
            for (account, delta) in derived {
                create.values([account.rawValue, delta.kind.rawValue, delta.currency, Int64(0), Int64(0)] as [any Encodable & Sendable])
            }
            statements.append(create.ignoringConflicts(with: ["id"]).query)
        }
        if let entries = ProfferStore.entriesInsert(transfers) { statements.append(entries) }
        return (statements, derived.map(\.key))
    }

    /// The sealed records the disclosures of a batch need, from the record cache where possible (SQLite);
    /// returns what was read so the cache can be filled after the commit.
    static func sealedRecords(for outcomes: [Outcome], on db: any SQLDatabase, cached: (RecordCache, othersVersion: Int64)?)
        async throws -> ([String: [String: SealedRecord]], [RecordCache.Snapshot]) {
        var records: [String: [String: SealedRecord]] = [:]
        records.reserveCapacity(outcomes.count)
        var snapshots: [RecordCache.Snapshot] = []
        var readers: [String] = []
        for case .disclose(let grant, _, _, _) in outcomes { readers.append(grant.personID.rawValue) }
        let persons = Array(Set(readers)).sorted()
        guard !persons.isEmpty else { return ([:], []) }
        if let (recordCache, othersVersion) = cached {
            // Whole record sets per person, from memory where possible; the misses are read and offered back.
            let (hits, generations) = recordCache.lookup(persons.map(PersonID.init(trusted:)), othersVersion: othersVersion)
            for (person, set) in hits { records[person.rawValue] = set }
            let misses = persons.filter { records[$0] == nil }
            if !misses.isEmpty {
                for row in try await db.select().columns("person_id", "key", "version", "ciphertext", "updated_at").from("records")
                    .where("person_id", .in, misses).all() {
                    let record = try Self.sealed(row)
                    records[try row.decode(column: "person_id", as: String.self), default: [:]][record.key] = record
                }
                snapshots = misses.map { person in
                    let id = PersonID(trusted: person)
                    return RecordCache.Snapshot(person: id, generation: generations[id] ?? 0, othersVersion: othersVersion, records: records[person] ?? [:])
                }
            }
        } else {
            var keys = Set<String>()
            for case .disclose(_, let granted, _, _) in outcomes { keys.formUnion(granted) }
            guard !keys.isEmpty else { return ([:], []) }
            for row in try await db.select().columns("person_id", "key", "version", "ciphertext", "updated_at").from("records")
                .where("person_id", .in, persons).where("key", .in, Array(keys)).all() {
                let record = try Self.sealed(row)
                records[try row.decode(column: "person_id", as: String.self), default: [:]][record.key] = record
            }
        }
        return (records, snapshots)
    }

    static func sealed(_ row: any SQLRow) throws -> SealedRecord {
        SealedRecord(key: Catalogue.standard.shared(try row.decode(column: "key", as: String.self)), version: try row.decode(column: "version", as: Int64.self),
                     ciphertext: try row.decode(column: "ciphertext", as: Data.self), changedAt: try row.timestamp("updated_at"))
    }
}

extension SQLDatabase {
    /// Runs statements in order as one chain on the database's event loop, so the caller waits for one hop
    /// instead of one per statement. Stops at the first failure (the transaction is the caller's).
    func runInOneHop(_ statements: [any SQLExpression]) async throws {
        guard let first = statements.first else { return }
        let ignoreRows: @Sendable (any SQLRow) -> Void = { _ in }
        var chain: EventLoopFuture<Void> = execute(sql: first, ignoreRows)
        for statement in statements.dropFirst() {
            chain = chain.flatMap { self.execute(sql: statement, ignoreRows) as EventLoopFuture<Void> }
        }
        try await chain.get()
    }
}
