import Foundation
import HTTPTypes
import Hummingbird
import ProfferCore

/// A request body type that names its fields, so unknown fields are refused instead of silently ignored.
protocol RequestBody: Decodable, Sendable {
    static var fields: Set<String> { get }
    /// Extra checks on the raw JSON (e.g. unknown members of nested objects).
    static func checkShape(_ object: [String: JSONValue]) -> [FieldError]
}

extension RequestBody {
    static func checkShape(_ object: [String: JSONValue]) -> [FieldError] { [] }
}

extension Request {
    /// Reads and strictly decodes a JSON object body. `allowEmpty` treats an absent body as `{}`.
    func decodeBody<T: RequestBody>(_ type: T.Type, context: some RequestContext, allowEmpty: Bool = false) async throws -> T {
        if let contentType = headers[.contentType], !contentType.lowercased().hasPrefix("application/json") {
            throw Problem(.unsupportedMediaType, "unsupported-media-type", title: "Unsupported media type",
                          detail: "the body must be application/json, not \(contentType.prefix(60))")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: ServerLimits.maxBodyBytes)
        } catch {
            throw Problem(.contentTooLarge, "too-large", title: "Request body too large",
                          detail: "the request body exceeds the limit of \(ServerLimits.maxBodyBytes) bytes")
        }
        var data = Data(buffer.readableBytesView)
        if data.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) {
            guard allowEmpty else { throw Problem.badRequest("the request body is empty; a JSON object is required") }
            data = Data("{}".utf8)
        }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw Problem.badRequest("the request body is not valid JSON")
        }
        guard case .object(let object) = value else {
            throw Problem.badRequest("the request body must be a JSON object, not \(value.typeName)")
        }
        // PostgreSQL text cannot hold NUL, and no field of ours has a use for it: refuse it everywhere.
        if let pointer = JSONPointer.firstNUL(in: value) {
            throw Problem.validation(ValidationFailure(pointer: pointer, detail: "must not contain NUL (U+0000) characters"))
        }
        var problems = object.keys.sorted().filter { !T.fields.contains($0) }.map {
            FieldError(pointer: "/" + JSONPointer.escape($0), detail: "unknown field; allowed fields are \(T.fields.sorted().joined(separator: ", "))")
        }
        problems += T.checkShape(object)
        if !problems.isEmpty { throw Problem.validation(ValidationFailure(problems)) }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw Problem.validation(ValidationFailure([JSONPointer.fieldError(for: error)]))
        }
    }
}

enum JSONPointer {
    static func escape(_ token: String) -> String {
        String(token.prefix(64)).replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }

    /// The pointer to the first string (member name or value) holding U+0000, if any.
    static func firstNUL(in value: JSONValue, at pointer: String = "") -> String? {
        switch value {
        case .string(let text):
            return text.utf8.contains(0) ? (pointer.isEmpty ? "/" : pointer) : nil
        case .array(let items):
            for (index, item) in items.enumerated() {
                if let found = firstNUL(in: item, at: "\(pointer)/\(index)") { return found }
            }
            return nil
        case .object(let members):
            for (name, item) in members.sorted(by: { $0.key < $1.key }) {
                if name.utf8.contains(0) { return pointer + "/" + escape(name.replacingOccurrences(of: "\u{0}", with: "")) }
                if let found = firstNUL(in: item, at: pointer + "/" + escape(name)) { return found }
            }
            return nil
        default:
            return nil
        }
    }

    static func pointer(_ path: [any CodingKey]) -> String {
        path.map { "/" + ($0.intValue.map(String.init) ?? escape($0.stringValue)) }.joined()
    }

    /// A specific message for a decoding failure, at the field where it happened.
    static func fieldError(for error: DecodingError) -> FieldError {
        switch error {
        case .keyNotFound(let key, let context):
            return FieldError(pointer: pointer(context.codingPath + [key]), detail: "is required")
        case .typeMismatch(let type, let context):
            return FieldError(pointer: pointer(context.codingPath), detail: "must be \(describe(type))")
        case .valueNotFound(let type, let context):
            return FieldError(pointer: pointer(context.codingPath), detail: "must be \(describe(type)), not null")
        case .dataCorrupted(let context):
            return FieldError(pointer: pointer(context.codingPath), detail: context.debugDescription)
        @unknown default:
            return FieldError(pointer: "", detail: "the body does not match the expected shape")
        }
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type: "an integer"
        case is Bool.Type: "a boolean"
        case is Double.Type: "a number"
        default:
            String(describing: type).hasPrefix("Array") ? "an array" : "an object"
        }
    }
}

/// A JSON answer with a status.
struct JSONResponse<Body: Encodable & Sendable>: ResponseGenerator {
    var status: HTTPResponse.Status = .ok
    var body: Body
    var headers: HTTPFields = [:]

    init(_ body: Body, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) {
        self.body = body
        self.status = status
        self.headers = headers
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let data = try encoder.encode(body)
        var fields = headers
        fields[.contentType] = "application/json"
        fields[.cacheControl] = fields[.cacheControl] ?? "no-store"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension Request {
    /// A path parameter parsed into a typed identifier; a malformed one is simply not found.
    func identifier<Tag>(_ name: String, context: some RequestContext, as: Identifier<Tag>.Type = Identifier<Tag>.self) throws -> Identifier<Tag> {
        let raw = context.parameters.get(name) ?? ""
        guard let id = Identifier<Tag>(raw) else {
            throw Problem.notFound("\"\(raw.prefix(80))\" is not a valid \(Tag.prefix)_ identifier")
        }
        return id
    }

    /// An integer query parameter within bounds, or a 400 naming the parameter.
    func queryInt(_ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = uri.queryParameters[Substring(name)] else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw Problem.badRequest("query parameter \(name) must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }
}
