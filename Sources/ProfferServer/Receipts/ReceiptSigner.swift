import Crypto
import Foundation
import JWTKit
import ProfferCore

/// The JWS payload of a consent receipt: the receipt document itself.
struct ReceiptPayload: JWTPayload {
    var document: JSONValue

    init(document: JSONValue) { self.document = document }

    init(from decoder: any Decoder) throws {
        document = try JSONValue(from: decoder)
    }

    func encode(to encoder: any Encoder) throws {
        try document.encode(to: encoder)
    }

    /// Receipts do not expire; their signature is the whole check.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Signs consent receipts as compact JWS (EdDSA, Ed25519) with the newest receipt key. Every receipt key
/// ever used stays in the data directory and in the JWKS, so rotation never breaks old receipts.
final class ReceiptSigner: Sendable {
    struct Key: Sendable {
        let kid: String
        let privateKey: Curve25519.Signing.PrivateKey
    }

    let keys: [Key]
    let collection: JWTKeyCollection
    var activeKid: String { keys.last?.kid ?? "" }

    /// Loads `receipt-keys/*.key` from the data directory (creating the first key when there is none).
    init(dataDirectory: String) async throws {
        var keys = try Self.loadKeys(dataDirectory: dataDirectory)
        if keys.isEmpty {
            keys = [try Self.addKey(dataDirectory: dataDirectory)]
        }
        let collection = JWTKeyCollection()
        for key in keys {
            await collection.add(eddsa: EdDSA.PrivateKey(backing: key.privateKey), kid: JWKIdentifier(string: key.kid))
        }
        self.keys = keys
        self.collection = collection
    }

    static func directory(_ dataDirectory: String) -> URL {
        URL(fileURLWithPath: dataDirectory).appendingPathComponent("receipt-keys")
    }

    static func kid(for publicKey: Curve25519.Signing.PublicKey) -> String {
        "receipt-" + Hex.encode(Data(SHA256.hash(data: publicKey.rawRepresentation)).prefix(8))
    }

    /// Keys in creation order (file names start with a sortable timestamp).
    static func loadKeys(dataDirectory: String) throws -> [Key] {
        let directory = directory(dataDirectory)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        return try names.filter { $0.hasSuffix(".key") }.sorted().map { name in
            guard let bytes = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path),
                  let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: bytes)
            else { throw ConfigurationError("the receipt key \(name) in \(directory.path) is damaged") }
            return Key(kid: kid(for: key.publicKey), privateKey: key)
        }
    }

    /// Creates a new receipt key, which becomes the active one. Returns it.
    @discardableResult
    static func addKey(dataDirectory: String) throws -> Key {
        let directory = directory(dataDirectory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let key = Curve25519.Signing.PrivateKey()
        // A zero-padded sequence number first, so that name order is creation order even within one second.
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".key") }.count) ?? 0
        let sequence = String(existing + 1)
        let kid = kid(for: key.publicKey)
        let path = directory.appendingPathComponent(String(repeating: "0", count: max(0, 6 - sequence.count)) + sequence + "-\(kid).key").path
        guard FileManager.default.createFile(atPath: path, contents: key.rawRepresentation, attributes: [.posixPermissions: 0o600]) else {
            throw ConfigurationError("cannot write \(path)")
        }
        return Key(kid: kid, privateKey: key)
    }

    func sign(_ document: JSONValue) async throws -> String {
        var header = JWTHeader()
        header.typ = "JWT"
        header.cty = "kantara-consent-receipt+json"
        return try await collection.sign(ReceiptPayload(document: document), kid: JWKIdentifier(string: activeKid), header: header)
    }

    var jwks: [JWKDocument] {
        keys.map { JWKDocument(ed25519: $0.privateKey.publicKey, kid: $0.kid) }
    }
}
