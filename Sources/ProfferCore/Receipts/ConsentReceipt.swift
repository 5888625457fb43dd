import Foundation

/// Builds a consent receipt: a Kantara Consent Receipt v1.1 (`KI-CR-v1.1.0`) document, plus the
/// ISO/IEC TS 27560 consent record fields Kantara lacks under `extensions.iso27560` (at the root and on
/// each purpose), plus Proffer's own facts under `extensions.proffer`. See tests-external/RECEIPTS.md.
public struct ConsentReceipt: Sendable {
    public struct Context: Sendable {
        public var id: ReceiptID
        public var event: ReceiptEvent
        public var at: Timestamp
        public var person: PersonID
        public var organisation: Organisation
        public var request: DataRequest
        /// The grant the event is about; nil for a refusal.
        public var grant: Grant?
        /// `person`, `rule:<id>`, `terms` or `system`.
        public var decidedBy: String
        public var explanation: String?
        public var jurisdiction: String

        public init(id: ReceiptID, event: ReceiptEvent, at: Timestamp, person: PersonID, organisation: Organisation, request: DataRequest,
                    grant: Grant?, decidedBy: String, explanation: String?, jurisdiction: String) {
            self.id = id
            self.event = event
            self.at = at
            self.person = person
            self.organisation = organisation
            self.request = request
            self.grant = grant
            self.decidedBy = decidedBy
            self.explanation = explanation
            self.jurisdiction = jurisdiction
        }
    }

    public static let version = "KI-CR-v1.1.0"

    public static func document(_ c: Context, catalogue: Catalogue = .standard, purposes: PurposeTaxonomy = .standard) -> JSONValue {
        let keys = c.grant?.keys ?? c.request.keys
        let sensitiveKeys = keys.filter { catalogue.entry(for: $0)?.sensitive == true }
        let purpose = purposes.purpose(c.request.purpose)
        let siteURL = "https://\(c.organisation.domain)/"
        let contact = c.organisation.contact
        let thirdParties = c.request.thirdParties.map(\.name)
        let given = c.event == .granted || c.event == .partiallyGranted
        let termination: String = switch c.event {
        case .granted, .partiallyGranted:
            "Until the person revokes the grant in Proffer, or \(c.grant?.expiresAt.rfc3339 ?? "its expiry"), whichever is first"
        case .refused: "No consent was given; the request was refused"
        case .revoked: "Withdrawn by the person at \(c.at.rfc3339)"
        case .expired: "Expired at \(c.grant?.expiresAt.rfc3339 ?? c.at.rfc3339)"
        }
        var purposeObject: [String: JSONValue] = [
            "purpose": .string("\(purpose?.label ?? c.request.purpose): \(c.request.reason)"),
            "purposeCategory": .array([.string(purpose?.iri ?? c.request.purpose)]),
            "consentType": .string("EXPLICIT"),
            "piiCategory": .array(keys.map { .string($0) }),
            "primaryPurpose": .bool(true),
            "termination": .string(termination),
            "thirdPartyDisclosure": .bool(!thirdParties.isEmpty),
            "extensions": .object(["iso27560": .object([
                "lawfulBasis": .string("consent"),
                "piiInformation": .array(keys.map { key in
                    .object([
                        "piiType": .string(catalogue.entry(for: key)?.category.rawValue ?? "other"),
                        "piiAttributeId": .string(key),
                        "piiOptional": .bool(false),
                        "sensitivePiiCategory": .bool(sensitiveKeys.contains(key)),
                        "specialPiiCategory": .bool(sensitiveKeys.contains(key)),
                    ])
                }),
                "collectionMethod": .array([.string("disclosed by the person's Proffer data store under this grant")]),
                "storageLocations": .array([.string("the person's Proffer data store"), .string(c.organisation.name)]),
                "retentionPeriod": .string("P\(c.request.retentionDays)D"),
                "recipientThirdParties": .array(thirdParties.map { .string($0) }),
                "withdrawalMethod": .string("Revoke the grant in Proffer (POST /v1/me/grants/{id}/revoke); disclosure stops with the next request"),
            ])]),
        ]
        if !thirdParties.isEmpty { purposeObject["thirdPartyName"] = .string(thirdParties.joined(separator: ", ")) }

        let eventState: String = switch c.event {
        case .granted, .partiallyGranted: "given"
        case .refused: "refused"
        case .revoked: "withdrawn"
        case .expired: "expired"
        }
        var event: [String: JSONValue] = [
            "eventTime": .string(c.at.rfc3339),
            "entityId": .string(c.decidedBy == "person" ? c.person.rawValue : c.decidedBy),
            "eventType": .string(c.decidedBy == "person" ? "explicit" : "explicit (standing decision: \(c.decidedBy))"),
            "eventState": .string(eventState),
        ]
        if given, let grant = c.grant {
            event["validityDuration"] = .string("P\(max(1, (grant.expiresAt.millisecondsSinceEpoch - grant.createdAt.millisecondsSinceEpoch) / 86_400_000))D")
        }
        var proffer: [String: JSONValue] = [
            "event": .string(c.event.rawValue),
            "requestId": .string(c.request.id.rawValue),
            "organisationId": .string(c.organisation.id.rawValue),
            "requestedKeys": .array(c.request.keys.map { .string($0) }),
            "decidedBy": .string(c.decidedBy),
            "acceptedTerms": .array(c.request.acceptedTerms.map { .string($0.rawValue) }),
        ]
        if let grant = c.grant {
            proffer["grantId"] = .string(grant.id.rawValue)
            proffer["grantedKeys"] = .array(grant.keys.map { .string($0) })
            proffer["expiresAt"] = .string(grant.expiresAt.rfc3339)
        }
        if let explanation = c.explanation { proffer["explanation"] = .string(explanation) }
        // The agreed compensation (or, for a refusal, what was offered): fixed once granted.
        proffer["compensation"] = (c.grant?.offer ?? c.request.offer).json

        return .object([
            "version": .string(version),
            "jurisdiction": .string(c.jurisdiction),
            "consentTimestamp": .integer(c.at.millisecondsSinceEpoch / 1000),
            "collectionMethod": .string(collectionMethod(c.decidedBy, event: c.event)),
            "consentReceiptID": .string(c.id.rawValue),
            "language": .string("en"),
            "piiPrincipalId": .string(c.person.rawValue),
            "piiControllers": .array([.object([
                "piiController": .string(c.organisation.name),
                "onBehalf": .bool(false),
                "contact": .string(contact.name ?? "\(c.organisation.name) data protection contact"),
                "address": contact.address ?? .object([:]),
                "email": .string(contact.email ?? ""),
                "phone": .string(contact.phone ?? ""),
                "piiControllerUrl": .string(siteURL),
            ])]),
            "policyUrl": .string(contact.policyURL ?? siteURL),
            "services": .array([.object([
                "service": .string(c.request.reason),
                "purposes": .array([.object(purposeObject)]),
            ])]),
            "sensitive": .bool(!sensitiveKeys.isEmpty),
            "spiCat": .array(Array(Set(sensitiveKeys.compactMap { catalogue.entry(for: $0)?.category.rawValue })).sorted().map { .string($0) }),
            "extensions": .object([
                "iso27560": .object([
                    "recordId": .string(c.grant?.id.rawValue ?? c.request.id.rawValue),
                    "parties": .array([
                        .object(["partyId": .string(c.organisation.id.rawValue), "partyName": .string(c.organisation.name),
                                 "partyRole": .string("PII controller"), "partyType": .string("Recipient"), "partyUrl": .string(siteURL)]),
                        .object(["partyId": .string(c.person.rawValue), "partyRole": .string("PII principal"), "partyType": .string("Data subject")]),
                    ]),
                    "events": .array([.object(event)]),
                ]),
                "proffer": .object(proffer),
            ]),
        ])
    }

    static func collectionMethod(_ decidedBy: String, event: ReceiptEvent) -> String {
        switch event {
        case .revoked: return "Proffer: the person revoked the grant"
        case .expired: return "Proffer: the grant reached the end of its duration"
        case .granted, .partiallyGranted, .refused:
            if decidedBy == "terms" { return "Proffer: decided automatically under the person's proffered terms" }
            if decidedBy.hasPrefix("rule:") { return "Proffer: decided automatically by the person's standing rule \(decidedBy.dropFirst(5))" }
            return "Proffer: the person answered the organisation's request"
        }
    }
}
