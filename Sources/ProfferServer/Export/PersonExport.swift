import Crypto
import Foundation
import ProfferCore
import ProfferStorage
import ZIPFoundation

/// Everything Proffer holds about one person, as one ZIP archive they can keep, read and move elsewhere:
/// records with their history (JSON), contact data as vCard 4 (RFC 6350), requests, grants, consent receipts as
/// issued (compact JWS), the audit log with its hashes, terms, rules, prices, the earnings statement (RFC 4180
/// CSV), and a manifest with each file's size and SHA-256.
struct PersonExport {
    static let format = "proffer-export"
    static let version = 1

    struct ManifestFile: Codable, Sendable {
        var path: String
        var bytes: Int
        var sha256: String
    }

    struct Manifest: Codable, Sendable {
        var format: String
        var version: Int
        var exportedAt: Timestamp
        var person: String
        var personId: String
        var files: [ManifestFile]
    }

    struct RecordEntry: Codable, Sendable {
        var key: String
        var category: String?
        var version: Int64
        var value: JSONValue?
        var changedAt: Timestamp
    }

    struct RecordHistory: Codable, Sendable {
        var key: String
        var versions: [RecordEntry]
    }

    struct ReceiptEntry: Codable, Sendable {
        var id: String
        var event: ReceiptEvent
        var requestId: String
        var grantId: String?
        var organisationId: String
        var issuedAt: Timestamp
        var kid: String
        /// The file holding the compact JWS, as issued.
        var file: String
    }

    struct Profile: Codable, Sendable {
        var id: String
        var handle: String
        var email: String
        var createdAt: Timestamp
    }

    let services: Services

    /// The archive's bytes and its suggested file name.
    func archive(for person: Person, at now: Timestamp) async throws -> (Data, String) {
        var files: [(String, Data)] = []
        let keyed = try await services.person(person.id)
        let vault = services.vault

        func json(_ value: some Encodable) throws -> Data {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            return try encoder.encode(value)
        }
        func open(_ record: SealedRecord) throws -> RecordEntry {
            RecordEntry(key: record.key, category: services.catalogue.entry(for: record.key)?.category.rawValue, version: record.version,
                        value: try vault.open(record, with: keyed.dataKey), changedAt: record.changedAt)
        }

        files.append(("person.json", try json(Profile(id: person.id.rawValue, handle: person.handle, email: person.email, createdAt: person.createdAt))))
        let current = try await services.store.records(person: person.id)
        let records = try current.map(open)
        files.append(("records/current.json", try json(records)))
        var histories: [RecordHistory] = []
        var keys = Set(current.map(\.key))
        keys.formUnion(try await services.store.recordKeysEverHeld(by: person.id))
        for key in keys.sorted() {
            let versions = try await services.store.recordHistory(person: person.id, key: key).map(open)
            if !versions.isEmpty { histories.append(RecordHistory(key: key, versions: versions)) }
        }
        files.append(("records/history.json", try json(histories)))
        files.append(("contact.vcf", Data(VCard.card(handle: person.handle, records: Dictionary(records.compactMap { record in
            record.value.map { (record.key, $0) }
        }, uniquingKeysWith: { first, _ in first })).utf8)))

        files.append(("terms.json", try json(try await services.proffered(by: person.id))))
        files.append(("rules.json", try json(try await services.store.rules(of: person.id).map(RuleDTO.init))))
        files.append(("prices.json", try json(try await services.store.prices(of: person.id).entries)))

        var requests: [DataRequest] = []
        while true {
            let page = try await services.store.requests(of: .person(person.id), limit: 200, offset: requests.count)
            requests += page
            if page.count < 200 { break }
        }
        files.append(("requests.json", try json(try await services.requestDTOs(requests))))
        var grants: [Grant] = []
        while true {
            let page = try await services.store.grants(of: .person(person.id), limit: 200, offset: grants.count)
            grants += page
            if page.count < 200 { break }
        }
        files.append(("grants.json", try json(try await services.grantDTOs(grants))))

        var receipts: [ReceiptRecord] = []
        while true {
            let page = try await services.store.receipts(of: .person(person.id), limit: 200, offset: receipts.count)
            receipts += page
            if page.count < 200 { break }
        }
        var index: [ReceiptEntry] = []
        for receipt in receipts {
            let file = "receipts/\(receipt.id.rawValue).jws"
            files.append((file, Data(receipt.jws.utf8)))
            index.append(ReceiptEntry(id: receipt.id.rawValue, event: receipt.event, requestId: receipt.requestID.rawValue,
                                      grantId: receipt.grantID?.rawValue, organisationId: receipt.organisationID.rawValue,
                                      issuedAt: receipt.issuedAt, kid: receipt.kid, file: file))
        }
        files.append(("receipts.json", try json(index)))

        var entries: [AuditEntryDTO] = []
        var after: Int64 = 0
        while true {
            let page = try await services.store.auditEntries(for: person.id, after: after, limit: 500)
            entries += page.map(AuditEntryDTO.init)
            guard page.count == 500, let last = page.last else { break }
            after = last.sequence
        }
        let head = try await services.store.auditHead(for: person.id)
        files.append(("audit.json", try json(AuditPageDTO(person: person.handle, personId: person.id.rawValue, entries: entries, nextAfter: nil,
                                                           head: AuditHeadDTO(sequence: head.sequence, hash: head.hash)))))

        let (rows, name) = try await StatementController.earnings(of: person.id, from: Timestamp(millisecondsSinceEpoch: 0), to: now.adding(days: 1),
                                                                  services: services)
        let csv = StatementController.csv(rows, name: name)
        files.append(("earnings.csv", Data(csv.text.utf8)))

        let manifest = Manifest(format: Self.format, version: Self.version, exportedAt: now, person: person.handle, personId: person.id.rawValue,
                                files: files.map { path, data in
                                    ManifestFile(path: path, bytes: data.count, sha256: Hex.encode(Data(SHA256.hash(data: data))))
                                })
        let archive = try Archive(data: Data(), accessMode: .create)
        for (path, data) in [("manifest.json", try json(manifest))] + files {
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count), modificationDate: now.date,
                                 compressionMethod: .deflate) { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        guard let bytes = archive.data else { throw ExportError("the archive could not be assembled") }
        let day = String(now.rfc3339.prefix(10))
        return (bytes, "proffer-export-\(person.handle)-\(day).zip")
    }
}

struct ExportError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A vCard 4.0 (RFC 6350) of the person's contact records: CRLF line ends, values escaped (§3.4), lines
/// folded at 75 octets (§3.2).
enum VCard {
    static func card(handle: String, records: [String: JSONValue]) -> String {
        var lines = ["BEGIN:VCARD", "VERSION:4.0"]
        let name = text(records["identity.name.full"]) ?? handle
        lines.append("FN:" + escape(name))
        if let given = text(records["identity.name.given"]), let family = text(records["identity.name.family"]) {
            lines.append("N:\(escape(family));\(escape(given));;;")
        }
        lines.append("NICKNAME:" + escape(handle))
        if let email = text(records["contact.email"]) { lines.append("EMAIL;TYPE=home:" + escape(email)) }
        for (key, type) in [("contact.phone.mobile", "cell"), ("contact.phone.home", "home"), ("contact.phone.work", "work")] {
            if let phone = text(records[key]) { lines.append("TEL;VALUE=uri;TYPE=\(type):tel:\(phone)") }
        }
        for (key, type) in [("address.home", "home"), ("address.work", "work"), ("address.postal", "postal")] {
            guard case .object(let address)? = records[key] else { continue }
            let street: String = if case .array(let parts)? = address["lines"] { parts.compactMap(text).map(escape).joined(separator: ",") } else { "" }
            let fields = [street, text(address["locality"]).map(escape) ?? "", text(address["region"]).map(escape) ?? "",
                          text(address["postalCode"]).map(escape) ?? "", text(address["country"]).map(escape) ?? ""]
            lines.append("ADR;TYPE=\(type):;;" + fields.joined(separator: ";"))
        }
        if let birthday = text(records["identity.birthdate"]) { lines.append("BDAY:" + birthday.replacingOccurrences(of: "-", with: "")) }
        if let website = text(records["contact.website"]) { lines.append("URL:" + website) }
        if let language = text(records["identity.language"]) { lines.append("LANG:" + escape(language)) }
        lines.append("END:VCARD")
        return lines.map(fold).joined(separator: "\r\n") + "\r\n"
    }

    static func text(_ value: JSONValue?) -> String? {
        if case .string(let text)? = value { return text }
        return nil
    }

    /// RFC 6350 §3.4: backslash, comma, semicolon and newline are escaped in text values.
    static func escape(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case ",": out += "\\,"
            case ";": out += "\\;"
            case "\n", "\r\n", "\r": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    /// RFC 6350 §3.2: lines longer than 75 octets continue on the next line after CRLF and a space, never
    /// splitting a UTF-8 sequence.
    static func fold(_ line: String) -> String {
        var result = ""
        var width = 0
        for scalar in line.unicodeScalars {
            let size = String(scalar).utf8.count
            if width + size > 75 {
                result += "\r\n "
                width = 1
            }
            result.unicodeScalars.append(scalar)
            width += size
        }
        return result
    }
}
