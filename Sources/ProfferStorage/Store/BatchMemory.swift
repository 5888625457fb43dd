import ProfferCore
import Synchronization

/// On SQLite, what disclosure batches last read or wrote of the rows every batch needs — each grant's changing state
/// (expiry, revocation, payment, suspension) and each person's chain head — kept from one batch to the next while the
/// write connection's change stamp shows that nothing else was written in between.
///
/// Anything else written changes the stamp: a revocation, a record change, a period charge — any write path of this
/// process, present or future, since they all share the one write connection — and any commit by another process
/// (an operator command on the same file). Then everything is forgotten and the next batch reads those rows again, so
/// a batch never relies on a row another writer may have changed. A batch that fails, or whose transaction fails to
/// commit, forgets everything too.
final class BatchMemory: Sendable {
    /// A chain's newest link.
    typealias Head = (sequence: Int64, hash: String)

    private struct Memory: ~Copyable {
        var stamp: WriterChangeStamp?
        var grants: [IdentifierKey<GrantTag>: Grant.Changing] = [:]
        var heads: [IdentifierKey<PersonTag>: Head] = [:]
    }

    private let memory = Mutex(Memory())
    /// Entries of each kind kept at most; past it that kind is emptied and refills as batches read.
    private let limit: Int

    init(limit: Int = 200_000) {
        self.limit = limit
    }

    /// The remembered state of these grants, if nothing was written since the last batch (`stamp` is the write
    /// connection's now); otherwise forgets everything and returns nothing.
    func grants(_ ids: [GrantID], at stamp: WriterChangeStamp) -> [GrantID: Grant.Changing] {
        memory.withLock { memory in
            guard memory.stamp == stamp else {
                memory = Memory()
                return [:]
            }
            var found: [GrantID: Grant.Changing] = [:]
            found.reserveCapacity(ids.count)
            for id in ids { if let key = id.key, let state = memory.grants[key] { found[id] = state } }
            return found
        }
    }

    /// The remembered heads of these people's chains (after `grants(_:at:)` has checked the stamp).
    func heads(of people: [String]) -> [String: Head] {
        memory.withLock { memory in
            var found: [String: Head] = [:]
            found.reserveCapacity(people.count)
            for person in people { if let key = PersonID(trusted: person).key, let head = memory.heads[key] { found[person] = head } }
            return found
        }
    }

    /// Remembers what a batch read and the heads it left, with the write connection's stamp after its writes.
    func remember(grants: [GrantID: Grant.Changing], heads: [String: Head], at stamp: WriterChangeStamp) {
        memory.withLock { memory in
            if memory.grants.count + grants.count > limit { memory.grants.removeAll(keepingCapacity: true) }
            if memory.heads.count + heads.count > limit { memory.heads.removeAll(keepingCapacity: true) }
            for (id, state) in grants { if let key = id.key { memory.grants[key] = state } }
            for (person, head) in heads { if let key = PersonID(trusted: person).key { memory.heads[key] = head } }
            memory.stamp = stamp
        }
    }

    /// Forgets everything (a batch failed, or its transaction did not commit).
    func forget() {
        memory.withLock { $0 = Memory() }
    }
}
