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
        router.get("/export", use: exportPage)
        router.post("/export", use: export)
        router.post("/close", use: close)
    }

    @Sendable func earnings(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.visit(request) { visit in
            guard let person = visit.person else { throw WebFailure(.unauthorized, "Sign in first.") }
            let balances = try await services.store.earningsBalances(person.id)
            let range = try StatementController.range(request)
            let (rows, name) = try await StatementController.earnings(of: person.id, from: range.from, to: range.to, services: services)
            let lines: [[String: Any]] = rows.map { row in
                ["period": row.period, "organisation": name(row.counterpart), "kind": row.kind == "disclosure-charge" ? "reads" : row.kind == "period-charge" ? "months" : row.kind,
                 "transfers": row.transfers, "amount": row.amount.formatted]
            }
            let prices = try await services.store.prices(of: person.id).entries.map { entry -> [String: Any] in
                ["target": entry.target, "price": entry.price.formatted, "basis": entry.basis.phrase]
            }
            return visit.render("earnings", title: "Earnings", nav: "earnings", [
                "balances": balances.map { ["amount": $0.formatted] }, "hasBalance": !balances.isEmpty,
                "lines": lines, "hasLines": !lines.isEmpty, "from": range.fromText, "to": range.toText,
                "prices": prices, "hasPrices": !prices.isEmpty,
            ])
        }
    }

    @Sendable func earningsCSV(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.visit(request) { visit in
            guard let person = visit.person else { throw WebFailure(.unauthorized, "Sign in first.") }
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
        try await pages.visit(request) { visit in
            visit.render("export", title: "Export", nav: "export", ["handle": visit.person?.handle ?? ""])
        }
    }

    /// The archive comes from a POST (with its CSRF token), so no link elsewhere can make a browser download it.
    @Sendable func export(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.visit(request) { visit in
            guard let person = visit.person else { throw WebFailure(.unauthorized, "Sign in first.") }
            _ = try await visit.form()
            let (archive, name) = try await PersonExport(services: services).archive(for: person, at: .now())
            return Response(status: .ok, headers: [.contentType: "application/zip", .cacheControl: "no-store",
                                                   .contentDisposition: "attachment; filename=\"\(name)\"",
                                                   HTTPField.Name("X-Content-Type-Options")!: "nosniff"],
                            body: .init(byteBuffer: ByteBuffer(bytes: archive)))
        }
    }

    @Sendable func close(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.visit(request) { visit in
            guard let person = visit.person else { throw WebFailure(.unauthorized, "Sign in first.") }
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
