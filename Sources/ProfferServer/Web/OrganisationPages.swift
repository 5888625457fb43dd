import Foundation
import HTTPTypes
import Hummingbird
import JWTKit
import ProfferCore
import ProfferStorage

/// The organisation console (signed in with the organisation's OAuth client credentials; read-only), and the public
/// directory of organisations with their record on Proffer.
struct OrganisationPages: Sendable {
    let pages: WebPages
    var services: Services { pages.services }

    static let consoleCookie = "proffer_org"
    /// A console session: a read-only organisation access token in an HttpOnly cookie, for this long.
    static let consoleLifetimeSeconds = 8 * 3600

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/org/signin", use: signInForm)
        router.post("/org/signin", use: signIn)
        router.post("/org/signout", use: signOut)
        router.get("/org", use: console)
        router.get("/directory", use: directory)
    }

    /// The organisation of the console cookie, or nil — also once the organisation's client secret has been rotated
    /// since the session was opened (rotating it is how a leaked secret's console sessions are ended).
    func organisation(_ request: Request) async throws -> Organisation? {
        guard let token = request.cookies[Self.consoleCookie]?.value, token.utf8.count < 4096,
              let verified = await services.accessTokens.verify(token, audience: AccessTokens.consoleAudience),
              let id = verified.organisationID,
              let organisation = try await services.store.organisation(id: id),
              verified.claims.secret_binding == AccessTokens.binding(of: organisation.secretDigest) else { return nil }
        return organisation
    }

    private func consoleCookie(_ token: String?, _ visit: Visit) -> Cookie {
        Cookie(name: Self.consoleCookie, value: token ?? "", maxAge: token == nil ? 0 : Self.consoleLifetimeSeconds, path: "/",
               secure: pages.secureCookies, httpOnly: true, sameSite: .lax)
    }

    @Sendable func signInForm(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.visit(request, signedIn: false) { visit in
            visit.render("org-signin", title: "Organisation console", nav: "org")
        }
    }

    @Sendable func signIn(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.visit(request, signedIn: false) { visit in
            let form = try await visit.form()
            let clientID = (form["clientId"] ?? "").trimmingCharacters(in: .whitespaces)
            guard let organisation = try await services.authenticateClient(clientID: clientID, secret: form["clientSecret"] ?? "") else {
                return visit.render("org-signin", title: "Organisation console", nav: "org", status: .unauthorized,
                                    ["clientId": clientID, "formError": "The client id or secret is wrong."])
            }
            // Read-only: the console can look, never ask for or read people's data.
            let token = try await services.accessTokens.issue(for: organisation, scope: "requests:read grants:read",
                                                              lifetimeSeconds: Self.consoleLifetimeSeconds, audience: AccessTokens.consoleAudience,
                                                              boundToSecret: true)
            return visit.redirect("/org", cookies: [consoleCookie(token, visit)])
        }
    }

    @Sendable func signOut(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.visit(request, signedIn: false) { visit in
            _ = try await visit.form()
            return visit.redirect("/org/signin", cookies: [consoleCookie(nil, visit)])
        }
    }

    static func percent(_ rate: Double?) -> String {
        rate.map { String(format: "%.0f %%", $0 * 100) } ?? "—"
    }

    static func duration(_ milliseconds: Int64?) -> String {
        guard let milliseconds else { return "not measured" }
        if milliseconds < 1000 { return "under a second" }
        if milliseconds < 120_000 { return "\(milliseconds / 1000) s" }
        if milliseconds < 7_200_000 { return "\(milliseconds / 60_000) min" }
        return "\(milliseconds / 3_600_000) h"
    }

    /// What a CIO needs: requests and their outcomes, active grants with what each costs and how fresh its data is,
    /// acceptance and revocation rates, and this month's spending.
    @Sendable func console(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.visit(request, signedIn: false) { visit in
            guard let organisation = try await organisation(request) else { return visit.redirect("/org/signin") }
            let now = Timestamp.now()
            // The rates come from the directory's figures (recomputed at most once a minute), not a scan per page view.
            let record = try await pages.directory.current(store: services.store).1[organisation.id] ?? OrganisationRecord(organisationID: organisation.id)
            let requests = try await services.store.requests(of: .organisation(organisation.id), limit: 25)
            let grants = try await services.store.grants(of: .organisation(organisation.id), limit: 25)
            let handles = try await services.handles(requests.map(\.personID) + grants.map(\.personID))
            var freshness: [Int64] = []
            var grantRows: [[String: Any]] = []
            // Only live grants: a suspended grant's organisation is told nothing about the data, not even when it changed.
            let current = grants.filter { $0.status(at: now) == .active }
            let changeTimes = try await services.store.recordChangeTimes(people: current.map(\.personID))
            for grant in current {
                let changes = (changeTimes[grant.personID] ?? [:]).filter { grant.keys.contains($0.key) }
                let newest = changes.values.max()
                if let newest { freshness.append(now.millisecondsSinceEpoch - newest.millisecondsSinceEpoch) }
                grantRows.append([
                    "person": handles[grant.personID] ?? "?", "keys": grant.keys.joined(separator: ", "), "status": grant.status(at: now).rawValue,
                    "cost": grant.offer.summary, "until": grant.expiresAt.displayDate,
                    "fresh": newest.map { "\($0.displayDate) (\(changes.count) of \(grant.keys.count) keys set)" } ?? "no values set",
                ])
            }
            let spending = try await services.store.statement(of: .organisation(organisation.id),
                                                              from: Timestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch - 30 * 86_400_000), to: now)
            // Charges less refunds: everything but funding.
            let spent = try StatementController.totals(spending.filter { $0.kind != "wallet-credit" }.map(\.amount))
            let balances = try await services.store.walletBalances(organisation.id)
            let medianFreshness = freshness.isEmpty ? nil : freshness.sorted()[freshness.count / 2]
            return visit.render("org-console", title: "Console: \(organisation.name)", nav: "org", console: organisation, [
                "name": organisation.name, "verified": organisation.verified,
                "requests": requests.map { item -> [String: Any] in
                    ["person": handles[item.personID] ?? "?", "keys": item.keys.joined(separator: ", "), "state": item.state.rawValue,
                     "asked": item.createdAt.display, "purpose": services.purposes.purpose(item.purpose)?.label ?? item.purpose]
                },
                "hasRequests": !requests.isEmpty, "grants": grantRows, "hasGrants": !grantRows.isEmpty,
                "total": record.requests, "pending": record.pending, "granted": record.granted, "refused": record.refused,
                "acceptance": Self.percent(record.acceptanceRate), "revocation": Self.percent(record.revocationRate),
                "active": record.activeGrants, "byTerms": record.refusedByTerms,
                "freshness": Self.duration(medianFreshness), "spent": spent.map { ["amount": Money(minorUnits: -$0.minorUnits, currency: $0.currency).formatted] },
                "hasSpent": !spent.isEmpty, "balances": balances.map { ["amount": $0.formatted] }, "hasBalances": !balances.isEmpty,
            ])
        }
    }

    /// Public: every organisation with its record, so a person can choose the one that does not pass data on.
    @Sendable func directory(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.visit(request, signedIn: false) { visit in
            let (organisations, records) = try await pages.directory.current(store: services.store)
            let rows: [[String: Any]] = organisations.sorted { $0.name.localizedCaseInsensitiveCompare($1.name) == .orderedAscending }.map { organisation in
                let record = records[organisation.id] ?? OrganisationRecord(organisationID: organisation.id)
                return ["name": organisation.name, "domain": organisation.domain, "verified": organisation.verified, "requests": record.requests,
                        "onward": Self.percent(record.onwardSharingRate), "byTerms": Self.percent(record.refusedByTermsRate),
                        "revocation": Self.percent(record.revocationRate), "notice": Self.duration(record.medianRevocationNoticeMilliseconds),
                        "acceptance": Self.percent(record.acceptanceRate)]
            }
            return visit.render("directory", title: "Organisations on Proffer", nav: "directory", ["organisations": rows, "none": rows.isEmpty,
                                                                                                  "seconds": pages.directory.maxAgeSeconds])
        }
    }
}
