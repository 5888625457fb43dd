import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ProfferCore

/// An RFC 9457 problem answer. Every error the API returns is one of these.
public struct Problem: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    /// Short stable slug naming the kind of problem; the `type` URI is built from it.
    public var slug: String
    public var title: String
    public var detail: String
    public var errors: [FieldError]
    /// Extension members (RFC 9457 §3.2), e.g. `since` for a revoked grant or OAuth's `error`.
    public var extensions: [String: JSONValue]
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ slug: String, title: String, detail: String,
                errors: [FieldError] = [], extensions: [String: JSONValue] = [:], headers: HTTPFields = [:]) {
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.errors = errors
        self.extensions = extensions
        self.headers = headers
    }

    public static let typeBase = "https://proffer.dev/problems/"

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response()
    }

    public func response() -> Response {
        var body: [String: JSONValue] = [
            "type": .string(Self.typeBase + slug),
            "title": .string(title),
            "status": .integer(Int64(status.code)),
            "detail": .string(detail),
        ]
        if !errors.isEmpty {
            body["errors"] = .array(errors.map { .object(["pointer": .string($0.pointer), "detail": .string($0.detail)]) })
        }
        for (key, value) in extensions { body[key] = value }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(JSONValue.object(body))) ?? Data("{}".utf8)
        var fields = headers
        fields[.contentType] = "application/problem+json"
        fields[.cacheControl] = "no-store"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension Problem {
    static func badRequest(_ detail: String, errors: [FieldError] = []) -> Problem {
        Problem(.badRequest, "bad-request", title: "The request is malformed", detail: detail, errors: errors)
    }

    static func validation(_ failure: ValidationFailure) -> Problem {
        let summary = failure.errors.count == 1
            ? "\(failure.errors[0].pointer): \(failure.errors[0].detail)"
            : "\(failure.errors.count) fields are invalid: " + failure.errors.map { "\($0.pointer): \($0.detail)" }.joined(separator: "; ")
        return Problem(.unprocessableContent, "validation", title: "The request failed validation", detail: summary, errors: failure.errors)
    }

    static func notFound(_ detail: String) -> Problem {
        Problem(.notFound, "not-found", title: "Not found", detail: detail)
    }

    static func unauthorized(_ detail: String, realm: String = "proffer") -> Problem {
        Problem(.unauthorized, "unauthorized", title: "Authentication required", detail: detail,
                headers: [.wwwAuthenticate: "Bearer realm=\"\(realm)\""])
    }

    static func forbidden(_ detail: String) -> Problem {
        Problem(.forbidden, "forbidden", title: "Not allowed", detail: detail)
    }

    /// A person who closed their account: gone for good, and their handle is never given to anyone else.
    static func personErased(handle: String, at: Timestamp) -> Problem {
        Problem(.gone, "person-erased", title: "The person closed their account",
                detail: "\(handle.prefix(40)) closed their account at \(at); their data is erased, nothing can be asked of them and the handle is never reused",
                extensions: ["erasedAt": .string(at.rfc3339)])
    }

    static func conflict(_ detail: String) -> Problem {
        Problem(.conflict, "conflict", title: "Conflict", detail: detail)
    }

    /// Maps a ledger refusal to its problem answer.
    static func from(_ error: LedgerError) -> Problem {
        switch error {
        case .idempotencyConflict(let key):
            return Problem(.unprocessableContent, "idempotency-key-reused", title: "Idempotency key reused",
                           detail: "the Idempotency-Key \"\(key.prefix(80))\" was already used with a different request; nothing was moved")
        case .idempotencyExpired(let key):
            return Problem(.unprocessableContent, "idempotency-key-expired", title: "Idempotency key expired",
                           detail: "the Idempotency-Key \"\(key.prefix(80))\" was used more than 24 hours ago; a retry must come within 24 hours, a new read needs a new key; nothing was disclosed or charged")
        case .overflow:
            return .validation(ValidationFailure(pointer: "/amount", detail: "would take a balance beyond the 64-bit range of minor units"))
        case .belowLimit(let account, _, _):
            return Problem(.paymentRequired, "insufficient-funds", title: "Insufficient funds",
                           detail: "the transfer would take \(account.prefix(80)) below its limit; nothing was moved")
        case .unbalanced:
            return Problem(.unprocessableContent, "unbalanced", title: "Unbalanced transfer", detail: "the transfer's legs do not sum to zero; nothing was moved")
        }
    }

    /// Maps a domain failure to its problem answer.
    static func from(_ error: DomainError) -> Problem {
        switch error {
        case .notFound(let what, let id):
            return .notFound("no \(what) \"\(id.prefix(80))\" exists for you")
        case .conflict(let detail):
            return .conflict(detail)
        case .invalid(let failure):
            return .validation(failure)
        case .grantNotActive(let grantID, let status, let since):
            let verb = switch status {
            case .revoked: "was revoked by the person"
            case .suspended: "is suspended for want of payment"
            case .active, .expired: "expired"
            }
            return Problem(.forbidden, "grant-\(status.rawValue)", title: "The grant is not active",
                           detail: "grant \(grantID) \(verb) at \(since); no data is disclosed under it",
                           extensions: ["grantStatus": .string(status.rawValue), "since": .string(since.rfc3339)])
        case .requestAlreadyDecided(let requestID, let state):
            return .conflict("request \(requestID) was already decided (\(state.rawValue)); a decision cannot be changed, revoke the grant instead")
        case .keyNotCovered(let key, let grantID, let covered):
            return .forbidden("\(key.prefix(80)) is not covered by grant \(grantID); it covers \(covered.joined(separator: ", "))")
        case .unavailable(let detail):
            return Problem(.serviceUnavailable, "unavailable", title: "Temporarily unavailable", detail: detail,
                           headers: [.retryAfter: "1"])
        case .paymentRequired(let grantID, let shortfall, let detail):
            let title = switch shortfall {
            case .insufficientFunds: "Insufficient funds"
            case .suspended: "The grant is suspended for want of payment"
            case .periodUnpaid: "The current period is not paid"
            }
            return Problem(.paymentRequired, shortfall.rawValue, title: title, detail: detail + "; no data was sent and the refusal is in the person's audit log",
                           extensions: ["grantId": .string(grantID.rawValue)])
        case .personErased(let handle, let at):
            return .personErased(handle: handle, at: at)
        }
    }
}

/// Turns every error thrown below it into a problem answer; unknown errors become a 500 whose detail
/// and log line name only the error's type, never its message (which might carry personal data).
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            return problem.response()
        } catch let error as DomainError {
            return Problem.from(error).response()
        } catch let error as LedgerError {
            return Problem.from(error).response()
        } catch let failure as ValidationFailure {
            return Problem.validation(failure).response()
        } catch let error as HTTPError {
            return Self.problem(for: error, request: request).response()
        } catch {
            context.logger.error("unhandled error", metadata: ["error.type": .string(String(describing: type(of: error)))])
            return Problem(.internalServerError, "internal", title: "Internal error",
                           detail: "the server failed to handle this request; it has been logged").response()
        }
    }

    static func problem(for error: HTTPError, request: Request) -> Problem {
        switch error.status {
        case .notFound:
            return .notFound("no resource at \(request.method) \(request.uri.path.prefix(200))")
        case .methodNotAllowed:
            return Problem(.methodNotAllowed, "method-not-allowed", title: "Method not allowed",
                           detail: "\(request.method) is not allowed on \(request.uri.path.prefix(200))")
        case .contentTooLarge:
            return Problem(.contentTooLarge, "too-large", title: "Request body too large", detail: "the request body exceeds the size limit")
        default:
            return Problem(error.status, "http-\(error.status.code)", title: error.status.reasonPhrase,
                           detail: error.body ?? error.status.reasonPhrase)
        }
    }
}

extension HTTPResponse.Status {
    /// 402, which HTTPTypes does not name.
    static let paymentRequired = HTTPResponse.Status(code: 402, reasonPhrase: "Payment Required")
}
