import Crypto
import Foundation
import ProfferCore
import ProfferStorage
import ZIPFoundation

/// Reads an archive made by `PersonExport` — from this Proffer or another — into what a fresh account takes
/// over: records with their whole history (validated against the catalogue and sealed with the new account's
/// key), terms, rules and prices. Grants, receipts, the audit log and earnings stay with the instance they
/// belong to (the organisations and the ledger are there); the import's audit entry names the old log's head.
///
/// Everything is checked before anything is stored: the ZIP's structure and sizes (no zip bombs), the format
/// and version, every file's size and SHA-256 against the manifest, and every value.
struct PersonImport {
    /// The most an archive may hold, uncompressed.
    static let maxTotalBytes: UInt64 = 64 * 1024 * 1024
    static let maxEntryBytes: UInt64 = 16 * 1024 * 1024
    static let maxEntries = 20_000
    /// The most an entry may expand relative to its compressed size (deflate rarely beats 20:1 on JSON).
    static let maxRatio: UInt64 = 200

    struct Failure: Error {
        let detail: String
        init(_ detail: String) { self.detail = detail }
    }

    let services: Services

    /// Parses and checks the archive; throws `Failure` with a plain reason.
    func read(_ data: Data, dataKey: DataKey, at now: Timestamp) throws -> ImportedAccount {
        let archive: Archive
        do {
            archive = try Archive(data: data, accessMode: .read)
        } catch {
            throw Failure("the body is not a ZIP archive (or it is truncated)")
        }
        var files: [String: Data] = [:]
        var total: UInt64 = 0
        var count = 0
        for entry in archive {
            count += 1
            guard count <= Self.maxEntries else { throw Failure("the archive has more than \(Self.maxEntries) entries") }
            guard entry.type == .file else { throw Failure("the archive holds \(entry.path.prefix(80)), which is not a plain file") }
            let path = entry.path
            guard !path.hasPrefix("/"), !path.split(separator: "/").contains(".."), files[path] == nil else {
                throw Failure("the archive has an unsafe or repeated path \(path.prefix(80))")
            }
            let declared = entry.uncompressedSize
            total += declared
            guard declared <= Self.maxEntryBytes else {
                throw Failure("\(path.prefix(80)) is larger than \(Self.maxEntryBytes / 1024 / 1024) MiB uncompressed")
            }
            guard total <= Self.maxTotalBytes else {
                throw Failure("the archive is larger than \(Self.maxTotalBytes / 1024 / 1024) MiB uncompressed")
            }
            guard declared <= max(entry.compressedSize, 1) * Self.maxRatio || declared < 1024 * 1024 else {
                throw Failure("\(path.prefix(80)) expands more than \(Self.maxRatio) times; refusing a possible zip bomb")
            }
            var bytes = Data()
            do {
                _ = try archive.extract(entry) { chunk in
                    guard UInt64(bytes.count + chunk.count) <= declared else { throw Failure("\(path.prefix(80)) is larger than it declares") }
                    bytes.append(chunk)
                }
            } catch let failure as Failure {
                throw failure
            } catch {
                throw Failure("\(path.prefix(80)) is corrupt or truncated")
            }
            files[path] = bytes
        }

        guard let manifestData = files["manifest.json"] else { throw Failure("the archive has no manifest.json; it is not a Proffer export") }
        let manifest: PersonExport.Manifest
        do { manifest = try JSONDecoder().decode(PersonExport.Manifest.self, from: manifestData) } catch {
            throw Failure("manifest.json is not a Proffer export manifest")
        }
        guard manifest.format == PersonExport.format else { throw Failure("the archive's format is \(manifest.format.prefix(40)), not \(PersonExport.format)") }
        guard manifest.version <= PersonExport.version else {
            throw Failure("the archive is format version \(manifest.version), newer than this Proffer reads (\(PersonExport.version)); upgrade this Proffer")
        }
        guard manifest.version >= 1 else { throw Failure("the archive's format version \(manifest.version) is not valid") }
        let listed = Set(manifest.files.map(\.path))
        for extra in files.keys.sorted() where extra != "manifest.json" && !listed.contains(extra) {
            throw Failure("\(extra.prefix(80)) is in the archive but not in its manifest")
        }
        for file in manifest.files {
            guard let bytes = files[file.path] else { throw Failure("\(file.path.prefix(80)) is listed in the manifest but missing") }
            guard bytes.count == file.bytes, Hex.encode(Data(SHA256.hash(data: bytes))) == file.sha256 else {
                throw Failure("\(file.path.prefix(80)) does not match its SHA-256 in the manifest; the archive was changed or damaged")
            }
        }

        func decode<T: Decodable>(_ type: T.Type, _ path: String) throws -> T {
            guard let bytes = files[path] else { throw Failure("the archive has no \(path)") }
            do { return try JSONDecoder().decode(T.self, from: bytes) } catch { throw Failure("\(path) is not valid") }
        }
        let histories = try decode([PersonExport.RecordHistory].self, "records/history.json")
        var imported: [ImportedHistory] = []
        for history in histories {
            guard let entry = services.catalogue.entry(for: history.key) else {
                throw Failure("records/history.json has \(history.key.prefix(60)), which is not a key of this Proffer's catalogue")
            }
            var previous: Int64 = 0
            var versions: [(version: Int64, ciphertext: Data?, changedAt: Timestamp)] = []
            for version in history.versions {
                guard version.key == history.key, version.version > previous else {
                    throw Failure("records/history.json: the versions of \(history.key) are not in increasing order")
                }
                previous = version.version
                var sealed: Data?
                if let value = version.value {
                    let valid: JSONValue
                    do { valid = try entry.validate(value) } catch {
                        throw Failure("records/history.json: version \(version.version) of \(history.key) is not a valid \(history.key): \(error.errors.first?.detail ?? "invalid")")
                    }
                    sealed = try services.vault.seal(valid, key: history.key, version: version.version, with: dataKey)
                }
                versions.append((version.version, sealed, version.changedAt))
            }
            if !versions.isEmpty { imported.append(ImportedHistory(key: history.key, versions: versions)) }
        }

        let terms = try decode([ProfferedTerm].self, "terms.json")
        let termProblems = services.terms.validate(terms)
        if let problem = termProblems.first { throw Failure("terms.json: \(problem.pointer): \(problem.detail)") }
        let ruleBodies = try decode([RuleDTO].self, "rules.json")
        var rules: [DecisionRule] = []
        for body in ruleBodies.prefix(100) {
            let rule = DecisionRule(id: .generate(), action: body.action, keys: body.keys, purposes: body.purposes,
                                    organisationVerified: body.organisationVerified, maxDurationDays: body.maxDurationDays, note: body.note, createdAt: now)
            if let problem = rule.problems(purposes: services.purposes).first { throw Failure("rules.json: \(problem.detail)") }
            rules.append(rule)
        }
        guard let pricesData = files["prices.json"], let pricesJSON = try? JSONDecoder().decode(JSONValue.self, from: pricesData) else {
            throw Failure("prices.json is not valid")
        }
        let prices: PriceList
        do { prices = try PriceList.parse(pricesJSON, catalogue: services.catalogue) } catch {
            throw Failure("prices.json: \(error.errors.first.map { "\($0.pointer): \($0.detail)" } ?? "invalid")")
        }
        let audit = try? decode(AuditPageDTO.self, "audit.json")
        let manifestDigest = Hex.encode(Data(SHA256.hash(data: manifestData)))
        let note = "imported the export of \(manifest.person.prefix(40)) made \(manifest.exportedAt.rfc3339) (manifest SHA-256 \(manifestDigest))"
            + (audit.map { "; its audit log ended at entry \($0.head.sequence) with hash \($0.head.hash)" } ?? "")
        return ImportedAccount(histories: imported, terms: terms, rules: rules, prices: prices, note: note)
    }
}

extension ProfferRuntime {
    /// `proffer import`: loads an export into the fresh account of the person with `handle`. Returns the note the
    /// person's audit log records; throws `ImportRefusal` with a plain reason when the archive cannot be imported.
    public func importArchive(_ data: Data, intoHandle handle: String) async throws -> String {
        guard let person = try await services.store.person(handle: handle) else { throw ImportRefusal("no person has the handle \(handle.prefix(40))") }
        if person.erasedAt != nil { throw ImportRefusal("the person with the handle \(handle.prefix(40)) closed their account") }
        let keyed = try await services.person(person.id)
        let account: ImportedAccount
        do {
            account = try PersonImport(services: services).read(data, dataKey: keyed.dataKey, at: .now())
        } catch let failure as PersonImport.Failure {
            throw ImportRefusal(failure.detail)
        }
        try await services.store.importAccount(account, into: person.id, at: .now())
        return account.note
    }
}

/// Why an archive was not imported; nothing was.
public struct ImportRefusal: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
