import Foundation
import Hummingbird
import ProfferCore
import ProfferStorage

/// "My data": every catalogue key by category with the person's value, an edit form per key generated from its type,
/// and the key's history.
struct DataPages: Sendable {
    let pages: WebPages
    var services: Services { pages.services }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/data", use: list)
        router.get("/data/{key}", use: show)
        router.post("/data/{key}", use: save)
        router.post("/data/{key}/delete", use: delete)
    }

    static let categoryTitles: [RecordCategory: String] = [
        .identity: "Identity", .contact: "Contact", .address: "Addresses", .finance: "Finance", .employment: "Work",
        .education: "Education", .health: "Health", .preferences: "Preferences",
    ]

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            let dataKey = try services.vault.dataKey(for: person)
            var values: [String: (JSONValue, Timestamp)] = [:]
            for record in try await services.store.records(person: person.id) {
                if let value = try services.vault.open(record, with: dataKey) { values[record.key] = (value, record.changedAt) }
            }
            let categories: [[String: Any]] = RecordCategory.allCases.map { category in
                let entries: [[String: Any]] = services.catalogue.entries.filter { $0.category == category }.map { entry in
                    var view: [String: Any] = ["key": entry.key, "description": entry.personalLabel, "sensitive": entry.sensitive]
                    if let (value, changed) = values[entry.key] {
                        view["summary"] = RecordForm.summary(value, type: entry.type)
                        view["changed"] = changed.display
                    }
                    return view
                }
                return ["name": category.rawValue, "title": Self.categoryTitles[category] ?? category.rawValue, "entries": entries]
            }
            return visit.render("data", title: "My data", nav: "data",
                                ["categories": categories, "welcome": visit.request.uri.queryParameters["welcome"] != nil])
        }
    }

    private func entry(_ request: Request, context: AppRequestContext) throws -> CatalogueEntry {
        let key = context.parameters.get("key") ?? ""
        guard let entry = services.catalogue.entry(for: key) else {
            throw WebFailure(.notFound, "There is no such key in the catalogue.")
        }
        return entry
    }

    /// The record page: the form (from the stored value, or from what was typed when it failed) and the history.
    private func recordPage(_ visit: Visit, entry: CatalogueEntry, person: Person, typed: FormData? = nil, errors: [String: String] = [:],
                            status: HTTPResponse.Status = .ok) async throws -> Response {
        let dataKey = try services.vault.dataKey(for: person)
        let history = try await services.store.recordHistory(person: person.id, key: entry.key)
        let current = try await services.store.records(person: person.id, keys: [entry.key]).first
        let stored = try current.flatMap { try services.vault.open($0, with: dataKey) }
        let versions: [[String: Any]] = try history.reversed().map { version in
            let value = try services.vault.open(version, with: dataKey)
            return ["version": version.version, "deleted": value == nil, "changed": version.changedAt.display,
                    "summary": value.map { RecordForm.summary($0, type: entry.type) } ?? ""]
        }
        let query = visit.request.uri.queryParameters
        var view: [String: Any] = [
            "key": entry.key, "description": entry.personalLabel, "sensitive": entry.sensitive, "hasValue": stored != nil,
            "fields": RecordForm.fields(for: entry, stored: stored, typed: typed, errors: errors).map(\.view),
            "history": versions, "hasHistory": !versions.isEmpty,
            "saved": typed == nil && query["saved"] != nil, "deleted": typed == nil && query["deleted"] != nil,
        ]
        if !errors.isEmpty { view["formError"] = "Please correct the highlighted fields; nothing was saved." }
        return visit.render("record", title: entry.personalLabel, nav: "data", status: status, view)
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            return try await recordPage(visit, entry: try entry(request, context: context), person: person)
        }
    }

    @Sendable func save(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            let entry = try entry(request, context: context)
            let form = try await visit.form()
            do {
                switch RecordForm.value(for: entry, from: form) {
                case .failure(let failure):
                    throw failure
                case .success(let value):
                    _ = try await services.putRecord(value, entry: entry, for: person)
                }
            } catch let failure as ValidationFailure {
                return try await recordPage(visit, entry: entry, person: person, typed: form, errors: fieldErrors(failure, prefix: "/value"),
                                            status: .unprocessableContent)
            }
            return visit.redirect("/data/\(entry.key)?saved=1")
        }
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            let entry = try entry(request, context: context)
            _ = try await visit.form()
            do {
                try await services.deleteRecord(entry, for: person)
            } catch DomainError.notFound {
                throw WebFailure(.notFound, "You have no value for this key.")
            }
            return visit.redirect("/data/\(entry.key)?deleted=1")
        }
    }
}
