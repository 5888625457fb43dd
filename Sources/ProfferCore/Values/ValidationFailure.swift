/// One reason a value was rejected, pointing at the offending part of the input.
public struct FieldError: Sendable, Hashable, Codable {
    /// JSON Pointer (RFC 6901) into the request body, e.g. `/value/country`.
    public var pointer: String
    public var detail: String

    public init(pointer: String, detail: String) {
        self.pointer = pointer
        self.detail = detail
    }
}

/// A value failed validation; carries every problem found, not only the first.
public struct ValidationFailure: Error, Sendable, Hashable {
    public var errors: [FieldError]

    public init(_ errors: [FieldError]) {
        self.errors = errors
    }

    public init(pointer: String, detail: String) {
        self.errors = [FieldError(pointer: pointer, detail: detail)]
    }
}
