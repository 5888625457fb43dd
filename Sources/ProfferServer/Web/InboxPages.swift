import Foundation
import HTTPTypes
import Hummingbird
import ProfferCore
import ProfferStorage

/// The person's inbox of requests — each said in plain words, with which of their terms it keeps or breaks — and
/// "Who has my data": grants by state, each with its receipts and a revoke that asks for confirmation.
struct InboxPages: Sendable {
    let pages: WebPages
    var services: Services { pages.services }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/requests", use: inbox)
        router.get("/requests/{requestId}", use: request)
        router.post("/requests/{requestId}/grant", use: grantRequest)
        router.post("/requests/{requestId}/refuse", use: refuse)
        router.get("/grants", use: grants)
        router.get("/grants/{grantId}", use: showGrant)
        router.get("/grants/{grantId}/revoke", use: confirmRevoke)
        router.post("/grants/{grantId}/revoke", use: revoke)
        router.get("/receipts/{receiptFile}", use: receipt)
    }

    // MARK: Requests

    @Sendable func inbox(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            let requests = try await services.store.requests(of: .person(person.id), limit: 200)
            let organisations = try await services.organisations(requests.map(\.organisationID))
            func card(_ item: DataRequest) -> [String: Any] {
                let organisation = organisations[item.organisationID]
                return ["id": item.id.rawValue, "organisation": organisation?.name ?? "an organisation", "verified": organisation?.verified ?? false,
                        "purpose": purposeLabel(item.purpose), "keys": item.keys.count, "asked": item.createdAt.display,
                        "state": item.state.rawValue, "granted": item.state == .granted, "refused": item.state == .refused,
                        "decidedBy": decidedByWords(item.decidedBy)]
            }
            let pending = requests.filter { $0.state == .pending }.map(card)
            let decided = requests.filter { $0.state != .pending }.map(card)
            return visit.render("requests", title: "Requests", nav: "requests",
                                ["pending": pending, "hasPending": !pending.isEmpty, "decided": decided, "hasDecided": !decided.isEmpty,
                                 "decision": decisionNotice(visit) ?? ""])
        }
    }

    private func decisionNotice(_ visit: Visit) -> String? {
        switch visit.request.uri.queryParameters["done"] {
        case "refused": "Refused. The organisation is told, and the receipt is in your activity."
        case "revoked": "Revoked. The organisation's next read is refused."
        default: nil
        }
    }

    private func ownRequest(_ context: AppRequestContext, person: Person) async throws -> DataRequest {
        guard let id = RequestID(context.parameters.get("requestId") ?? ""), let found = try await services.store.request(id: id),
              found.personID == person.id else { throw WebFailure(.notFound, "You have no such request.") }
        return found
    }

    func purposeLabel(_ id: String) -> String {
        services.purposes.purpose(id).map { "\($0.label) — \($0.description)" } ?? id
    }

    func decidedByWords(_ decidedBy: String?) -> String {
        switch decidedBy {
        case nil: ""
        case "person"?: "you"
        case "terms"?: "your terms"
        case "operator"?: "the operator"
        case let rule? where rule.hasPrefix("rule:"): "one of your rules"
        case let other?: other
        }
    }

    /// The request page: everything the person needs to decide, in words, and the two forms.
    private func requestPage(_ visit: Visit, _ found: DataRequest, person: Person, typed: FormData? = nil, errors: [String: String] = [:],
                             status: HTTPResponse.Status = .ok) async throws -> Response {
        guard let organisation = try await services.store.organisation(id: found.organisationID) else {
            throw WebFailure(.notFound, "You have no such request.")
        }
        let terms = try await services.proffered(by: person.id)
        let broken = TermChecker.brokenTerms(terms, request: found.facts(organisationVerified: organisation.verified),
                                             prices: try await services.store.prices(of: person.id), purposes: services.purposes)
        let termViews: [[String: Any]] = terms.map { term in
            let definition = services.terms.definition(term.id)
            let breaking = broken.first { $0.term == term.id }
            return ["title": definition.title, "text": definition.text(with: term.parameters), "kept": breaking == nil,
                    "reason": breaking?.reason ?? ""]
        }
        let chosen = typed.map { Set($0.all("keys")) } ?? Set(found.keys)
        let keys: [[String: Any]] = found.keys.map { key in
            let entry = services.catalogue.entry(for: key)
            return ["key": key, "label": entry?.personalLabel ?? key, "sensitive": entry?.sensitive ?? false, "checked": chosen.contains(key)]
        }
        var view: [String: Any] = [
            "id": found.id.rawValue, "organisation": organisation.name, "domain": organisation.domain, "verified": organisation.verified,
            "purpose": purposeLabel(found.purpose), "reason": found.reason, "durationDays": found.durationDays,
            "retentionDays": found.retentionDays, "keys": keys, "terms": termViews, "keepsAllTerms": broken.isEmpty,
            "thirdParties": found.thirdParties.map { ["name": $0.name, "purpose": $0.purpose ?? ""] },
            "passesOn": !found.thirdParties.isEmpty, "offer": found.offer.summary, "pays": found.offer != .nothing,
            "tracking": found.declarations.tracking, "sale": found.declarations.sale, "automated": found.declarations.automatedDecisions,
            "pushValues": found.pushValues, "asked": found.createdAt.display, "pending": found.state == .pending,
            "state": found.state.rawValue, "decidedBy": decidedByWords(found.decidedBy), "decisionNote": found.decisionNote ?? "",
            "grantId": found.grantID?.rawValue ?? "", "days": typed?["durationDays"] ?? String(found.durationDays),
            "errors": errors, "reasonTyped": typed?["reason"] ?? "",
        ]
        if found.state != .pending { view["decided"] = true }
        return visit.render("request", title: "Request from \(organisation.name)", nav: "requests", status: status, view)
    }

    @Sendable func request(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            return try await requestPage(visit, try await ownRequest(context, person: person), person: person)
        }
    }

    @Sendable func grantRequest(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            let found = try await ownRequest(context, person: person)
            let form = try await visit.form()
            guard let days = Int(form["durationDays"] ?? "") else {
                return try await requestPage(visit, found, person: person, typed: form, errors: ["durationDays": "Enter a number of days."],
                                             status: .unprocessableContent)
            }
            do {
                let granted = try await services.grant(found, keys: form.all("keys"), days: days, pushValues: form["pushValues"] == "true")
                return visit.redirect("/grants/\(granted.id)?done=granted")
            } catch let failure as ValidationFailure {
                var errors = fieldErrors(failure)
                for key in errors.keys where key.hasPrefix("keys") { errors["keys"] = errors[key] }
                return try await requestPage(visit, found, person: person, typed: form, errors: errors, status: .unprocessableContent)
            }
        }
    }

    @Sendable func refuse(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            let found = try await ownRequest(context, person: person)
            let form = try await visit.form()
            do {
                _ = try await services.refuse(found, reason: form.text("reason"))
            } catch let failure as ValidationFailure {
                return try await requestPage(visit, found, person: person, typed: form, errors: fieldErrors(failure), status: .unprocessableContent)
            }
            return visit.redirect("/requests?done=refused")
        }
    }

    // MARK: Grants

    func grantCard(_ grant: Grant, organisations: [OrganisationID: Organisation], now: Timestamp) -> [String: Any] {
        let status = grant.status(at: now)
        return ["id": grant.id.rawValue, "organisation": organisations[grant.organisationID]?.name ?? "an organisation",
                "keys": grant.keys.map { services.catalogue.entry(for: $0)?.personalLabel ?? $0 }.joined(separator: ", "),
                "purpose": services.purposes.purpose(grant.purpose)?.label ?? grant.purpose, "status": status.rawValue,
                "since": grant.createdAt.displayDate, "until": grant.expiresAt.displayDate, "revokedAt": grant.revokedAt?.display ?? "",
                "offer": grant.offer.summary]
    }

    @Sendable func grants(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            let all = try await services.store.grants(of: .person(person.id), limit: 200)
            let organisations = try await services.organisations(all.map(\.organisationID))
            let now = Timestamp.now()
            var groups: [[String: Any]] = []
            for (status, title) in [(Grant.Status.active, "Active"), (.suspended, "Suspended for want of payment"), (.expired, "Expired"), (.revoked, "Revoked")] {
                let cards = all.filter { $0.status(at: now) == status }.map { grantCard($0, organisations: organisations, now: now) }
                if !cards.isEmpty { groups.append(["title": title, "status": status.rawValue, "grants": cards, "count": cards.count]) }
            }
            return visit.render("grants", title: "Who has my data", nav: "grants", ["groups": groups, "none": groups.isEmpty])
        }
    }

    private func ownGrant(_ context: AppRequestContext, person: Person) async throws -> Grant {
        guard let id = GrantID(context.parameters.get("grantId") ?? ""), let found = try await services.store.grant(id: id),
              found.personID == person.id else { throw WebFailure(.notFound, "You have no such grant.") }
        return found
    }

    private func grantView(_ grant: Grant, person: Person) async throws -> [String: Any] {
        let organisations = try await services.organisations([grant.organisationID])
        var view = grantCard(grant, organisations: organisations, now: .now())
        view["live"] = grant.isLive(at: .now())
        view["keyList"] = grant.keys.map { services.catalogue.entry(for: $0)?.personalLabel ?? $0 }
        view["requestId"] = grant.requestID.rawValue
        view["retentionDays"] = grant.retentionDays
        view["pushValues"] = grant.pushValues
        view["thirdParties"] = grant.thirdParties.map(\.name).joined(separator: ", ")
        let receipts = try await services.store.receipts(of: .person(person.id), grant: grant.id)
        view["receipts"] = receipts.map { ["id": $0.id.rawValue, "event": $0.event.rawValue, "issued": $0.issuedAt.display] }
        view["hasReceipts"] = !receipts.isEmpty
        return view
    }

    @Sendable func showGrant(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            let found = try await ownGrant(context, person: person)
            var view = try await grantView(found, person: person)
            view["justGranted"] = visit.request.uri.queryParameters["done"] == "granted"
            view["justRevoked"] = visit.request.uri.queryParameters["done"] == "revoked"
            return visit.render("grant", title: "Grant to \(view["organisation"] as? String ?? "an organisation")", nav: "grants", view)
        }
    }

    @Sendable func confirmRevoke(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            let found = try await ownGrant(context, person: person)
            guard found.isLive(at: .now()) else { return visit.redirect("/grants/\(found.id)") }
            return visit.render("revoke", title: "Revoke access", nav: "grants", try await grantView(found, person: person))
        }
    }

    @Sendable func revoke(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            let found = try await ownGrant(context, person: person)
            let form = try await visit.form()
            do {
                _ = try await services.revoke(found, reason: form.text("reason"))
            } catch DomainError.grantNotActive {
                return visit.redirect("/grants/\(found.id)")
            } catch let failure as ValidationFailure {
                var view = try await grantView(found, person: person)
                view["errors"] = fieldErrors(failure)
                view["reasonTyped"] = form["reason"] ?? ""
                return visit.render("revoke", title: "Revoke access", nav: "grants", status: .unprocessableContent, view)
            }
            return visit.redirect("/grants/\(found.id)?done=revoked")
        }
    }

    /// A consent receipt as issued (compact JWS), downloaded as a file.
    @Sendable func receipt(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            let file = context.parameters.get("receiptFile") ?? ""
            guard file.hasSuffix(".jws"), let id = ReceiptID(String(file.dropLast(4))), let found = try await services.store.receipt(id: id),
                  found.personID == person.id else { throw WebFailure(.notFound, "You have no such receipt.") }
            return Response(status: .ok, headers: [.contentType: "application/jose; charset=us-ascii", .cacheControl: "no-store",
                                                   .contentDisposition: "attachment; filename=\"\(id.rawValue).jws\"",
                                                   HTTPField.Name("X-Content-Type-Options")!: "nosniff"],
                            body: .init(byteBuffer: ByteBuffer(string: found.jws)))
        }
    }
}
