import Hummingbird
import Logging

/// The request context for every route: Hummingbird's core storage plus the body size limit.
/// Identities are resolved per route by `Authenticator`, so a handler that needs one cannot forget it.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var maxUploadSize: Int { ServerLimits.maxBodyBytes }

    public init(source: Source) {
        self.coreContext = .init(source: source)
    }
}

/// Process-wide limits, fixed at start-up.
enum ServerLimits {
    /// The documented request body limit (64 KiB).
    static let maxBodyBytes = 64 * 1024
}
