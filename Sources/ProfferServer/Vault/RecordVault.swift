import Foundation
import ProfferCore
import ProfferStorage
import Synchronization

/// Seals and opens record values with each person's data key. Unwrapped keys are kept in memory so the
/// disclosure path does not unwrap on every read.
final class RecordVault: Sendable {
    let masterKey: MasterKey
    private let keys = Mutex<[PersonID: DataKey]>([:])
    private let handles = Mutex<[PersonID: String]>([:])

    /// A person's handle and unwrapped data key, both immutable, from memory when seen before.
    struct KeyedPerson: Sendable {
        let handle: String
        let dataKey: DataKey
    }

    func keyed(_ id: PersonID, load: () async throws -> Person?) async throws -> KeyedPerson? {
        if let key = keys.withLock({ $0[id] }), let handle = handles.withLock({ $0[id] }) {
            return KeyedPerson(handle: handle, dataKey: key)
        }
        guard let person = try await load() else { return nil }
        let key = try dataKey(for: person)
        handles.withLock { cache in
            if cache.count > 100_000 { cache.removeAll(keepingCapacity: true) }
            cache[id] = person.handle
        }
        return KeyedPerson(handle: person.handle, dataKey: key)
    }

    /// Forgets a person's unwrapped key and handle: after their account is closed no copy of the key may outlive
    /// the wrapped one destroyed in the database.
    func forget(_ id: PersonID) {
        keys.withLock { $0[id] = nil }
        handles.withLock { $0[id] = nil }
    }

    init(masterKey: MasterKey) {
        self.masterKey = masterKey
    }

    func dataKey(for person: Person) throws -> DataKey {
        if let cached = keys.withLock({ $0[person.id] }) { return cached }
        let key = try masterKey.unwrap(person.wrappedDataKey, for: person.id)
        keys.withLock { cache in
            if cache.count > 100_000 { cache.removeAll(keepingCapacity: true) }
            cache[person.id] = key
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
