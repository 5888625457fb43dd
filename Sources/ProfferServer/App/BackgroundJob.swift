import Logging
import ServiceLifecycle

/// The loop every background job shares: run the work, log a failure by its type only (never its message,
/// which could carry personal data) and try again next time, sleep the interval, stop on graceful shutdown.
func runPeriodically(every interval: Duration, logger: Logger, failure: String, _ work: () async throws -> Void) async {
    while !Task.isCancelled && !Task.isShuttingDownGracefully {
        do {
            try await work()
        } catch {
            logger.warning("\(failure); will retry", metadata: ["error.type": "\(type(of: error))"])
        }
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
    }
}
