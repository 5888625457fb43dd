import Foundation
import ProfferCore
import ProfferStorage
import Synchronization

/// Seals and opens record values with each person's data key. Unwrapped keys are kept in memory so the
/// disclosure path does not unwrap on every read, and so is what disclosures made of the values they opened, so an
/// organisation reading a grant again does not decrypt and render unchanged records again.
final class RecordVault: Sendable {
    let masterKey: MasterKey
    private let cache = Mutex(Cache())
    private let openedLimit: Int

    /// Each person's unwrapped key with their handle (what a disclosure needs, found with one look-up), the values
    /// disclosures opened, and the people whose accounts were closed while this process ran: a look-up that began
    /// before a closure must not put their key or values back after `forget` removed them.
    private struct Cache {
        var people: [PersonID: KeyedPerson] = [:]
        var opened: [IdentifierKey<PersonTag>: [String: OpenedValue]] = [:]
        var forgotten: Set<PersonID> = []
    }

    /// A record as a disclosure sent it: the ciphertext and change time it came from, which a later disclosure
    /// compares before reusing it (any change — a new version, a deletion, an import, a tampered row — is a different
    /// ciphertext and is opened afresh), and what the disclosure made of its value.
    private struct OpenedValue {
        let ciphertext: Data
        let changedAt: Timestamp
        let rendered: [UInt8]
    }

    /// A person's handle and unwrapped data key, both immutable, from memory when seen before.
    struct KeyedPerson: Sendable {
        let handle: String
        let dataKey: DataKey
    }

    func keyed(_ id: PersonID, load: () async throws -> Person?) async throws -> KeyedPerson? {
        if let found = cache.withLock({ $0.people[id] }) { return found }
        guard let person = try await load() else { return nil }
        return KeyedPerson(handle: person.handle, dataKey: try dataKey(for: person))
    }

    /// Forgets a person's unwrapped key and handle: after their account is closed no copy of the key may outlive
    /// the wrapped one destroyed in the database.
    func forget(_ id: PersonID) {
        cache.withLock { cache in
            cache.people[id] = nil
            if let key = id.key { cache.opened[key] = nil }
            cache.forgotten.insert(id)
        }
    }

    /// Whether anything of the person is held: their unwrapped key or a value a disclosure opened.
    func holdsAnything(of id: PersonID) -> Bool {
        cache.withLock { cache in cache.people[id] != nil || id.key.map { cache.opened[$0] != nil } ?? false }
    }

    /// `openedLimit`: how many people's opened values are kept; beyond it they are all dropped and opened again. Zero
    /// keeps none: every disclosure opens its records and no value outlives its answer.
    init(masterKey: MasterKey, openedLimit: Int = ServerConfiguration.defaultDisclosureCachePeople) {
        self.masterKey = masterKey
        self.openedLimit = openedLimit
    }

    /// Drops the values disclosures opened for a person, when this process changed or deleted one of their records.
    /// (Not needed for correctness — a changed record has another ciphertext — but a deleted value should not stay
    /// in memory for as long as nobody reads that grant.)
    func dropOpened(_ id: PersonID) {
        guard let key = id.key else { return }
        _ = cache.withLock { $0.opened.removeValue(forKey: key) }
    }

    func dataKey(for person: Person) throws -> DataKey {
        // A closed account's key is destroyed; asking for it is a clean refusal, not a failed unwrap.
        if let erasedAt = person.erasedAt { throw DomainError.personErased(handle: person.handle, at: erasedAt) }
        if let cached = cache.withLock({ $0.people[person.id] }) { return cached.dataKey }
        let key = try masterKey.unwrap(person.wrappedDataKey, for: person.id)
        try cache.withLock { cache in
            if cache.forgotten.contains(person.id) { throw DomainError.personErased(handle: person.handle, at: .now()) }
            if cache.people.count > 100_000 { cache.people.removeAll(keepingCapacity: true) }
            cache.people[person.id] = KeyedPerson(handle: person.handle, dataKey: key)
        }
        return key
    }

    func seal(_ value: JSONValue, key name: String, version: Int64, with dataKey: DataKey) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try dataKey.seal(try encoder.encode(value), key: name, version: version)
    }

    /// What a disclosure sends of each record, in order, deletion markers left out: `render` of the record and its
    /// value as the JSON it was sealed as. What was rendered before from the same ciphertext and change time is taken
    /// from memory, so `render` must depend on nothing else.
    func disclosedValues(_ records: [SealedRecord], of person: PersonID, with dataKey: DataKey,
                         render: (SealedRecord, Data) -> [UInt8]) throws -> [(key: String, member: [UInt8])] {
        // A person whose id has no compact key (none does) is simply opened every time, as is everyone when the
        // operator keeps no values.
        let personKey = openedLimit > 0 ? person.key : nil
        let known = personKey.flatMap { key in cache.withLock { $0.opened[key] } } ?? [:]
        var values: [(key: String, member: [UInt8])] = []
        values.reserveCapacity(records.count)
        var fresh: [String: OpenedValue] = [:]
        var deleted: [String] = []
        for record in records {
            guard let ciphertext = record.ciphertext else {
                if known[record.key] != nil { deleted.append(record.key) }
                continue
            }
            if let value = known[record.key], value.changedAt == record.changedAt, value.ciphertext == ciphertext {
                values.append((record.key, value.rendered))
                continue
            }
            let rendered = render(record, try dataKey.open(ciphertext, key: record.key, version: record.version))
            fresh[record.key] = OpenedValue(ciphertext: ciphertext, changedAt: record.changedAt, rendered: rendered)
            values.append((record.key, rendered))
        }
        if let personKey, !fresh.isEmpty || !deleted.isEmpty {
            cache.withLock { cache in
                guard !cache.forgotten.contains(person) else { return }
                if cache.opened[personKey] == nil, cache.opened.count >= openedLimit { cache.opened.removeAll(keepingCapacity: true) }
                var opened = cache.opened[personKey] ?? [:]
                opened.merge(fresh) { _, new in new }
                for key in deleted { opened[key] = nil }
                cache.opened[personKey] = opened.isEmpty ? nil : opened
            }
        }
        return values
    }

    func open(_ record: SealedRecord, with dataKey: DataKey) throws -> JSONValue? {
        guard let ciphertext = record.ciphertext else { return nil }
        let plain = try dataKey.open(ciphertext, key: record.key, version: record.version)
        return try JSONDecoder().decode(JSONValue.self, from: plain)
    }
}
