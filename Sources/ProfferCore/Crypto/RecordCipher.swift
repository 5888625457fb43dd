import Crypto
import Foundation

/// Envelope encryption for records: each person has a random data key, stored only wrapped
/// (AES-GCM) under the server's master key; record values are sealed with the data key.
/// Destroying the wrapped key destroys every copy of the records, backups included.
public struct MasterKey: Sendable {
    let key: SymmetricKey

    /// A master key from 32 raw bytes.
    public init(rawBytes: Data) throws(CipherError) {
        guard rawBytes.count == 32 else { throw CipherError.badKeyLength(rawBytes.count) }
        self.key = SymmetricKey(data: rawBytes)
    }

    public static func generate() -> (MasterKey, Data) {
        let key = SymmetricKey(size: .bits256)
        let bytes = key.withUnsafeBytes { Data($0) }
        return (MasterKey(key: key), bytes)
    }

    init(key: SymmetricKey) { self.key = key }

    /// Makes a fresh data key for a person and returns it with its wrapped form for storage.
    public func newDataKey(for person: PersonID) throws -> (DataKey, Data) {
        let dataKey = SymmetricKey(size: .bits256)
        let wrapped = try wrap(dataKey, for: person)
        return (DataKey(key: dataKey), wrapped)
    }

    func wrap(_ dataKey: SymmetricKey, for person: PersonID) throws -> Data {
        let plain = dataKey.withUnsafeBytes { Data($0) }
        let box = try AES.GCM.seal(plain, using: key, authenticating: Data(("proffer-data-key:" + person.rawValue).utf8))
        guard let combined = box.combined else { throw CipherError.sealFailed }
        return combined
    }

    /// Unwraps a person's data key; fails if the wrapped key was altered or belongs to someone else.
    public func unwrap(_ wrapped: Data, for person: PersonID) throws(CipherError) -> DataKey {
        do {
            let box = try AES.GCM.SealedBox(combined: wrapped)
            let plain = try AES.GCM.open(box, using: key, authenticating: Data(("proffer-data-key:" + person.rawValue).utf8))
            return DataKey(key: SymmetricKey(data: plain))
        } catch {
            throw CipherError.unwrapFailed
        }
    }
}

extension MasterKey {
    /// A key for one purpose derived from the master key (HKDF-SHA256), so several server instances sharing the master
    /// key agree on it and it never needs storing.
    public func derivedKey(for purpose: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Data("proffer:\(purpose)".utf8), outputByteCount: 32)
    }

    /// Seals a webhook endpoint's signing secret for storage (the server must keep it to sign, so it cannot be hashed).
    public func sealWebhookSecret(_ secret: WebhookSecret, for endpoint: WebhookEndpointID) throws -> Data {
        let box = try AES.GCM.seal(secret.key, using: key, authenticating: Data(("proffer-webhook-secret:" + endpoint.rawValue).utf8))
        guard let combined = box.combined else { throw CipherError.sealFailed }
        return combined
    }

    public func openWebhookSecret(_ sealed: Data, for endpoint: WebhookEndpointID) throws(CipherError) -> WebhookSecret {
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            return WebhookSecret(key: try AES.GCM.open(box, using: key, authenticating: Data(("proffer-webhook-secret:" + endpoint.rawValue).utf8)))
        } catch {
            throw CipherError.unwrapFailed
        }
    }
}

/// A person's unwrapped data key.
public struct DataKey: Sendable {
    let key: SymmetricKey

    /// Seals a record value; the key name and version are bound as associated data so a ciphertext
    /// cannot be moved to another key or version undetected.
    public func seal(_ plaintext: Data, key name: String, version: Int64) throws -> Data {
        let box = try AES.GCM.seal(plaintext, using: key, authenticating: Self.aad(name, version))
        guard let combined = box.combined else { throw CipherError.sealFailed }
        return combined
    }

    public func open(_ ciphertext: Data, key name: String, version: Int64) throws(CipherError) -> Data {
        do {
            let box = try AES.GCM.SealedBox(combined: ciphertext)
            return try AES.GCM.open(box, using: key, authenticating: Self.aad(name, version))
        } catch {
            throw CipherError.openFailed
        }
    }

    /// `proffer-record:<name>:<version>`, as bytes appended into one buffer: this runs for every record of every
    /// disclosure, where building it as a String and converting that to Data cost a fifth of opening the record.
    static func aad(_ name: String, _ version: Int64) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(36 + name.utf8.count)
        bytes.append(contentsOf: "proffer-record:".utf8)
        bytes.append(contentsOf: name.utf8)
        bytes.append(UInt8(ascii: ":"))
        bytes.append(contentsOf: String(version).utf8)
        return bytes
    }
}

public enum CipherError: Error, Sendable, Equatable {
    case badKeyLength(Int)
    case sealFailed
    case unwrapFailed
    case openFailed
}
