/// Failures the domain reports; the server maps each to a specific problem answer.
public enum DomainError: Error, Sendable, Equatable {
    case notFound(what: String, id: String)
    case conflict(String)
    case invalid(ValidationFailure)
    case grantNotActive(grantID: GrantID, status: Grant.Status, since: Timestamp)
    case requestAlreadyDecided(requestID: RequestID, state: DataRequest.State)
    case keyNotCovered(key: String, grantID: GrantID, covered: [String])
    case unavailable(String)
}
