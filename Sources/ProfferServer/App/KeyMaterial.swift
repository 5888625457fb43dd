import Crypto
import Foundation
import ProfferCore

/// The server's secrets: the master key that wraps every person's data key, the Ed25519 key that signs
/// access tokens, and the operator's admin token. Each comes from configuration or is generated once into
/// the data directory, readable by the owner only (0600).
public struct KeyMaterial: Sendable {
    public let masterKey: MasterKey
    public let signingKey: Curve25519.Signing.PrivateKey
    public let adminToken: String

    public static func load(configuration: ServerConfiguration) throws -> KeyMaterial {
        let directory = URL(fileURLWithPath: configuration.dataDirectory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])

        let masterBytes: Data
        if let configured = configuration.masterKey {
            guard let bytes = Data(base64Encoded: configured), bytes.count == 32 else {
                throw ConfigurationError("the master key must be 32 bytes, base64-encoded (e.g. from `openssl rand -base64 32`)")
            }
            masterBytes = bytes
        } else {
            masterBytes = try secretFile(directory.appendingPathComponent("master.key")) { MasterKey.generate().1 }
        }
        let signingBytes = try secretFile(directory.appendingPathComponent("signing.key")) {
            Curve25519.Signing.PrivateKey().rawRepresentation
        }
        let adminToken: String
        if let configured = configuration.adminToken {
            guard configured.count >= 24 else { throw ConfigurationError("the admin token must be at least 24 characters") }
            adminToken = configured
        } else {
            let bytes = try secretFile(directory.appendingPathComponent("admin.token")) {
                Data(SecretToken.generate(prefix: "adm").utf8)
            }
            adminToken = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        do {
            return KeyMaterial(
                masterKey: try MasterKey(rawBytes: masterBytes),
                signingKey: try Curve25519.Signing.PrivateKey(rawRepresentation: signingBytes),
                adminToken: adminToken
            )
        } catch {
            throw ConfigurationError("a key file in \(configuration.dataDirectory) is damaged: \(error)")
        }
    }

    /// Reads a secret file, creating it with `make()` and mode 0600 when absent.
    static func secretFile(_ url: URL, make: () -> Data) throws -> Data {
        if let existing = FileManager.default.contents(atPath: url.path) {
            return existing
        }
        let bytes = make()
        guard FileManager.default.createFile(atPath: url.path, contents: bytes, attributes: [.posixPermissions: 0o600]) else {
            throw ConfigurationError("cannot write \(url.path)")
        }
        return bytes
    }
}

/// Configuration the server cannot start with; the message says what to change.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
