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
        let digest = SHA256.hash(data: canonicalBytes())
        return digest.map { String(format: "%02x", $0) }.joined()
    }

    /// Canonical form: sorted-key JSON of every field but `hash`, with no insignificant whitespace.
    func canonicalBytes() -> Data {
        struct Canonical: Encodable {
            let person: String
            let sequence: Int64
            let kind: String
            let actor: String
            let organisation: String?
            let request: String?
            let grant: String?
            let keys: [String]
            let note: String?
            let at: Int64
            let previousHash: String

            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: Keys.self)
                try c.encode(person, forKey: .person)
                try c.encode(sequence, forKey: .sequence)
                try c.encode(kind, forKey: .kind)
                try c.encode(actor, forKey: .actor)
                try c.encode(organisation, forKey: .organisation)
                try c.encode(request, forKey: .request)
                try c.encode(grant, forKey: .grant)
                try c.encode(keys, forKey: .keys)
                try c.encode(note, forKey: .note)
                try c.encode(at, forKey: .at)
                try c.encode(previousHash, forKey: .previousHash)
            }

            enum Keys: String, CodingKey {
                case person, sequence, kind, actor, organisation, request, grant, keys, note, at, previousHash
            }
        }
        let canonical = Canonical(
            person: personID.rawValue, sequence: sequence, kind: kind.rawValue, actor: actor,
            organisation: organisationID?.rawValue, request: requestID?.rawValue, grant: grantID?.rawValue,
            keys: keys, note: note, at: at.millisecondsSinceEpoch, previousHash: previousHash
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a struct of strings and integers cannot fail.
        return (try? encoder.encode(canonical)) ?? Data()
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
