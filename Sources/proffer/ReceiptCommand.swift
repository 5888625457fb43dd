import ArgumentParser
import Foundation
import JWTKit
import ProfferCore
import ProfferServer

/// `proffer receipt …`: verify consent receipts offline, and rotate the receipt signing key.
struct ReceiptCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receipt", abstract: "Consent receipt tools.", subcommands: [Verify.self, RotateKey.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a consent receipt's signature offline.",
            discussion: """
                FILE holds a compact JWS, or the JSON of GET …/receipts/{id} (its "jws" member). The keys come from \
                --jwks (a saved /.well-known/jwks.json) or, by default, from the data directory's receipt keys. \
                Exits 1 when the signature does not verify.
                """)
        @Argument(help: "The receipt file.") var file: String
        @Option(help: "A JWKS file (saved from /.well-known/jwks.json).") var jwks: String?
        @Option(name: .customLong("data-dir"), help: "Data directory holding receipt-keys/ (PROFFER_DATA_DIR).") var dataDir: String?

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            var jws = text
            if text.hasPrefix("{") {
                guard case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: data), case .string(let value)? = object["jws"] else {
                    throw ValidationError("\(file) is JSON without a \"jws\" member")
                }
                jws = value
            }
            let keySet: String
            if let jwks {
                guard let bytes = FileManager.default.contents(atPath: jwks) else { throw ValidationError("cannot read \(jwks)") }
                keySet = String(decoding: bytes, as: UTF8.self)
            } else {
                keySet = try ReceiptVerification.jwks(dataDirectory: dataDir ?? ProcessInfo.processInfo.environment["PROFFER_DATA_DIR"] ?? "./data")
            }
            switch await ReceiptVerification.verify(jws: jws, jwks: keySet) {
            case .valid(let kid, let document):
                let summary: String
                if case .object(let object) = document, case .string(let id)? = object["consentReceiptID"],
                   case .string(let version)? = object["version"] {
                    summary = "\(id) (\(version))"
                } else {
                    summary = "a receipt"
                }
                print("valid: \(summary), signed with key \(kid)")
            case .invalid(let reason):
                print("INVALID: \(reason)")
                throw ExitCode(1)
            }
        }
    }

    struct RotateKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-key",
            abstract: "Create a new receipt signing key; new receipts use it after the server restarts. Old keys stay published, so old receipts still verify.")
        @Option(name: .customLong("data-dir"), help: "Data directory (PROFFER_DATA_DIR).") var dataDir: String?

        func run() async throws {
            let kid = try ReceiptVerification.rotate(dataDirectory: dataDir ?? ProcessInfo.processInfo.environment["PROFFER_DATA_DIR"] ?? "./data")
            print("new receipt key \(kid); restart the server to sign with it")
        }
    }
}
