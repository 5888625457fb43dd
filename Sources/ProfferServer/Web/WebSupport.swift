import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Mustache
import ProfferCore
import ProfferStorage

/// The web app's shared machinery: templates, the session cookie, CSRF tokens, form bodies, and answers with the
/// security headers every page carries. Pages are server-rendered mustache templates; no script runs in them.
struct WebPages: Sendable {
    let services: Services
    let templates: MustacheLibrary
    let directory: DirectoryCache
    /// Signs the CSRF cookie into the forms' token, so a cookie planted by someone else is worthless without it.
    let csrfKey: SymmetricKey
    let logger = Logger(label: "proffer.web")

    init(services: Services, templates: MustacheLibrary) {
        self.services = services
        self.templates = templates
        self.csrfKey = services.vault.masterKey.derivedKey(for: "csrf")
        self.directory = DirectoryCache(maxAgeSeconds: services.configuration.directoryMaxAgeSeconds)
    }

    static let sessionCookie = "proffer_session"
    static let csrfCookie = "proffer_csrf"
    static let maxFormBytes = 64 * 1024

    /// Every page: no script at all, styles and images from this origin only, forms posting only here, never framed.
    static let contentSecurityPolicy =
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    static func loadTemplates() async throws -> MustacheLibrary {
        guard let url = Bundle.module.url(forResource: "templates", withExtension: nil) else {
            throw ConfigurationError("the bundled web templates are missing")
        }
        return try await MustacheLibrary(directory: url.path)
    }

    /// Whether cookies get `Secure`: when Proffer is reached over TLS (its public URL is https).
    var secureCookies: Bool { services.configuration.publicURL?.lowercased().hasPrefix("https://") ?? false }
}

/// One page view in the making: who is signed in (if anyone), the CSRF token for its forms, and how to answer.
struct Visit: Sendable {
    let pages: WebPages
    let request: Request
    let identity: Authenticator.PersonIdentity?
    /// The random value of the CSRF cookie.
    let csrfCookieValue: String
    /// The CSRF cookie must be set on the answer (the browser had none).
    let newCSRF: Bool

    /// The token every form carries: the cookie's value signed with the server's CSRF key.
    var csrf: String { WebPages.base64URL(Data(HMAC<SHA256>.authenticationCode(for: Data(csrfCookieValue.utf8), using: pages.csrfKey))) }

    var person: Person? { identity?.person }

    /// Renders `template` inside the layout. `nav` names the current section for `aria-current`.
    /// `console` draws the organisation console's header (signed in as that organisation) instead of the person's.
    func render(_ template: String, title: String, nav: String? = nil, status: HTTPResponse.Status = .ok, console: Organisation? = nil,
                _ view: [String: Any] = [:]) -> Response {
        var context = view
        context["pageTitle"] = title
        context["csrf"] = csrf
        if let console {
            context["console"] = ["name": console.name]
        } else if let person {
            context["signedIn"] = ["handle": person.handle]
        }
        if let nav { context["nav_\(nav)"] = true }
        let html = pages.templates.render(Self.clean(context), withTemplate: template) ?? "<!doctype html><title>Error</title><p>The page could not be drawn.</p>"
        return respond(status: status, html: html)
    }

    /// Mustache treats an empty string as true in a section (`{{#note}}…{{/note}}`), and a missing key is looked up in
    /// the enclosing contexts — so an empty or absent value must neither show a section nor borrow an outer value of the
    /// same name. Empty strings and nils become `Blank`: present, rendering as nothing, false in a section.
    static func clean(_ view: [String: Any]) -> [String: Any] {
        var cleaned: [String: Any] = [:]
        for (key, value) in view {
            if let text = value as? any StringProtocol, text.isEmpty {
                cleaned[key] = Blank()
            } else if let optional = value as? (any OptionalProtocol), optional.isNone {
                cleaned[key] = Blank()
            } else if let nested = value as? [String: Any] {
                cleaned[key] = clean(nested)
            } else if let list = value as? [[String: Any]] {
                cleaned[key] = list.map(clean)
            } else {
                cleaned[key] = value
            }
        }
        return cleaned
    }

    func respond(status: HTTPResponse.Status, html: String) -> Response {
        var headers: HTTPFields = [
            .contentType: "text/html; charset=utf-8",
            .contentSecurityPolicy: WebPages.contentSecurityPolicy,
            .cacheControl: "no-store",
            HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            HTTPField.Name("Referrer-Policy")!: "no-referrer",
            HTTPField.Name("X-Frame-Options")!: "DENY",
        ]
        if newCSRF { headers.append(HTTPField(name: .setCookie, value: csrfCookie.description)) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// 303 See Other: after a form, the browser fetches the result page with GET. `rotateCSRF` (on signing in or out)
    /// gives the browser a new CSRF cookie, so a token learned before cannot be used after.
    func redirect(_ location: String, cookies: [Cookie] = [], rotateCSRF: Bool = false) -> Response {
        var headers: HTTPFields = [.location: location, .cacheControl: "no-store"]
        if rotateCSRF {
            headers.append(HTTPField(name: .setCookie, value: Self.csrfCookie(WebPages.newToken(), secure: pages.secureCookies).description))
        } else if newCSRF {
            headers.append(HTTPField(name: .setCookie, value: csrfCookie.description))
        }
        for cookie in cookies { headers.append(HTTPField(name: .setCookie, value: cookie.description)) }
        return Response(status: .seeOther, headers: headers)
    }

    private var csrfCookie: Cookie { Self.csrfCookie(csrfCookieValue, secure: pages.secureCookies) }

    private static func csrfCookie(_ value: String, secure: Bool) -> Cookie {
        Cookie(name: WebPages.csrfCookie, value: value, path: "/", secure: secure, httpOnly: true, sameSite: .strict)
    }

    /// The session cookie for a new session (or, with nil, the one that clears it).
    func sessionCookie(_ token: String?, maxAge: Int) -> Cookie {
        Cookie(name: WebPages.sessionCookie, value: token ?? "", maxAge: token == nil ? 0 : maxAge, path: "/",
               secure: pages.secureCookies, httpOnly: true, sameSite: .lax)
    }

    /// Reads a form body and checks its CSRF token against the cookie (double submit, compared in constant time).
    func form() async throws -> FormData {
        if let type = request.headers[.contentType], !type.lowercased().hasPrefix("application/x-www-form-urlencoded") {
            throw WebFailure(.unsupportedMediaType, "This page takes a form.")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: WebPages.maxFormBytes)
        } catch {
            throw WebFailure(.contentTooLarge, "What you sent is too large (at most 64 KiB).")
        }
        let form = FormData(urlEncoded: String(decoding: buffer.readableBytesView, as: UTF8.self))
        guard !newCSRF, let sent = form["csrf"], let mac = WebPages.base64URLDecode(sent),
              HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Data(csrfCookieValue.utf8), using: pages.csrfKey)
        else {
            throw WebFailure(.forbidden, "This form has expired or did not come from Proffer. Go back, reload the page and try again.")
        }
        return form
    }

}

/// A failure shown as a page: its status and a sentence for the person.
struct WebFailure: Error, Sendable {
    let status: HTTPResponse.Status
    let message: String

    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// A form body (`application/x-www-form-urlencoded`) as its name/value pairs, in order; names may repeat.
struct FormData: Sendable {
    let pairs: [(String, String)]

    init(urlEncoded body: String) {
        var components = URLComponents()
        components.percentEncodedQuery = body.replacingOccurrences(of: "+", with: "%20")
        pairs = (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }
    }

    init(pairs: [(String, String)]) {
        self.pairs = pairs
    }

    subscript(_ name: String) -> String? { pairs.first { $0.0 == name }?.1 }

    func all(_ name: String) -> [String] { pairs.filter { $0.0 == name }.map(\.1) }

    /// A trimmed value, nil when absent or blank.
    func text(_ name: String) -> String? {
        guard let value = self[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }
}

extension WebPages {
    /// Runs a page: finds the signed-in person from the session cookie, prepares the CSRF token, and turns every
    /// failure into a page (a sign-in redirect when `signedIn` is required and nobody is).
    func visit(_ request: Request, signedIn: Bool = true, _ body: (Visit) async throws -> Response) async throws -> Response {
        let identity = try await person(from: request)
        let existing = request.cookies[Self.csrfCookie]?.value
        let cookieValue = existing.flatMap { $0.count == 43 ? $0 : nil } ?? Self.newToken()
        let visit = Visit(pages: self, request: request, identity: identity, csrfCookieValue: cookieValue, newCSRF: existing != cookieValue)
        if signedIn && identity == nil {
            return visit.redirect("/signin")
        }
        do {
            return try await body(visit)
        } catch let failure as WebFailure {
            return visit.render("error", title: failure.status.reasonPhrase, status: failure.status, ["message": failure.message])
        } catch let error as DomainError {
            let problem = Problem.from(error)
            return visit.render("error", title: problem.title, status: problem.status, ["message": problem.detail])
        } catch let problem as Problem {
            return visit.render("error", title: problem.title, status: problem.status, ["message": problem.detail])
        } catch let failure as ValidationFailure {
            let problem = Problem.validation(failure)
            return visit.render("error", title: problem.title, status: problem.status, ["message": problem.detail])
        } catch {
            // Only the type: a message could carry personal data.
            logger.error("a page failed", metadata: ["error.type": "\(type(of: error))"])
            return visit.render("error", title: "Something went wrong", status: .internalServerError,
                                ["message": "The page could not be made; it has been logged. Please try again."])
        }
    }

    /// Runs a page only a signed-in person sees, handing it that person (anyone else is sent to sign in).
    func signedIn(_ request: Request, _ body: (Visit, Person) async throws -> Response) async throws -> Response {
        try await visit(request, signedIn: true) { visit in
            guard let person = visit.person else { return visit.redirect("/signin") }
            return try await body(visit, person)
        }
    }

    /// The person of the session cookie (sessions only, never personal access tokens), or nil.
    func person(from request: Request) async throws -> Authenticator.PersonIdentity? {
        guard let token = request.cookies[Self.sessionCookie]?.value, token.hasPrefix("ses_"), token.utf8.count < 200,
              let (record, person) = try await services.store.token(digest: SecretToken.digest(token), at: .now()),
              record.kind == .session
        else { return nil }
        return Authenticator.PersonIdentity(person: person, token: record)
    }

    /// 32 random bytes, base64url without padding (43 characters; valid in a cookie).
    static func newToken() -> String {
        base64URL(SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) })
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func base64URLDecode(_ text: String) -> Data? {
        guard text.utf8.count <= 100 else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}

/// Field errors by form field name: a JSON pointer's last segment (`/value/locality` → `locality`, `/email` → `email`).
func fieldErrors(_ failure: ValidationFailure, prefix: String = "") -> [String: String] {
    var errors: [String: String] = [:]
    for error in failure.errors {
        var pointer = error.pointer
        if pointer.hasPrefix(prefix) { pointer.removeFirst(prefix.count) }
        let name = pointer.split(separator: "/").map(String.init).joined(separator: ".")
        let key = name.isEmpty ? "value" : name
        errors[key] = errors[key].map { "\($0) \(error.detail.capitalisedSentence)" } ?? error.detail.capitalisedSentence
    }
    return errors
}


/// Lets a view tell a boxed nil from a value.
protocol OptionalProtocol {
    var isNone: Bool { get }
}

extension Optional: OptionalProtocol {
    var isNone: Bool { self == nil }
}

/// A value that is there but empty: renders as nothing and counts as false in a section.
struct Blank: MustacheCustomRenderable {
    var renderText: String { "" }
    var isNull: Bool { true }
}
