import Foundation
import HTTPTypes
import Hummingbird
import ProfferCore
import ProfferStorage

/// "Earnings": the balance, the statement by month and organisation, and its CSV; "Export": the whole account as one
/// ZIP, and closing the account.
struct MoneyAndExportPages: Sendable {
    let pages: WebPages
    var services: Services { pages.services }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/earnings", use: earnings)
        router.get("/earnings.csv", use: earningsCSV)
        router.post("/prices", use: setPrice)
        router.post("/prices/remove", use: removePrice)
        router.get("/export", use: exportPage)
        router.post("/export", use: export)
        router.post("/close", use: close)
    }

    @Sendable func earnings(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            return try await earningsPage(visit, person: person)
        }
    }

    /// What each kind of statement line is called on the earnings page.
    static let kindLabels = ["disclosure-charge": "reads", "period-charge": "months", "period-refund": "months refunded"]

    /// The earnings page: balance, statement, and the price list with a form to set or remove a price.
    private func earningsPage(_ visit: Visit, person: Person, typed: FormData? = nil, errors: [String: String] = [:],
                              status: HTTPResponse.Status = .ok) async throws -> Response {
        let balances = try await services.store.earningsBalances(person.id)
        let range = try StatementController.range(visit.request)
        let (rows, name) = try await StatementController.earnings(of: person.id, from: range.from, to: range.to, services: services)
        let lines: [[String: Any]] = rows.map { row in
            ["period": row.period, "organisation": name(row.counterpart), "kind": Self.kindLabels[row.kind] ?? row.kind,
             "transfers": row.transfers, "amount": row.amount.formatted]
        }
        let prices = try await services.store.prices(of: person.id).entries.map { entry -> [String: Any] in
            ["target": entry.key.map { services.catalogue.entry(for: $0)?.personalLabel ?? $0 } ?? "Anything in \(entry.category.map { DataPages.categoryTitles[$0] ?? $0.rawValue } ?? "?")",
             "targetId": Self.targetID(entry), "price": entry.price.formatted, "basis": entry.basis.phrase]
        }
        let chosen = typed?["target"] ?? ""
        let targets: [[String: Any]] = RecordCategory.allCases.map { category in
            ["value": "category:\(category.rawValue)", "label": "Anything in \(DataPages.categoryTitles[category] ?? category.rawValue)",
             "selected": chosen == "category:\(category.rawValue)"]
        } + services.catalogue.entries.map { entry in
            ["value": "key:\(entry.key)", "label": entry.personalLabel, "selected": chosen == "key:\(entry.key)"]
        }
        var view: [String: Any] = [
            "balances": balances.map { ["amount": $0.formatted] }, "hasBalance": !balances.isEmpty,
            "lines": lines, "hasLines": !lines.isEmpty, "from": range.fromText, "to": range.toText,
            "prices": prices, "hasPrices": !prices.isEmpty, "targets": targets,
            "bases": PriceBasis.allCases.map { ["value": $0.rawValue, "label": $0.phrase, "selected": $0.rawValue == (typed?["basis"] ?? "per-disclosure")] },
            "amount": typed?["amount"] ?? "", "currency": typed?["currency"] ?? "", "errors": errors,
            "saved": visit.request.uri.queryParameters["saved"] != nil,
        ]
        if !errors.isEmpty { view["formError"] = "The price was not saved; see the messages below." }
        return visit.render("earnings", title: "Earnings", nav: "earnings", status: status, view)
    }

    static func targetID(_ entry: PriceEntry) -> String {
        entry.key.map { "key:\($0)" } ?? entry.category.map { "category:\($0.rawValue)" } ?? ""
    }

    /// Sets (or replaces) the price of one key or category; the whole list is then checked as the API checks it.
    @Sendable func setPrice(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            let form = try await visit.form()
            var errors: [String: String] = [:]
            let target = form["target"] ?? ""
            var entry = PriceEntry(basis: PriceBasis(rawValue: form["basis"] ?? "") ?? .perDisclosure, price: Money(minorUnits: 0, currency: ""))
            if target.hasPrefix("key:"), services.catalogue.contains(String(target.dropFirst(4))) {
                entry.key = String(target.dropFirst(4))
            } else if target.hasPrefix("category:"), let category = RecordCategory(rawValue: String(target.dropFirst(9))) {
                entry.category = category
            } else {
                errors["target"] = "Choose a key or a category."
            }
            if PriceBasis(rawValue: form["basis"] ?? "") == nil { errors["basis"] = "Choose per disclosure or per month." }
            let currency = (form.text("currency") ?? "").uppercased()
            if let digits = ISO4217.minorUnits(of: currency) {
                if let minor = RecordForm.minorUnits(form.text("amount") ?? "", digits: digits), minor > 0 {
                    entry.price = Money(minorUnits: minor, currency: currency)
                } else {
                    errors["amount"] = "Enter an amount above zero with at most \(digits) decimal places."
                }
            } else {
                errors["currency"] = "Enter an ISO 4217 currency code such as EUR or GBP."
            }
            if errors.isEmpty {
                var entries = try await services.store.prices(of: person.id).entries.filter { Self.targetID($0) != target }
                entries.append(entry)
                do {
                    let list = try PriceList.parse(try Self.json(entries), catalogue: services.catalogue)
                    try await services.store.setPrices(list, of: person.id, at: .now())
                    return visit.redirect("/earnings?saved=1#prices")
                } catch let failure as ValidationFailure {
                    errors["amount"] = failure.errors.map { $0.detail.capitalisedSentence }.joined(separator: " ")
                }
            }
            return try await earningsPage(visit, person: person, typed: form, errors: errors, status: .unprocessableContent)
        }
    }

    @Sendable func removePrice(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            let form = try await visit.form()
            let entries = try await services.store.prices(of: person.id).entries.filter { Self.targetID($0) != form["target"] }
            try await services.store.setPrices(try PriceList.parse(try Self.json(entries), catalogue: services.catalogue), of: person.id, at: .now())
            return visit.redirect("/earnings?saved=1#prices")
        }
    }

    /// Price entries as the JSON the API takes, so the page's list is checked by the same parser.
    static func json(_ entries: [PriceEntry]) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(entries))
    }

    @Sendable func earningsCSV(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            let range = try StatementController.range(request)
            let (rows, name) = try await StatementController.earnings(of: person.id, from: range.from, to: range.to, services: services)
            return Response(status: .ok, headers: [
                .contentType: "text/csv; charset=utf-8; header=present", .cacheControl: "no-store",
                .contentDisposition: "attachment; filename=\"proffer-earnings-\(range.fromText)-to-\(range.toText).csv\"",
                HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            ], body: .init(byteBuffer: ByteBuffer(string: StatementController.csv(rows, name: name).text)))
        }
    }

    @Sendable func exportPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            visit.render("export", title: "Export", nav: "export", ["handle": person.handle])
        }
    }

    /// The archive comes from a POST (with its CSRF token), so no link elsewhere can make a browser download it.
    @Sendable func export(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            _ = try await visit.form()
            let (archive, name) = try await PersonExport(services: services).archive(for: person, at: .now())
            return Response(status: .ok, headers: [.contentType: "application/zip", .cacheControl: "no-store",
                                                   .contentDisposition: "attachment; filename=\"\(name)\"",
                                                   HTTPField.Name("X-Content-Type-Options")!: "nosniff"],
                            body: .init(byteBuffer: ByteBuffer(bytes: archive)))
        }
    }

    @Sendable func close(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            let form = try await visit.form()
            var errors: [String: String] = [:]
            if form["confirmHandle"] != person.handle { errors["confirmHandle"] = "Type your handle, \(person.handle), exactly." }
            let password = form["password"] ?? ""
            if errors.isEmpty {
                guard password.utf8.count <= 72, try await services.passwords.verify(password, hash: person.passwordHash) else {
                    errors["password"] = "The password is wrong."
                    return visit.render("export", title: "Export", nav: "export", status: .forbidden,
                                        ["handle": person.handle, "errors": errors, "typedHandle": form["confirmHandle"] ?? ""])
                }
                _ = try await services.closeAccount(person.id, actor: "person", at: .now())
                return visit.redirect("/?closed=1", cookies: [visit.sessionCookie(nil, maxAge: 0)])
            }
            return visit.render("export", title: "Export", nav: "export", status: .unprocessableContent,
                                ["handle": person.handle, "errors": errors, "typedHandle": form["confirmHandle"] ?? ""])
        }
    }
}
