import Foundation
import ProfferCore
import ProfferStorage
import Synchronization

/// Seals and opens record values with each person's data key. Unwrapped keys are kept in memory so the
/// disclosure path does not unwrap on every read.
final class RecordVault: Sendable {
    let masterKey: MasterKey
    private let cache = Mutex(Cache())

    /// Each person's unwrapped key with their handle (what a disclosure needs, found with one look-up), and the
    /// people whose accounts were closed while this process ran: a look-up that began before a closure must not put
    /// their key back after `forget` removed it.
    private struct Cache {
        var people: [PersonID: KeyedPerson] = [:]
        var forgotten: Set<PersonID> = []
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
            cache.forgotten.insert(id)
        }
    }

    init(masterKey: MasterKey) {
        self.masterKey = masterKey
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

    /// The record's value as the JSON it was sealed as (nil for a deletion marker).
    func openJSON(_ record: SealedRecord, with dataKey: DataKey) throws -> Data? {
        guard let ciphertext = record.ciphertext else { return nil }
        return try dataKey.open(ciphertext, key: record.key, version: record.version)
    }

    func open(_ record: SealedRecord, with dataKey: DataKey) throws -> JSONValue? {
        guard let ciphertext = record.ciphertext else { return nil }
        let plain = try dataKey.open(ciphertext, key: record.key, version: record.version)
        return try JSONDecoder().decode(JSONValue.self, from: plain)
    }
}
