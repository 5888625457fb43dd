import ProfferCore
import Synchronization

/// Each person's current sealed records, kept for the disclosure path on SQLite. This process's writes invalidate a
/// person inside their write job; a disclosure batch fills the cache only after its transaction committed, and only if
/// no write touched that person since the batch read the rows (a per-person generation). Another process's commit to the
/// same file (an operator's `proffer import` or `proffer person erase` while the server runs) empties the whole cache:
/// the batch finds it by the write connection's `PRAGMA data_version`, which moves only then. So a cached value is never
/// older than the last committed write, whoever made it.
final class RecordCache: Sendable {
    struct Snapshot: Sendable {
        let person: PersonID
        let generation: UInt64
        /// The other connections' commits the batch had seen (see `lookup`).
        let othersVersion: Int64
        let records: [String: SealedRecord]
    }

    private struct State {
        var records: [IdentifierKey<PersonTag>: [String: SealedRecord]] = [:]
        var generations: [IdentifierKey<PersonTag>: UInt64] = [:]
        /// The write connection's `PRAGMA data_version` the records are current for.
        var othersVersion: Int64?
    }

    private let state = Mutex(State())
    private let limit: Int

    init(limit: Int = 50_000) {
        self.limit = limit
    }

    /// Cached records and the current generation, per person. `othersVersion` is the write connection's
    /// `PRAGMA data_version` inside the asking batch's transaction: when another connection committed since the cache
    /// was last asked, nothing cached can be trusted and all of it is dropped.
    func lookup(_ people: [PersonID], othersVersion: Int64) -> (hits: [PersonID: [String: SealedRecord]], generations: [PersonID: UInt64]) {
        state.withLock { state in
            if state.othersVersion != othersVersion {
                state.records.removeAll()
                state.othersVersion = othersVersion
            }
            var hits: [PersonID: [String: SealedRecord]] = [:]
            var generations: [PersonID: UInt64] = [:]
            hits.reserveCapacity(people.count)
            generations.reserveCapacity(people.count)
            for person in people {
                // A person whose id has no compact key (none does) is never cached: always read.
                guard let key = person.key else { continue }
                generations[person] = state.generations[key] ?? 0
                if let records = state.records[key] { hits[person] = records }
            }
            return (hits, generations)
        }
    }

    /// Called inside a write job that changes a person's records, before it changes them.
    func invalidate(_ person: PersonID) {
        guard let key = person.key else { return }
        state.withLock { state in
            state.records[key] = nil
            state.generations[key, default: 0] &+= 1
        }
    }

    /// Called after a committed batch: stores what it read, unless a write invalidated the person meanwhile or a later
    /// batch saw another connection's commit.
    func fill(_ snapshots: [Snapshot]) {
        state.withLock { state in
            if state.records.count + snapshots.count > limit { state.records.removeAll(keepingCapacity: true) }
            for snapshot in snapshots {
                guard snapshot.othersVersion == state.othersVersion, let key = snapshot.person.key,
                      (state.generations[key] ?? 0) == snapshot.generation else { continue }
                state.records[key] = snapshot.records
            }
        }
    }
}
