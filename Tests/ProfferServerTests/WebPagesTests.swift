import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ProfferCore
import ProfferStorage
import ProfferTestSupport
import Testing

@testable import ProfferServer

/// The web app over real HTTP on both engines, as a browser without script would use it: cookies, forms, redirects.
/// (The real-browser run — Chromium, keyboard, screenshots, accessibility checks — is tests-external/browser_story.py.)
@Suite("Web pages")
struct WebPagesTests {
    static let engines = TestEngine.available

    /// A cookie jar and form poster over the live test client.
    actor Browser {
        let api: LiveAPI
        var cookies: [String: String] = [:]
        /// The CSRF token of the last page's forms (the cookie signed by the server), as a browser would submit it.
        var formToken = ""

        init(_ api: LiveAPI) { self.api = api }

        func setCookie(_ name: String, _ value: String) { cookies[name] = value }

        struct Page: Sendable {
            let status: HTTPResponse.Status
            let headers: HTTPFields
            let body: String
            var location: String? { headers[.location] }
            func errorFor(_ id: String) -> String? {
                guard let range = body.range(of: #"<p class="error" id="\#(id)-error">"#) else { return nil }
                return String(body[range.upperBound...].prefix { $0 != "<" })
            }
        }

        @discardableResult
        func get(_ path: String) async throws -> Page {
            try await send(.get, path, body: nil)
        }

        /// Posts a form with the CSRF token from the cookie (unless `csrf` says otherwise).
        @discardableResult
        func post(_ path: String, _ fields: [(String, String)], csrf: String? = nil) async throws -> Page {
            var components = URLComponents()
            components.queryItems = [URLQueryItem(name: "csrf", value: csrf ?? formToken)] + fields.map { URLQueryItem(name: $0.0, value: $0.1) }
            let body = (components.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")
            let page = try await send(.post, path, body: body)
            // Like a browser, follow the redirect: the next page's forms carry the (possibly rotated) token.
            if page.status == .seeOther, let location = page.location { _ = try await get(location) }
            return page
        }

        private func send(_ method: HTTPRequest.Method, _ path: String, body: String?) async throws -> Page {
            var headers: HTTPFields = [:]
            if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
            if body != nil { headers[.contentType] = "application/x-www-form-urlencoded" }
            let response = try await api.client.execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
            for field in response.headers[values: .setCookie] {
                let pair = field.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
                if pair.count == 2 { cookies[String(pair[0])] = String(pair[1]) } else if pair.count == 1 { cookies[String(pair[0])] = "" }
                if field.contains("Max-Age=0") { cookies[String(pair[0])] = nil }
            }
            let page = Page(status: response.status, headers: response.headers, body: String(decoding: response.body.readableBytesView, as: UTF8.self))
            if let range = page.body.range(of: #"name="csrf" value="[A-Za-z0-9_-]+""#, options: .regularExpression) {
                formToken = String(page.body[range].dropFirst(#"name="csrf" value=""#.count).dropLast())
            }
            #expect(page.status.code < 500, "\(method) \(path) answered \(page.status.code): \(page.body.prefix(300))")
            return page
        }

        func signUp(_ handle: String, password: String = "correct horse battery") async throws {
            try await get("/signup")
            let page = try await post("/signup", [("email", "\(handle)@example.org"), ("handle", handle), ("password", password)])
            #expect(page.status == .seeOther, "sign-up: \(page.body.prefix(300))")
        }
    }

    @Test(arguments: engines)
    func pagesCarrySecurityHeadersAndFormsNeedTheirCSRFToken(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let browser = Browser(api)
            let home = try await browser.get("/")
            #expect(home.status == .ok)
            #expect(home.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
            #expect(home.headers[.contentSecurityPolicy]?.contains("script-src") == false, "no script may run at all")
            #expect(home.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
            #expect(home.headers[.cacheControl] == "no-store")
            #expect(home.body.contains(#"<html lang="en">"#))
            let csrfCookie = home.headers[values: .setCookie].first { $0.hasPrefix("proffer_csrf=") } ?? ""
            #expect(csrfCookie.contains("HttpOnly") && csrfCookie.contains("SameSite=Strict"))

            // Sign-up without the token, with another one, or with the raw cookie value (a planted cookie is worthless
            // without the server's signature): refused, and nobody was created.
            let planted = await browser.cookies["proffer_csrf"] ?? ""
            #expect(try await browser.post("/signup", [("email", "mallory@example.org"), ("handle", "mallory"), ("password", "correct horse battery")],
                                           csrf: planted).status == .forbidden)
            let forged = try await browser.post("/signup", [("email", "mallory@example.org"), ("handle", "mallory"), ("password", "correct horse battery")],
                                                csrf: "forged-token-forged-token-forged-token-xxx")
            #expect(forged.status == .forbidden)
            let missing = try await browser.post("/signup", [("email", "mallory@example.org"), ("handle", "mallory"), ("password", "correct horse battery")], csrf: "")
            #expect(missing.status == .forbidden)
            #expect(try await api.runtime.store.person(handle: "mallory") == nil)

            try await browser.signUp("alice")
            let setCookie = try await browser.post("/signin", [("email", "alice@example.org"), ("password", "correct horse battery")])
                .headers[values: .setCookie].first { $0.hasPrefix("proffer_session=") } ?? ""
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Lax") && !setCookie.contains("Secure"), "\(setCookie)")
            let sessionCookie = await browser.cookies["proffer_session"] ?? ""
            #expect(sessionCookie.hasPrefix("ses_"))
            // The session cookie is the session token: the API accepts it as a bearer token, and signing out revokes it.
            #expect(try await api.call(.get, "/v1/me", token: sessionCookie).status == .ok)
            // A cross-site form post (no token) cannot change anything.
            let before = try await api.runtime.store.records(person: try #require(try await api.runtime.store.person(handle: "alice")).id)
            #expect(try await browser.post("/data/contact.email", [("value", "evil@example.org")], csrf: "").status == .forbidden)
            #expect(try await api.runtime.store.records(person: try #require(try await api.runtime.store.person(handle: "alice")).id).count == before.count)
            let signedOut = try await browser.post("/signout", [])
            #expect(signedOut.location == "/")
            #expect(try await api.call(.get, "/v1/me", token: sessionCookie).status == .unauthorized)
            #expect(try await browser.get("/data").location == "/signin", "signed out: pages send you to sign in")
            // A personal access token is not a web session.
            let alice = try await api.call(.post, "/v1/sessions", json: #"{"email":"alice@example.org","password":"correct horse battery"}"#).string("token") ?? ""
            let pat = try await api.call(.post, "/v1/me/tokens", token: alice, json: #"{"name":"script"}"#).string("token") ?? ""
            await browser.setCookie("proffer_session", pat)
            #expect(try await browser.get("/data").location == "/signin")
        }
        // Behind TLS, cookies are Secure.
        try await withLiveAPI(engine, configure: { $0.publicURL = "https://proffer.example" }) { api in
            let browser = Browser(api)
            let home = try await browser.get("/")
            #expect(home.headers[values: .setCookie].allSatisfy { $0.contains("Secure") })
        }
    }

    @Test(arguments: engines)
    func theWholeStoryThroughFormsWithBadInputKeptAndExplained(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let browser = Browser(api)
            // Sign-up mistakes come back next to their fields, with what was typed (never the password).
            try await browser.get("/signup")
            let short = try await browser.post("/signup", [("email", "alice@example.org"), ("handle", "Alice!"), ("password", "short")])
            #expect(short.status == .unprocessableContent)
            #expect(short.errorFor("password") != nil && short.errorFor("handle") != nil)
            #expect(short.body.contains(#"value="alice@example.org""#) && short.body.contains(#"value="Alice!""#))
            #expect(!short.body.contains(#"value="short""#))
            try await browser.signUp("alice")

            // Records through the generated forms.
            let badEmail = try await browser.post("/data/contact.email", [("value", "not an email")])
            #expect(badEmail.status == .unprocessableContent)
            #expect(badEmail.errorFor("f-value") != nil, "the message sits next to the field")
            #expect(badEmail.body.contains(#"value="not an email""#), "what was typed is kept")
            #expect(badEmail.body.contains(#"aria-invalid="true""#))
            #expect(try await browser.post("/data/contact.email", [("value", "alice@example.org")]).location == "/data/contact.email?saved=1")
            let noTown = try await browser.post("/data/address.home", [("lines", "1 High Street"), ("locality", ""), ("country", "gb")])
            #expect(noTown.errorFor("f-locality") != nil)
            #expect(noTown.body.contains("1 High Street"))
            #expect(try await browser.post("/data/address.home", [("lines", "1 High Street\nFlat 2"), ("locality", "Leeds"), ("country", "gb")]).status == .seeOther)
            #expect(try await browser.post("/data/identity.name.full", [("value", "Alice Example")]).status == .seeOther)
            let money = try await browser.post("/data/finance.income.annual", [("amount", "52000.50"), ("currency", "eur")])
            #expect(money.status == .seeOther, "\(money.body.prefix(400))")
            let data = try await browser.get("/data")
            #expect(data.body.contains("Leeds") && data.body.contains("52000.50 EUR"))

            // An organisation asks (through the API) for three keys.
            let bank = try await api.accessToken(try await api.registerOrganisation("Northwind <Bank>", domain: "northwind.example"))
            let asked = try await api.ask(bank, person: "alice", keys: ["contact.email", "identity.name.full", "address.home"])
            let requestID = asked.string("id") ?? ""
            let inbox = try await browser.get("/requests")
            #expect(inbox.body.contains("/requests/\(requestID)"))
            #expect(inbox.body.contains("Northwind &lt;Bank&gt;"), "names are escaped")
            let page = try await browser.get("/requests/\(requestID)")
            #expect(page.body.contains("No — they name no third party"))
            #expect(page.body.contains("This request keeps all your terms"))
            // Too long a duration: refused with the message by the field, the choice of keys kept.
            let tooLong = try await browser.post("/requests/\(requestID)/grant", [("keys", "contact.email"), ("durationDays", "999")])
            #expect(tooLong.status == .unprocessableContent)
            #expect(tooLong.errorFor("f-durationDays") != nil)
            #expect(tooLong.body.contains(#"id="key-contact.email" checked"#) && !tooLong.body.contains(#"id="key-address.home" checked"#))
            // Grant two of the three keys for 10 days.
            let granted = try await browser.post("/requests/\(requestID)/grant", [("keys", "contact.email"), ("keys", "address.home"), ("durationDays", "10")])
            let grantID = try #require(granted.location?.split(separator: "/").last?.split(separator: "?").first.map(String.init))
            #expect(granted.location == "/grants/\(grantID)?done=granted", "no personal data in the URL")
            let read = try await api.call(.get, "/v1/grants/\(grantID)/data", token: bank)
            guard case .array(let records)? = read["records"] else { Issue.record("no records: \(read.text)"); return }
            #expect(Set(records.compactMap { if case .object(let r) = $0, case .string(let key)? = r["key"] { key } else { nil } }) == ["contact.email", "address.home"])

            // Revoke with confirmation; the organisation is refused.
            let grantPage = try await browser.get("/grants/\(grantID)")
            #expect(grantPage.body.contains("/grants/\(grantID)/revoke") && grantPage.body.contains(".jws"))
            #expect(try await browser.get("/grants/\(grantID)/revoke").body.contains("Yes, revoke access"))
            #expect(try await browser.post("/grants/\(grantID)/revoke", []).location == "/grants/\(grantID)?done=revoked")
            #expect(try await api.call(.get, "/v1/grants/\(grantID)/data", token: bank).status == .forbidden)
            // The activity shows it all, and filters.
            let activity = try await browser.get("/activity")
            for words in ["asked for", "You granted", "read", "was revoked"] { #expect(activity.body.contains(words), "activity mentions \(words)") }
            let revocations = try await browser.get("/activity?kind=grant.revoked")
            #expect(revocations.body.contains("was revoked") && !revocations.body.contains("You saved"))
            // The receipt downloads as issued.
            let receiptPath = try #require(grantPage.body.range(of: #"/receipts/rct_[0-9a-f-]+\.jws"#, options: .regularExpression).map { String(grantPage.body[$0]) })
            let receipt = try await browser.get(receiptPath)
            #expect(receipt.headers[.contentType]?.hasPrefix("application/jose") == true)
            #expect(receipt.body.split(separator: ".").count == 3)
        }
    }

    @Test(arguments: engines)
    func oneOnlySeesOnesOwnAndEveryValueIsEscaped(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let alice = Browser(api)
            try await alice.signUp("alice")
            #expect(try await alice.post("/data/identity.name.full", [("value", #"<img src=x onerror="alert(1)">"#)]).status == .seeOther)
            let data = try await alice.get("/data")
            #expect(!data.body.contains("<img src=x"), "a stored value is escaped")
            #expect(data.body.contains("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"))
            let org = try await api.accessToken(try await api.registerOrganisation("Acme", domain: "acme.example"))
            // A third party with no stated purpose must not borrow the request's purpose on the page.
            let sharing = try await api.ask(org, person: "alice", keys: ["contact.email"], thirdParties: #"[{"name":"AdBrokerCo"},{"name":"X","purpose":"analytics"}]"#,
                                            acceptedTerms: LiveAPI.defaultTerms)
            let sharingPage = try await alice.get("/requests/\(sharing.string("id") ?? "")")
            #expect(sharingPage.body.contains("AdBrokerCo; X (analytics)"), "\(sharingPage.body.components(separatedBy: "pass it on?").last?.prefix(200) ?? "")")
            let asked = try await api.ask(org, person: "alice", keys: ["identity.name.full"])
            let requestID = asked.string("id") ?? ""
            let granted = try await alice.post("/requests/\(requestID)/grant", [("keys", "identity.name.full"), ("durationDays", "5")])
            let grantID = String(granted.location?.split(separator: "/").last?.split(separator: "?").first ?? "")

            let mallory = Browser(api)
            try await mallory.signUp("mallory")
            for path in ["/requests/\(requestID)", "/grants/\(grantID)", "/grants/\(grantID)/revoke"] {
                #expect(try await mallory.get(path).status == .notFound, "\(path) is alice's")
            }
            #expect(try await mallory.post("/grants/\(grantID)/revoke", []).status == .notFound)
            #expect(try await mallory.post("/requests/\(requestID)/refuse", []).status == .notFound)
            #expect(try await api.call(.get, "/v1/grants/\(grantID)/data", token: org).status == .ok, "alice's grant still stands")
            let receipts = try await api.runtime.store.receipts(of: .organisation(try #require(try await api.runtime.store.organisations().first { $0.name == "Acme" }).id))
            for receipt in receipts { #expect(try await mallory.get("/receipts/\(receipt.id).jws").status == .notFound) }
            #expect(try await mallory.get("/data/not.a.key").status == .notFound)
        }
    }

    @Test(arguments: engines)
    func theConsoleIsForTheOrganisationAndTheDirectoryForEveryone(engine: TestEngine) async throws {
        // Figures computed on every view, so the test sees the request it just made.
        try await withLiveAPI(engine, configure: { $0.directoryMaxAgeSeconds = 0 }) { api in
            let client = try await api.registerOrganisation("Sharing Co", domain: "sharing.example", verified: false)
            let token = try await api.accessToken(client)
            _ = try await api.signUp("alice")
            _ = try await api.ask(token, person: "alice", keys: ["contact.email"], thirdParties: #"[{"name":"Data Broker Ltd"}]"#, acceptedTerms: "[]")

            let visitor = Browser(api)
            let directory = try await visitor.get("/directory")
            #expect(directory.status == .ok)
            #expect(directory.body.contains("Sharing Co"))
            #expect(directory.body.contains("100 %"), "its one request asked to pass data on, and was refused by terms")

            #expect(try await visitor.get("/org").location == "/org/signin")
            try await visitor.get("/org/signin")
            let wrong = try await visitor.post("/org/signin", [("clientId", client.clientID), ("clientSecret", "wrong")])
            #expect(wrong.status == .unauthorized)
            let signedIn = try await visitor.post("/org/signin", [("clientId", client.clientID), ("clientSecret", client.secret)])
            #expect(signedIn.location == "/org")
            let console = try await visitor.get("/org")
            #expect(console.status == .ok)
            #expect(console.body.contains("Sharing Co") && console.body.contains("alice") && console.body.contains("refused"))
            // The console's token is not an API token at all.
            let consoleToken = await visitor.cookies[OrganisationPages.consoleCookie] ?? ""
            #expect(try await api.call(.get, "/v1/grants", token: consoleToken).status == .unauthorized)
            #expect(try await api.ask(consoleToken, person: "alice", keys: ["contact.email"]).status == .unauthorized)
            // Rotating the client secret ends the console sessions opened with the old one; the new one signs in.
            let rotated = try await api.call(.post, "/v1/admin/organisations/\(client.id)/secret", token: api.adminToken)
            #expect(rotated.status == .ok)
            #expect(try await visitor.get("/org").location == "/org/signin", "a session of the old secret is over")
            #expect(try await visitor.post("/org/signin", [("clientId", client.clientID), ("clientSecret", client.secret)]).status == .unauthorized)
            let newSecret = try #require(rotated.string("clientSecret"))
            #expect(try await visitor.post("/org/signin", [("clientId", client.clientID), ("clientSecret", newSecret)]).location == "/org")
            #expect(try await visitor.get("/org").status == .ok)
            #expect(try await visitor.post("/org/signout", []).location == "/org/signin")
            #expect(try await visitor.get("/org").location == "/org/signin")
        }
    }

    @Test(arguments: engines)
    func pricesAreSetAndRemovedThroughTheEarningsPage(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let browser = Browser(api)
            try await browser.signUp("alice")
            try await browser.get("/earnings")
            let bad = try await browser.post("/prices", [("target", "key:contact.email"), ("amount", "0.001"), ("currency", "EUR"), ("basis", "per-disclosure")])
            #expect(bad.status == .unprocessableContent)
            #expect(bad.errorFor("f-amount") != nil && bad.body.contains(#"value="0.001""#))
            let badCurrency = try await browser.post("/prices", [("target", "key:contact.email"), ("amount", "1"), ("currency", "EURO"), ("basis", "per-disclosure")])
            #expect(badCurrency.errorFor("f-currency") != nil)
            #expect(try await browser.post("/prices", [("target", "key:contact.email"), ("amount", "0.25"), ("currency", "eur"), ("basis", "per-disclosure")]).status == .seeOther)
            #expect(try await browser.post("/prices", [("target", "category:finance"), ("amount", "2"), ("currency", "EUR"), ("basis", "per-month")]).status == .seeOther)
            // One currency for the whole list, as the API insists.
            let mixed = try await browser.post("/prices", [("target", "category:health"), ("amount", "1"), ("currency", "GBP"), ("basis", "per-month")])
            #expect(mixed.status == .unprocessableContent)
            let alice = try #require(try await api.runtime.store.person(handle: "alice"))
            var prices = try await api.runtime.store.prices(of: alice.id).entries
            #expect(prices.count == 2)
            #expect(prices.contains { $0.key == "contact.email" && $0.price == Money(minorUnits: 25, currency: "EUR") && $0.basis == .perDisclosure })
            #expect(try await browser.post("/prices/remove", [("target", "key:contact.email")]).status == .seeOther)
            prices = try await api.runtime.store.prices(of: alice.id).entries
            #expect(prices.map(\.category) == [.finance])
            #expect(try await browser.get("/earnings").body.contains("2.00 EUR"))
        }
    }

}
