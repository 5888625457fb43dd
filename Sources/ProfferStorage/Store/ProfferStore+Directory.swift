import Foundation
import ProfferCore
import SQLKit

/// How an organisation behaves on Proffer, computed from what it actually did: what its requests asked for and how
/// people and their terms answered, how its grants ended, and how fast it was told of revocations.
public struct OrganisationRecord: Sendable, Hashable {
    public var organisationID: OrganisationID
    public var requests = 0
    /// Requests naming third parties the data would be passed on to.
    public var requestsSharingOnward = 0
    /// Requests refused by the person's terms without asking them.
    public var refusedByTerms = 0
    public var granted = 0
    public var refused = 0
    public var pending = 0
    public var grants = 0
    public var activeGrants = 0
    public var revokedGrants = 0
    /// Milliseconds from a revocation to the organisation's webhook receiving it, per delivered revocation (recent first).
    public var revocationNoticeDelays: [Int64] = []

    public init(organisationID: OrganisationID) {
        self.organisationID = organisationID
    }

    /// Share of decided requests the organisation got (granted over granted + refused), nil with none decided.
    public var acceptanceRate: Double? { granted + refused == 0 ? nil : Double(granted) / Double(granted + refused) }
    public var revocationRate: Double? { grants == 0 ? nil : Double(revokedGrants) / Double(grants) }
    public var onwardSharingRate: Double? { requests == 0 ? nil : Double(requestsSharingOnward) / Double(requests) }
    public var refusedByTermsRate: Double? { requests == 0 ? nil : Double(refusedByTerms) / Double(requests) }
    public var medianRevocationNoticeMilliseconds: Int64? {
        guard !revocationNoticeDelays.isEmpty else { return nil }
        let sorted = revocationNoticeDelays.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}

extension ProfferStore {
    /// The behaviour record of every organisation, from grouped counts over requests and grants.
    public func organisationRecords(at now: Timestamp = .now()) async throws -> [OrganisationID: OrganisationRecord] {
        try await read { db in
            var records: [OrganisationID: OrganisationRecord] = [:]
            func record(_ id: String) -> OrganisationRecord { records[OrganisationID(trusted: id)] ?? OrganisationRecord(organisationID: OrganisationID(trusted: id)) }
            for row in try await db.raw("""
                SELECT organisation_id, COUNT(*) AS n,
                       SUM(CASE WHEN third_parties <> '[]' THEN 1 ELSE 0 END) AS onward,
                       SUM(CASE WHEN decided_by = 'terms' THEN 1 ELSE 0 END) AS by_terms,
                       SUM(CASE WHEN state = 'granted' THEN 1 ELSE 0 END) AS granted,
                       SUM(CASE WHEN state = 'refused' THEN 1 ELSE 0 END) AS refused,
                       SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END) AS pending
                FROM requests GROUP BY organisation_id
                """).all() {
                let id = try row.decode(column: "organisation_id", as: String.self)
                var item = record(id)
                item.requests = try row.decode(column: "n", as: Int.self)
                item.requestsSharingOnward = try row.decode(column: "onward", as: Int.self)
                item.refusedByTerms = try row.decode(column: "by_terms", as: Int.self)
                item.granted = try row.decode(column: "granted", as: Int.self)
                item.refused = try row.decode(column: "refused", as: Int.self)
                item.pending = try row.decode(column: "pending", as: Int.self)
                records[item.organisationID] = item
            }
            for row in try await db.raw("""
                SELECT organisation_id, COUNT(*) AS n,
                       SUM(CASE WHEN revoked_at IS NOT NULL THEN 1 ELSE 0 END) AS revoked,
                       SUM(CASE WHEN revoked_at IS NULL AND expires_at > \(bind: now.millisecondsSinceEpoch) THEN 1 ELSE 0 END) AS active
                FROM grants GROUP BY organisation_id
                """).all() {
                let id = try row.decode(column: "organisation_id", as: String.self)
                var item = record(id)
                item.grants = try row.decode(column: "n", as: Int.self)
                item.revokedGrants = try row.decode(column: "revoked", as: Int.self)
                item.activeGrants = try row.decode(column: "active", as: Int.self)
                records[item.organisationID] = item
            }
            for row in try await db.raw("""
                SELECT e.organisation_id, MIN(d.delivered_at) - e.created_at AS delay
                FROM webhook_events e JOIN webhook_deliveries d ON d.event_id = e.id
                WHERE e.type = 'grant.revoked' AND d.delivered_at IS NOT NULL
                GROUP BY e.organisation_id, e.id, e.created_at
                ORDER BY e.created_at DESC LIMIT 10000
                """).all() {
                let id = try row.decode(column: "organisation_id", as: String.self)
                var item = record(id)
                item.revocationNoticeDelays.append(max(0, try row.decode(column: "delay", as: Int64.self)))
                records[item.organisationID] = item
            }
            return records
        }
    }

    /// When each key of each of these people last changed (keys without a value are absent), in one query; no
    /// values are read.
    public func recordChangeTimes(people: [PersonID]) async throws -> [PersonID: [String: Timestamp]] {
        guard !people.isEmpty else { return [:] }
        return try await read { db in
            var times: [PersonID: [String: Timestamp]] = [:]
            for row in try await db.select().columns("person_id", "key", "updated_at").from("records")
                .where("person_id", .in, Array(Set(people.map(\.rawValue)))).all() {
                times[PersonID(trusted: try row.decode(column: "person_id", as: String.self)), default: [:]][try row.decode(column: "key", as: String.self)] =
                    try row.timestamp("updated_at")
            }
            return times
        }
    }
}
