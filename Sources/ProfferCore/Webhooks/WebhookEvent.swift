import Foundation

/// The events an organisation can subscribe a webhook endpoint to.
public enum WebhookEventType: String, Sendable, Hashable, Codable, CaseIterable {
    /// A request was granted (wholly or in part) or refused — by the person, their rules or their terms.
    case requestDecided = "request.decided"
    case grantCreated = "grant.created"
    case grantRevoked = "grant.revoked"
    case grantExpired = "grant.expired"
    /// A per-month grant whose period the organisation could not pay: nothing is disclosed until it pays.
    case grantSuspended = "grant.suspended"
    /// A record under one of the organisation's active grants changed or was deleted.
    case recordUpdated = "record.updated"
    /// The person closed their account: an erasure request the organisation must honour.
    case personErased = "person.erased"

    public var summary: String {
        switch self {
        case .requestDecided: "a request of yours was granted or refused"
        case .grantCreated: "a person granted you access"
        case .grantRevoked: "a person revoked a grant"
        case .grantExpired: "a grant reached its expiry"
        case .grantSuspended: "a per-month grant was suspended because your wallet could not pay its period"
        case .recordUpdated: "a record you hold an active grant for changed (with its new value if the grant lets values be pushed)"
        case .personErased: "a person closed their account; erase what you hold about them"
        }
    }
}

/// Whether a `record.updated` event carries the record's new value.
public enum PushedValueState: String, Sendable, Hashable, Codable {
    /// The grant does not push values: the event says only which key changed.
    case notPushed = "not-pushed"
    /// To be disclosed (audited, and charged on a priced grant) on the first delivery attempt.
    case pending
    /// Disclosed: every attempt sends the pinned version.
    case disclosed
    /// The disclosure was refused when it came to it (grant no longer active, unpaid): the event says only the fact.
    case withheld
}

/// One event in the outbox, as the store keeps it. `payload` is the event's `data` object, which never holds a
/// record's value: a pushed value is added when the body is built for delivery.
public struct WebhookEvent: Sendable, Hashable {
    public var id: WebhookEventID
    public var organisationID: OrganisationID
    public var type: WebhookEventType
    public var personID: PersonID?
    public var grantID: GrantID?
    public var recordKey: String?
    public var payload: JSONValue
    public var createdAt: Timestamp
    public var valueState: PushedValueState
    public var valueVersion: Int64?
    public var valueNote: String?

    public init(id: WebhookEventID = .generateTimeOrdered(), organisationID: OrganisationID, type: WebhookEventType, personID: PersonID? = nil,
                grantID: GrantID? = nil, recordKey: String? = nil, payload: JSONValue, createdAt: Timestamp,
                valueState: PushedValueState = .notPushed, valueVersion: Int64? = nil, valueNote: String? = nil) {
        self.id = id
        self.organisationID = organisationID
        self.type = type
        self.personID = personID
        self.grantID = grantID
        self.recordKey = recordKey
        self.payload = payload
        self.createdAt = createdAt
        self.valueState = valueState
        self.valueVersion = valueVersion
        self.valueNote = valueNote
    }
}

/// An organisation's receiver of events.
public struct WebhookEndpoint: Sendable, Hashable {
    public var id: WebhookEndpointID
    public var organisationID: OrganisationID
    public var url: String
    public var description: String
    public var eventTypes: [WebhookEventType]
    public var createdAt: Timestamp
    public var disabledAt: Timestamp?

    public init(id: WebhookEndpointID, organisationID: OrganisationID, url: String, description: String, eventTypes: [WebhookEventType],
                createdAt: Timestamp, disabledAt: Timestamp? = nil) {
        self.id = id
        self.organisationID = organisationID
        self.url = url
        self.description = description
        self.eventTypes = eventTypes
        self.createdAt = createdAt
        self.disabledAt = disabledAt
    }
}

/// Where one event stands with one endpoint.
public struct WebhookDelivery: Sendable, Hashable {
    public enum State: String, Sendable, Hashable, Codable, CaseIterable {
        /// Waiting for its next attempt (or being attempted right now).
        case pending
        case delivered
        /// Every attempt of the retry schedule failed; the organisation can replay it.
        case failed
    }

    public var eventID: WebhookEventID
    public var endpointID: WebhookEndpointID
    public var organisationID: OrganisationID
    public var state: State
    public var attempts: Int
    public var nextAttemptAt: Timestamp?
    public var lastAttemptAt: Timestamp?
    public var lastStatus: Int?
    public var lastError: String?
    public var deliveredAt: Timestamp?
    public var createdAt: Timestamp

    public init(eventID: WebhookEventID, endpointID: WebhookEndpointID, organisationID: OrganisationID, state: State, attempts: Int,
                nextAttemptAt: Timestamp?, lastAttemptAt: Timestamp?, lastStatus: Int?, lastError: String?, deliveredAt: Timestamp?,
                createdAt: Timestamp) {
        self.eventID = eventID
        self.endpointID = endpointID
        self.organisationID = organisationID
        self.state = state
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastAttemptAt = lastAttemptAt
        self.lastStatus = lastStatus
        self.lastError = lastError
        self.deliveredAt = deliveredAt
        self.createdAt = createdAt
    }
}

/// One attempt to deliver, for the organisation's delivery log.
public struct WebhookAttempt: Sendable, Hashable {
    public var attempt: Int
    public var startedAt: Timestamp
    public var durationMilliseconds: Int64
    /// The receiver's HTTP status, when it answered.
    public var status: Int?
    /// Why the attempt failed, in words (never the receiver's body).
    public var error: String?

    public init(attempt: Int, startedAt: Timestamp, durationMilliseconds: Int64, status: Int?, error: String?) {
        self.attempt = attempt
        self.startedAt = startedAt
        self.durationMilliseconds = durationMilliseconds
        self.status = status
        self.error = error
    }

    public var succeeded: Bool { status.map { (200..<300).contains($0) } ?? false }
}
