/// What a consent receipt records.
public enum ReceiptEvent: String, Sendable, Hashable, Codable, CaseIterable {
    case granted
    case partiallyGranted = "partially-granted"
    case refused
    case revoked
    case expired
}

/// A signed consent receipt as stored: the compact JWS both sides keep, and what it is about.
public struct ReceiptRecord: Sendable, Hashable {
    public var id: ReceiptID
    public var personID: PersonID
    public var organisationID: OrganisationID
    public var requestID: RequestID
    public var grantID: GrantID?
    public var event: ReceiptEvent
    public var kid: String
    public var jws: String
    public var issuedAt: Timestamp

    public init(id: ReceiptID, personID: PersonID, organisationID: OrganisationID, requestID: RequestID, grantID: GrantID?,
                event: ReceiptEvent, kid: String, jws: String, issuedAt: Timestamp) {
        self.id = id
        self.personID = personID
        self.organisationID = organisationID
        self.requestID = requestID
        self.grantID = grantID
        self.event = event
        self.kid = kid
        self.jws = jws
        self.issuedAt = issuedAt
    }
}
