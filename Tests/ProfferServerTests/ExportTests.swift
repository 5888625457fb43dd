import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Synchronization
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

    /// An export from one Proffer with history, terms, rules and prices.
    static func exportFromFirstInstance(_ api: LiveAPI) async throws -> Data {
        let alice = try await api.signUp("alice")
        _ = try await api.put(alice, "identity.name.full", #""Alice Example""#)
        _ = try await api.put(alice, "contact.email", #""alice@old.example""#)
        _ = try await api.put(alice, "contact.email", #""alice@example.org""#)
        _ = try await api.put(alice, "health.allergies", #"["peanuts"]"#)
        _ = try await api.call(.delete, "/v1/me/records/health.allergies", token: alice)
        _ = try await api.put(alice, "address.home", #"{"lines":["1 High Street"],"locality":"Bristol","country":"GB"}"#)
        _ = try await api.call(.put, "/v1/me/terms", token: alice, json: #"{"terms":[{"id":"no-sale"},{"id":"max-retention","parameters":{"days":90}}]}"#)
        _ = try await api.call(.post, "/v1/me/rules", token: alice, json: #"{"action":"refuse","keys":["*"],"purposes":["Marketing"],"note":"never"}"#)
        _ = try await api.call(.put, "/v1/me/prices", token: alice, json: #"{"prices":[{"category":"contact","basis":"per-disclosure","price":{"amount":25,"currency":"EUR"}}]}"#)
        let answer = try await api.call(.get, "/v1/me/export", token: alice)
        #expect(answer.status == .ok)
        return answer.body
    }

    /// Runs a first Proffer just long enough to make an export there.
    static func exportOnAFirstInstance(_ engine: TestEngine) async throws -> Data {
        let archive = Mutex(Data())
        try await withLiveAPI(engine) { first in
            let data = try await Self.exportFromFirstInstance(first)
            archive.withLock { $0 = data }
        }
        return archive.withLock { $0 }
    }

    static func importBody(_ api: LiveAPI, _ token: String, _ archive: Data, sourceLocation: SourceLocation = #_sourceLocation) async throws -> LiveAPI.Answer {
        let response = try await api.client.execute(uri: "/v1/me/import", method: .post,
                                                    headers: [.authorization: "Bearer \(token)", .contentType: "application/zip"],
                                                    body: ByteBuffer(bytes: archive))
        let answer = LiveAPI.Answer(status: response.status, headers: response.headers, body: Data(response.body.readableBytesView))
        #expect(answer.status.code < 500, "import answered \(answer.status.code): \(answer.text)", sourceLocation: sourceLocation)
        return answer
    }

    /// Rebuilds an archive from files (to tamper with them).
    static func zip(_ files: [String: Data]) throws -> Data {
        let archive = try Archive(data: Data(), accessMode: .create)
        for (path, data) in files.sorted(by: { $0.key < $1.key }) {
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        return try #require(archive.data)
    }

    @Test(arguments: engines)
    func anExportImportsIntoAnotherProfferAndComesOutTheSame(engine: TestEngine) async throws {
        let exported = try await Self.exportOnAFirstInstance(engine)
        try await withLiveAPI(engine) { second in
            let alice = try await second.signUp("alice2")
            let imported = try await Self.importBody(second, alice, exported)
            #expect(imported.status == .created, "\(imported.text)")
            #expect(imported["records"] == .integer(3))
            #expect(imported["versions"] == .integer(6))
            #expect(imported.string("note")?.contains("imported the export of alice") == true)
            // The same data, the same history, the same terms, rules and prices — under the new account's key.
            let records = try await second.call(.get, "/v1/me/records", token: alice)
            #expect(records.text.contains("alice@example.org") && records.text.contains("Bristol"))
            #expect(!records.text.contains("peanuts"))
            let history = try await second.call(.get, "/v1/me/records/contact.email/history", token: alice)
            #expect(history.text.contains("alice@old.example"))
            #expect(try await second.call(.get, "/v1/me/terms", token: alice).text.contains("\"days\":90"))
            #expect(try await second.call(.get, "/v1/me/rules", token: alice).text.contains("Marketing"))
            #expect(try await second.call(.get, "/v1/me/prices", token: alice).text.contains("\"category\":\"contact\""))
            // Exported again, the records and their history are what was imported.
            let (again, _) = try Self.unpack(try await second.call(.get, "/v1/me/export", token: alice).body)
            let (original, _) = try Self.unpack(exported)
            let strip = { (data: Data?) throws -> JSONValue in try JSONDecoder().decode(JSONValue.self, from: try #require(data)) }
            #expect(try strip(again["records/history.json"]) == (try strip(original["records/history.json"])))
            #expect(try strip(again["records/current.json"]) == (try strip(original["records/current.json"])))
            #expect(again["contact.vcf"] != nil)
            let audit = try await second.call(.get, "/v1/me/audit", token: alice)
            #expect(audit.text.contains("account.imported"))
            // Only into a fresh account: a second import changes nothing.
            let twice = try await Self.importBody(second, alice, exported)
            #expect(twice.status == .conflict)
            #expect(try await second.call(.get, "/v1/me/records/contact.email/history", token: alice).items.count == 2)
        }
    }

    @Test(arguments: engines)
    func badArchivesAreRefusedAndNothingIsHalfImported(engine: TestEngine) async throws {
        let exported = try await Self.exportOnAFirstInstance(engine)
        let (files, _) = try Self.unpack(exported)
        try await withLiveAPI(engine) { api in
            let bob = try await api.signUp("bob")
            var forged = files
            forged["records/current.json"] = Data("[]".utf8)
            var newer = files
            var manifest = try JSONDecoder().decode(PersonExport.Manifest.self, from: try #require(files["manifest.json"]))
            manifest.version = 2
            newer["manifest.json"] = try JSONEncoder().encode(manifest)
            var invalidValue = files
            var badHistory = try JSONDecoder().decode([PersonExport.RecordHistory].self, from: try #require(files["records/history.json"]))
            badHistory[0].versions[0].value = .string("not a valid value for \(badHistory[0].key) 🙃 " + String(repeating: "x", count: 5000))
            invalidValue["records/history.json"] = try JSONEncoder().encode(badHistory)
            manifest.version = 1
            manifest.files = manifest.files.map { file in
                guard let data = invalidValue[file.path] else { return file }
                return PersonExport.ManifestFile(path: file.path, bytes: data.count, sha256: Hex.encode(Data(SHA256.hash(data: data))))
            }
            invalidValue["manifest.json"] = try JSONEncoder().encode(manifest)
            let bomb = try Self.zip(["manifest.json": try #require(files["manifest.json"]), "zeros.bin": Data(count: 10 * 1024 * 1024)])
            let huge = try Self.zip(["manifest.json": try #require(files["manifest.json"]), "huge.bin": Data(count: 17 * 1024 * 1024)])
            let cases: [(String, Data, String)] = [
                ("not a zip", Data("hello".utf8), "not a ZIP archive"),
                ("truncated", exported.prefix(exported.count / 2), "ZIP"),
                ("forged", try Self.zip(forged), "does not match its SHA-256"),
                ("newer format", try Self.zip(newer), "newer than this Proffer reads"),
                ("invalid value", try Self.zip(invalidValue), "is not a valid"),
                ("zip bomb", bomb, "zip bomb"),
                ("over the size limit", huge, "larger than 16 MiB"),
                ("no manifest", try Self.zip(["records/history.json": Data("[]".utf8)]), "no manifest.json"),
            ]
            for (label, body, fragment) in cases {
                let answer = try await Self.importBody(api, bob, body)
                #expect(answer.status == .unprocessableContent, "\(label): \(answer.status) \(answer.text)")
                #expect(answer.string("detail")?.contains(fragment) == true, "\(label): \(answer.text)")
            }
            let wrongType = try await api.call(.post, "/v1/me/import", token: bob, json: "{}")
            #expect(wrongType.status == .unsupportedMediaType)
            #expect(try await api.call(.get, "/v1/me/records", token: bob).items.isEmpty, "nothing was half-imported")
            #expect(try await Self.importBody(api, bob, exported).status == .created, "after all that, a good archive still imports")
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
