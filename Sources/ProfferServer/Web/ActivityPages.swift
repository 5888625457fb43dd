import Foundation
import Hummingbird
import ProfferCore
import ProfferStorage

/// "Activity": the person's audit log as a readable timeline, newest first, filterable by organisation and by kind.
struct ActivityPages: Sendable {
    let pages: WebPages
    var services: Services { pages.services }

    static let pageSize = 50

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/activity", use: activity)
    }

    /// Each kind in words, in the order the filter lists them.
    static let kinds: [(AuditKind, String)] = [
        (.disclosure, "Data read by an organisation"), (.disclosureRefused, "Read refused"),
        (.requestReceived, "Request received"), (.requestGranted, "Request granted"), (.requestRefused, "Request refused"),
        (.grantRevoked, "Grant revoked"), (.grantExpired, "Grant expired"), (.grantSuspended, "Grant suspended (unpaid)"),
        (.periodCharged, "Month paid"), (.recordPut, "Record saved"), (.recordDeleted, "Record deleted"),
        (.termsUpdated, "Terms changed"), (.ruleAdded, "Rule added"), (.ruleRemoved, "Rule removed"), (.pricesUpdated, "Prices changed"),
        (.accountCreated, "Account created"), (.accountImported, "Data imported"), (.accountClosed, "Account closed"),
    ]

    @Sendable func activity(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            let query = request.uri.queryParameters
            let organisationFilter = query["organisation"].flatMap { OrganisationID(String($0)) }
            let kindFilter = query["kind"].flatMap { AuditKind(rawValue: String($0)) }
            let before = query["before"].flatMap { Int64(String($0)) }
            let entries = try await services.store.auditEntriesNewestFirst(for: person.id, organisation: organisationFilter,
                                                                          kinds: kindFilter.map { [$0] }, before: before, limit: Self.pageSize)
            let known = try await services.store.auditOrganisations(for: person.id)
            let organisations = try await services.organisations(known + entries.compactMap(\.organisationID))
            let labels = Dictionary(Self.kinds, uniquingKeysWith: { first, _ in first })
            let items: [[String: Any]] = entries.map { entry in
                let organisation = entry.organisationID.flatMap { organisations[$0]?.name }
                return ["kind": labels[entry.kind] ?? entry.kind.rawValue, "kindId": entry.kind.rawValue, "at": entry.at.display,
                        "sentence": sentence(entry, organisation: organisation), "note": entry.note ?? "", "seq": entry.sequence,
                        "grantId": entry.grantID?.rawValue ?? ""]
            }
            var nextQuery: [String] = []
            if let organisationFilter { nextQuery.append("organisation=\(organisationFilter)") }
            if let kindFilter { nextQuery.append("kind=\(kindFilter.rawValue)") }
            if entries.count == Self.pageSize, let last = entries.last { nextQuery.append("before=\(last.sequence)") }
            let organisationOptions: [[String: Any]] = known.compactMap { id in organisations[id].map { ($0, id) } }
                .sorted { $0.0.name < $1.0.name }
                .map { ["value": $0.1.rawValue, "label": $0.0.name, "selected": $0.1 == organisationFilter] }
            return visit.render("activity", title: "Activity", nav: "activity", [
                "entries": items, "none": items.isEmpty, "filtered": organisationFilter != nil || kindFilter != nil,
                "organisations": organisationOptions,
                "kinds": Self.kinds.map { ["value": $0.0.rawValue, "label": $0.1, "selected": $0.0 == kindFilter] },
                "next": entries.count == Self.pageSize ? "/activity?" + nextQuery.joined(separator: "&") : "",
            ])
        }
    }

    /// One entry as a sentence.
    func sentence(_ entry: AuditEntry, organisation: String?) -> String {
        let who = organisation ?? "An organisation"
        let keys = entry.keys.map { services.catalogue.entry(for: $0)?.personalLabel.lowercased() ?? $0 }.joined(separator: ", ")
        switch entry.kind {
        case .disclosure: return "\(who) read \(keys.isEmpty ? "nothing (no values set)" : keys)."
        case .disclosureRefused: return "\(who) tried to read your data and was refused."
        case .requestReceived: return "\(who) asked for \(keys)."
        case .requestGranted: return "You granted \(who) \(keys)."
        case .requestRefused: return "\(who)'s request for \(keys) was refused."
        case .grantRevoked: return "\(who)'s access to \(keys) was revoked."
        case .grantExpired: return "\(who)'s access to \(keys) expired."
        case .grantSuspended: return "\(who)'s access to \(keys) was suspended: it did not pay."
        case .periodCharged: return "\(who) paid for a month of access."
        case .recordPut: return "You saved \(keys)."
        case .recordDeleted: return "You deleted \(keys)."
        case .termsUpdated: return "You changed your terms."
        case .ruleAdded: return "You added a rule."
        case .ruleRemoved: return "You removed a rule."
        case .pricesUpdated: return "You changed your prices."
        case .accountCreated: return "You created your Proffer."
        case .accountImported: return "You imported data from an export."
        case .accountClosed: return "The account was closed."
        }
    }
}
