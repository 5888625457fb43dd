import Crypto
import Foundation

/// What happened, in the person's audit log.
public enum AuditKind: String, Sendable, Hashable, Codable, CaseIterable {
    case accountCreated = "account.created"
    case recordPut = "record.put"
    case recordDeleted = "record.deleted"
    case requestReceived = "request.received"
    case requestGranted = "request.granted"
    case requestRefused = "request.refused"
    case grantRevoked = "grant.revoked"
    case grantExpired = "grant.expired"
    case disclosure = "disclosure"
    case termsUpdated = "terms.updated"
    case ruleAdded = "rule.added"
    case ruleRemoved = "rule.removed"
    case pricesUpdated = "prices.updated"
    /// A read refused because it could not be paid for; no data left.
    case disclosureRefused = "disclosure.refused"
    case periodCharged = "grant.period-charged"
    case grantSuspended = "grant.suspended"
    /// Records, terms, rules and prices loaded from another Proffer's export.
    case accountImported = "account.imported"
    /// The person closed their account: the last link of their chain, after which nothing is appended.
    case accountClosed = "account.closed"
}

/// The facts of an event, before it takes its place in the chain.
public struct AuditEvent: Sendable, Hashable {
    public var kind: AuditKind
    /// Who caused it: `person`, `organisation:<id>`, or `operator`.
    public var actor: String
    public var organisationID: OrganisationID?
    public var requestID: RequestID?
    public var grantID: GrantID?
    public var keys: [String]
    /// A short plain-language note; never holds record values.
    public var note: String?
    public var at: Timestamp

    public init(
        kind: AuditKind, actor: String, organisationID: OrganisationID? = nil, requestID: RequestID? = nil,
        grantID: GrantID? = nil, keys: [String] = [], note: String? = nil, at: Timestamp
    ) {
        self.kind = kind
        self.actor = actor
        self.organisationID = organisationID
        self.requestID = requestID
        self.grantID = grantID
        self.keys = keys
        self.note = note
        self.at = at
    }
}

/// One link of a person's hash chain: the event, its place, and the hashes that bind it to the previous link.
public struct AuditEntry: Sendable, Hashable, Codable {
    public var personID: PersonID
    public var sequence: Int64
    public var kind: AuditKind
    public var actor: String
    public var organisationID: OrganisationID?
    public var requestID: RequestID?
    public var grantID: GrantID?
    public var keys: [String]
    public var note: String?
    public var at: Timestamp
    /// Hex SHA-256 of the previous entry, or 64 zeros for the first.
    public var previousHash: String
    /// Hex SHA-256 over this entry's canonical form (which includes `previousHash`).
    public var hash: String

    enum CodingKeys: String, CodingKey {
        case personID = "person", sequence, kind, actor, organisationID = "organisation", requestID = "request"
        case grantID = "grant", keys, note, at, previousHash, hash
    }

    public static let genesisHash = String(repeating: "0", count: 64)

    /// Builds the next link after `previous` (sequence and hash), computing this entry's hash.
    public init(event: AuditEvent, personID: PersonID, previousSequence: Int64, previousHash: String) {
        self.personID = personID
        self.sequence = previousSequence + 1
        self.kind = event.kind
        self.actor = event.actor
        self.organisationID = event.organisationID
        self.requestID = event.requestID
        self.grantID = event.grantID
        self.keys = event.keys
        self.note = event.note
        self.at = event.at
        self.previousHash = previousHash
        self.hash = ""
        self.hash = computeHash()
    }

    /// The hash this entry should carry, recomputed from its content.
    public func computeHash() -> String {
        Hex.encode(SHA256.hash(data: canonicalBytes()))
    }

    /// The keys as a JSON array of strings, for storage: written directly, as the hot disclosure path stores one per entry.
    public var keysJSON: String {
        var out = CanonicalJSON()
        out.array(keys)
        return String(decoding: out.bytes, as: UTF8.self)
    }

    /// Canonical form: the JSON object of every field but `hash`, keys sorted, no insignificant whitespace,
    /// absent values as `null`, integers in decimal, strings escaped minimally (RFC 8259).
    func canonicalBytes() -> [UInt8] {
        var out = CanonicalJSON()
        out.open()
        out.member("actor") { $0.string(actor) }
        out.member("at") { $0.integer(at.millisecondsSinceEpoch) }
        out.member("grant") { $0.optionalString(grantID?.rawValue) }
        out.member("keys") { writer in writer.array(keys) }
        out.member("kind") { $0.string(kind.rawValue) }
        out.member("note") { $0.optionalString(note) }
        out.member("organisation") { $0.optionalString(organisationID?.rawValue) }
        out.member("person") { $0.string(personID.rawValue) }
        out.member("previousHash") { $0.string(previousHash) }
        out.member("request") { $0.optionalString(requestID?.rawValue) }
        out.member("sequence") { $0.integer(sequence) }
        out.close()
        return out.bytes
    }
}

/// A minimal writer for the audit entry's canonical JSON.
struct CanonicalJSON {
    var bytes: [UInt8] = []
    private var first = true

    init() { bytes.reserveCapacity(512) }

    mutating func open() { bytes.append(UInt8(ascii: "{")) }
    mutating func close() { bytes.append(UInt8(ascii: "}")) }

    /// A member named `name`, which is one of the entry's own field names (plain ASCII letters: nothing to escape).
    mutating func member(_ name: StaticString, _ value: (inout CanonicalJSON) -> Void) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: "\":".utf8)
        value(&self)
    }

    mutating func integer(_ value: Int64) { bytes.append(contentsOf: String(value).utf8) }

    mutating func optionalString(_ value: String?) {
        if let value { string(value) } else { bytes.append(contentsOf: "null".utf8) }
    }

    mutating func array(_ values: [String]) {
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            string(value)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        JSONString.escape(value) { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
    }
}

/// Checks a person's chain: contiguous sequence numbers, each link naming its predecessor's hash,
/// and each hash matching its content.
public enum AuditChainVerifier {
    public struct Report: Sendable, Equatable {
        public var entriesChecked: Int
        public var headHash: String
        public var problems: [String]
        public var isValid: Bool { problems.isEmpty }
    }

    /// Verifies `entries` (ascending sequence). `startingAfter` gives the link before the first entry when
    /// checking a page from the middle of a chain.
    public static func verify(
        _ entries: [AuditEntry], startingAfter: (sequence: Int64, hash: String) = (0, AuditEntry.genesisHash)
    ) -> Report {
        var problems: [String] = []
        var previous = startingAfter
        for entry in entries {
            if entry.sequence != previous.sequence + 1 {
                problems.append("entry \(entry.sequence): expected sequence \(previous.sequence + 1) (an entry is missing or out of order)")
            }
            if entry.previousHash != previous.hash {
                problems.append("entry \(entry.sequence): previousHash does not match the hash of entry \(previous.sequence)")
            }
            let recomputed = entry.computeHash()
            if entry.hash != recomputed {
                problems.append("entry \(entry.sequence): content does not match its hash (the entry was altered)")
            }
            previous = (entry.sequence, entry.hash)
        }
        return Report(entriesChecked: entries.count, headHash: previous.hash, problems: problems)
    }
}
