import Foundation

/// A person with an account: the owner of records.
public struct Person: Sendable, Hashable {
    public var id: PersonID
    /// The public name a person gives to organisations.
    public var handle: String
    public var email: String
    public var passwordHash: String
    /// The person's data key, wrapped by the master key.
    public var wrappedDataKey: Data
    public var createdAt: Timestamp
    /// When the person closed their account; the row is then a tombstone that keeps only the id and the
    /// handle (reserved), with no email, password hash or data key.
    public var erasedAt: Timestamp?

    public init(id: PersonID, handle: String, email: String, passwordHash: String, wrappedDataKey: Data, createdAt: Timestamp,
                erasedAt: Timestamp? = nil) {
        self.id = id
        self.handle = handle
        self.email = email
        self.passwordHash = passwordHash
        self.wrappedDataKey = wrappedDataKey
        self.createdAt = createdAt
        self.erasedAt = erasedAt
    }
}

/// An organisation registered by the operator, with OAuth 2.0 client credentials.
public struct Organisation: Sendable, Hashable {
    public var id: OrganisationID
    public var name: String
    public var domain: String
    public var verified: Bool
    public var clientID: String
    public var secretDigest: Data
    public var createdAt: Timestamp
    public var contact: OrganisationContact

    public init(id: OrganisationID, name: String, domain: String, verified: Bool, clientID: String, secretDigest: Data, createdAt: Timestamp,
                contact: OrganisationContact = OrganisationContact()) {
        self.contact = contact
        self.id = id
        self.name = name
        self.domain = domain
        self.verified = verified
        self.clientID = clientID
        self.secretDigest = secretDigest
        self.createdAt = createdAt
    }
}

/// How to reach an organisation about personal data: what consent receipts name as the PII controller.
public struct OrganisationContact: Sendable, Hashable, Codable {
    /// The data protection contact, e.g. "Data Protection Officer".
    public var name: String?
    public var email: String?
    public var phone: String?
    /// A postal address in the catalogue's `postal-address` shape.
    public var address: JSONValue?
    public var policyURL: String?

    enum CodingKeys: String, CodingKey {
        case name, email, phone, address, policyURL = "policyUrl"
    }

    public init(name: String? = nil, email: String? = nil, phone: String? = nil, address: JSONValue? = nil, policyURL: String? = nil) {
        self.name = name
        self.email = email
        self.phone = phone
        self.address = address
        self.policyURL = policyURL
    }
}

/// A person's session or personal access token, as stored (the secret itself is never stored).
public struct PersonToken: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, Codable { case session, personal }

    public var id: TokenID
    public var personID: PersonID
    public var kind: Kind
    public var name: String
    public var createdAt: Timestamp
    public var expiresAt: Timestamp?
    public var revokedAt: Timestamp?

    public init(id: TokenID, personID: PersonID, kind: Kind, name: String, createdAt: Timestamp, expiresAt: Timestamp?, revokedAt: Timestamp?) {
        self.id = id
        self.personID = personID
        self.kind = kind
        self.name = name
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
    }
}

/// A record's current sealed value or one of its past versions (`ciphertext` nil marks a deletion).
public struct SealedRecord: Sendable, Hashable {
    public var key: String
    public var version: Int64
    public var ciphertext: Data?
    public var changedAt: Timestamp

    public init(key: String, version: Int64, ciphertext: Data?, changedAt: Timestamp) {
        self.key = key
        self.version = version
        self.ciphertext = ciphertext
        self.changedAt = changedAt
    }
}
