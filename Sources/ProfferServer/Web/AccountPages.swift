import Foundation
import Hummingbird
import ProfferCore
import ProfferStorage

/// The start page, signing up, in and out. A session lives in an `HttpOnly`, `SameSite=Lax` cookie (`Secure` behind
/// TLS); the token in it is an ordinary session token, so signing out revokes it everywhere.
struct AccountPages: Sendable {
    let pages: WebPages

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/", use: home)
        router.get("/signup", use: signUpForm)
        router.post("/signup", use: signUp)
        router.get("/signin", use: signInForm)
        router.post("/signin", use: signIn)
        router.post("/signout", use: signOut)
    }

    @Sendable func home(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.visit(request, signedIn: false) { visit in
            visit.person == nil ? visit.render("home", title: "Your data, on your terms", ["closed": request.uri.queryParameters["closed"] != nil]) : visit.redirect("/data")
        }
    }

    @Sendable func signUpForm(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.visit(request, signedIn: false) { visit in
            visit.render("signup", title: "Create your Proffer", nav: "signup")
        }
    }

    @Sendable func signUp(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.visit(request, signedIn: false) { visit in
            let form = try await visit.form()
            let email = form["email"] ?? "", handle = (form["handle"] ?? "").trimmingCharacters(in: .whitespaces)
            do {
                let (_, session) = try await pages.services.signUp(email: email, password: form["password"] ?? "", handle: handle)
                return visit.redirect("/data?welcome=1", cookies: [visit.sessionCookie(session.token, maxAge: pages.services.configuration.sessionLifetimeSeconds)],
                                      rotateCSRF: true)
            } catch let failure as ValidationFailure {
                return visit.render("signup", title: "Create your Proffer", nav: "signup", status: .unprocessableContent,
                                    ["email": email, "handle": handle, "errors": fieldErrors(failure)])
            } catch DomainError.conflict {
                return visit.render("signup", title: "Create your Proffer", nav: "signup", status: .conflict,
                                    ["email": email, "handle": handle,
                                     "formError": "That email address or handle is already in use. Sign in, or choose another handle."])
            }
        }
    }

    @Sendable func signInForm(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.visit(request, signedIn: false) { visit in
            visit.render("signin", title: "Sign in", nav: "signin")
        }
    }

    @Sendable func signIn(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.visit(request, signedIn: false) { visit in
            let form = try await visit.form()
            let email = form["email"] ?? ""
            guard let (_, session) = try await pages.services.signIn(email: email, password: form["password"] ?? "") else {
                return visit.render("signin", title: "Sign in", nav: "signin", status: .unauthorized,
                                    ["email": email, "formError": "The email address or password is wrong."])
            }
            return visit.redirect("/data", cookies: [visit.sessionCookie(session.token, maxAge: pages.services.configuration.sessionLifetimeSeconds)],
                                  rotateCSRF: true)
        }
    }

    @Sendable func signOut(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.visit(request, signedIn: false) { visit in
            _ = try await visit.form()
            if let identity = visit.identity {
                try await pages.services.store.revokeToken(identity.token.id, of: identity.person.id, at: .now())
            }
            return visit.redirect("/", cookies: [visit.sessionCookie(nil, maxAge: 0)], rotateCSRF: true)
        }
    }
}
