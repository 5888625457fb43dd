import Crypto
import Foundation
import JWTKit
import ProfferCore

/// Offline verification of consent receipts, for `proffer receipt verify` and tests.
public enum ReceiptVerification {
    public enum Outcome: Sendable, Equatable {
        case valid(kid: String, document: JSONValue)
        case invalid(String)
    }

    /// Checks a compact JWS against a JWKS document: EdDSA, a known `kid`, an intact signature.
    public static func verify(jws: String, jwks: String) async -> Outcome {
        let parts = jws.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerData = Data(base64URLEncoded: String(parts[0])),
              case .object(let header)? = try? JSONDecoder().decode(JSONValue.self, from: headerData)
        else { return .invalid("not a compact JWS (three base64url parts separated by dots)") }
        guard case .string("EdDSA")? = header["alg"] else { return .invalid("the receipt is not signed with EdDSA") }
        guard case .string(let kid)? = header["kid"] else { return .invalid("the JWS header names no key (kid)") }
        let keys = JWTKeyCollection()
        do {
            try await keys.add(jwksJSON: jwks)
        } catch {
            return .invalid("the JWKS could not be read")
        }
        do {
            let payload = try await keys.verify(jws, as: ReceiptPayload.self)
            return .valid(kid: kid, document: payload.document)
        } catch {
            return .invalid("the signature does not verify with key \(kid): the receipt was altered, or not signed by these keys")
        }
    }

    /// The JWKS of the receipt keys in a data directory.
    public static func jwks(dataDirectory: String) throws -> String {
        let keys = try ReceiptSigner.loadKeys(dataDirectory: dataDirectory)
        guard !keys.isEmpty else { throw ConfigurationError("no receipt keys in \(ReceiptSigner.directory(dataDirectory).path)") }
        let documents = keys.map { JWKDocument(ed25519: $0.privateKey.publicKey, kid: $0.kid) }
        return String(decoding: try JSONEncoder().encode(JWKSDocument(keys: documents)), as: UTF8.self)
    }

    /// Adds a new receipt key to a data directory; returns its kid.
    public static func rotate(dataDirectory: String) throws -> String {
        try ReceiptSigner.addKey(dataDirectory: dataDirectory).kid
    }
}
