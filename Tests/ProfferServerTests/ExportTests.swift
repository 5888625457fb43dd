import Crypto
import Foundation
import HTTPTypes
import ProfferCore
import ProfferStorage
import ProfferTestSupport
import Testing
import ZIPFoundation

@testable import ProfferServer

/// The person's export: one ZIP with everything Proffer holds about them, each file listed in a manifest with
/// its SHA-256 — on both engines.
@Suite("Export")
struct ExportTests {
    static let engines = TestEngine.available

    /// The archive's files by path, each checked against the manifest.
    static func unpack(_ data: Data) throws -> ([String: Data], JSONValue) {
        let archive = try Archive(data: data, accessMode: .read)
        var files: [String: Data] = [:]
        for entry in archive {
            var bytes = Data()
            _ = try archive.extract(entry) { bytes.append($0) }
            files[entry.path] = bytes
        }
        let manifest = try JSONDecoder().decode(JSONValue.self, from: try #require(files["manifest.json"]))
        return (files, manifest)
    }

    @Test(arguments: engines)
    func aPersonTakesEverythingWithThem(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let alice = try await api.signUp("alice")
            _ = try await api.put(alice, "identity.name.full", #""Alice Example, Jr.""#)
            _ = try await api.put(alice, "contact.email", #""alice@old.example""#)
            _ = try await api.put(alice, "contact.email", #""alice@example.org""#)
            _ = try await api.put(alice, "contact.phone.mobile", #""+447700900123""#)
            _ = try await api.put(alice, "address.home", #"{"lines":["1 High Street","Flat 2; rear"],"locality":"Bristol","postalCode":"BS1 1AA","country":"GB"}"#)
            _ = try await api.put(alice, "identity.birthdate", #""1990-04-12""#)
            _ = try await api.put(alice, "health.allergies", #"["peanuts"]"#)
            #expect(try await api.call(.delete, "/v1/me/records/health.allergies", token: alice).status == .noContent)
            let bank = try await api.registerOrganisation("Northwind Bank", domain: "northwind.example")
            let bankToken = try await api.accessToken(bank)
            let asked = try await api.ask(bankToken, person: "alice", keys: ["contact.email"],
                                          extra: #","offer":{"kind":"per-disclosure","price":{"amount":40,"currency":"EUR"}}"#)
            let granted = try await api.call(.post, "/v1/me/requests/\(asked.string("id") ?? "")/grant", token: alice)
            _ = try await api.call(.post, "/v1/admin/organisations/\(bank.id)/wallet/credits", token: api.adminToken,
                                   json: #"{"amount":{"amount":100,"currency":"EUR"},"reference":"r"}"#, headers: [HTTPField.Name("Idempotency-Key")!: "k"])
            #expect(try await api.call(.get, "/v1/grants/\(granted.string("id") ?? "")/data", token: bankToken).status == .ok)

            let answer = try await api.call(.get, "/v1/me/export", token: alice)
            #expect(answer.status == .ok)
            #expect(answer.headers[.contentType] == "application/zip")
            #expect(answer.headers[.contentDisposition]?.contains("proffer-export-alice-") == true)
            let (files, manifest) = try Self.unpack(answer.body)

            // The manifest lists every other file, with the right size and SHA-256.
            guard case .object(let top)? = Optional(manifest), case .array(let listed)? = top["files"] else { Issue.record("no manifest files"); return }
            #expect(top["format"] == .string("proffer-export"))
            #expect(top["version"] == .integer(1))
            var paths = Set<String>()
            for item in listed {
                guard case .object(let file) = item, case .string(let path)? = file["path"], case .string(let sha)? = file["sha256"],
                      case .integer(let bytes)? = file["bytes"], let data = files[path] else { Issue.record("bad manifest entry \(item)"); continue }
                paths.insert(path)
                #expect(Hex.encode(Data(SHA256.hash(data: data))) == sha, "checksum of \(path)")
                #expect(Int64(data.count) == bytes, "size of \(path)")
            }
            #expect(paths == Set(files.keys).subtracting(["manifest.json"]), "the manifest lists exactly the archive's files")
            for required in ["person.json", "records/current.json", "records/history.json", "contact.vcf", "terms.json", "rules.json", "prices.json",
                             "requests.json", "grants.json", "receipts.json", "audit.json", "earnings.csv"] {
                #expect(files[required] != nil, "\(required) is missing")
            }

            let current = String(decoding: try #require(files["records/current.json"]), as: UTF8.self)
            #expect(current.contains("alice@example.org"))
            #expect(!current.contains("peanuts"), "a deleted record is not current")
            let history = String(decoding: try #require(files["records/history.json"]), as: UTF8.self)
            #expect(history.contains("alice@old.example") && history.contains("alice@example.org"), "every version is kept")
            #expect(history.contains("peanuts"), "a deleted record's history is still the person's")

            let card = String(decoding: try #require(files["contact.vcf"]), as: UTF8.self)
            #expect(card.hasPrefix("BEGIN:VCARD\r\nVERSION:4.0\r\n"))
            #expect(card.contains("FN:Alice Example\\, Jr.\r\n"), "commas escaped (RFC 6350 §3.4)")
            #expect(card.contains("EMAIL;TYPE=home:alice@example.org\r\n"))
            #expect(card.contains("TEL;VALUE=uri;TYPE=cell:tel:+447700900123\r\n"))
            #expect(card.contains("ADR;TYPE=home:;;1 High Street,Flat 2\\; rear;Bristol;;BS1 1AA;GB\r\n"))
            #expect(card.contains("BDAY:19900412\r\n"))
            #expect(card.hasSuffix("END:VCARD\r\n"))

            // Receipts as issued: each JWS file is exactly what the receipts API returns.
            let receipts = try await api.call(.get, "/v1/me/receipts", token: alice)
            for case .object(let receipt) in receipts.items {
                guard case .string(let id)? = receipt["id"], case .string(let jws)? = receipt["jws"] else { continue }
                #expect(files["receipts/\(id).jws"] == Data(jws.utf8))
            }
            #expect(files.keys.filter { $0.hasPrefix("receipts/") }.count == receipts.items.count)

            // The audit log with its hashes: it verifies as a chain.
            let audit = try JSONDecoder().decode(AuditPageDTO.self, from: try #require(files["audit.json"]))
            #expect(audit.entries.count > 5)
            #expect(audit.entries.last?.hash == audit.head.hash)
            #expect(audit.entries.contains { $0.kind == "disclosure" })

            let earnings = String(decoding: try #require(files["earnings.csv"]), as: UTF8.self)
            #expect(earnings.hasPrefix("period,counterpart_id,counterpart_name,kind,transfers,currency,amount_minor_units,amount\r\n"))
            #expect(earnings.contains(",Northwind Bank,disclosure-charge,1,EUR,38,0.38\r\n"))
            let grants = String(decoding: try #require(files["grants.json"]), as: UTF8.self)
            #expect(grants.contains("per-disclosure"))

            // Only the person's own session exports, and only their own data.
            #expect(try await api.call(.get, "/v1/me/export", token: bankToken).status == .unauthorized)
            let bob = try await api.signUp("bob")
            let (bobFiles, _) = try Self.unpack(try await api.call(.get, "/v1/me/export", token: bob).body)
            #expect(!bobFiles.values.contains { String(decoding: $0, as: UTF8.self).contains("alice@example.org") })
        }
    }

    @Test func vCardLinesAreFoldedAt75OctetsWithoutSplittingCharacters() {
        let long = String(repeating: "é", count: 60)  // 120 octets
        let card = VCard.card(handle: "x", records: ["identity.name.full": .string(long)])
        for line in card.components(separatedBy: "\r\n") {
            #expect(line.utf8.count <= 75, "\(line)")
        }
        #expect(card.contains("\r\n "), "the long line continues on a folded line")
        let unfolded = card.replacingOccurrences(of: "\r\n ", with: "")
        #expect(unfolded.contains("FN:" + long))
    }
}
