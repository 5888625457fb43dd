import Foundation
import Logging
import ProfferCore
import ProfferStorage
import ServiceLifecycle

/// Charges per-month grants at the start of each period (up to `chargeLookaheadSeconds` early, so access does
/// not lapse between runs). A grant whose organisation cannot pay is suspended — reads get 402 — and is charged
/// again on every later run until it can pay, when it resumes. Safe with several instances: each grant is
/// claimed under a row lock that other instances skip.
struct PeriodCharger: Service {
    let services: Services
    let logger: Logger

    func run() async throws {
        await runPeriodically(every: .seconds(services.configuration.chargeIntervalSeconds), logger: logger, failure: "period charging failed") {
            var charged = 0, unpaid = 0
            for charge in try await charge() {
                switch charge.result {
                case .charged: charged += 1
                case .suspended, .deferred: unpaid += 1
                case .nothingDue: break
                }
            }
            if charged + unpaid > 0 {
                logger.info("charged per-month grants", metadata: ["charged": "\(charged)", "unpaid": "\(unpaid)"])
            }
        }
    }

    /// Charges every period due by `now`; returns what happened to each grant looked at.
    @discardableResult
    func charge(now: Timestamp = .now()) async throws -> [PeriodCharge] {
        try await services.store.chargeDuePeriods(at: now, lookaheadSeconds: services.configuration.chargeLookaheadSeconds)
    }
}
