import Foundation
import Logging
import ProfferCore
import ProfferStorage
import ServiceLifecycle

/// Records grants that have expired: each gets its `grant.expired` audit entry and its consent receipt,
/// once, even with several server instances (the store re-checks under a row lock). Expiry itself needs no
/// job — a grant past its end is refused at once — this only writes the record of it.
struct ExpirySweeper: Service {
    let services: Services
    let logger: Logger

    func run() async throws {
        await runPeriodically(every: .seconds(services.configuration.expirySweepSeconds), logger: logger, failure: "expiry sweep failed") {
            try await sweep()
        }
    }

    /// Records every unrecorded expiry due now; returns how many were recorded.
    @discardableResult
    func sweep(now: Timestamp = .now()) async throws -> Int {
        var recorded = 0
        while true {
            let due = try await services.store.unrecordedExpiries(at: now, limit: 100)
            if due.isEmpty { return recorded }
            for grant in due {
                guard let request = try await services.store.request(id: grant.requestID),
                      let organisation = try await services.store.organisation(id: grant.organisationID) else { continue }
                let receipt = try await services.receipt(.expired, request: request, grant: grant, organisation: organisation,
                                                         decidedBy: "system", explanation: "The grant reached its expiry.", at: now)
                if try await services.store.recordExpiry(of: grant, receipt: receipt, at: now) { recorded += 1 }
            }
            if due.count < 100 { return recorded }
        }
    }
}
