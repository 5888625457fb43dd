import Foundation
import Testing

@testable import ProfferCore

/// Time-ordered identifiers: RFC 9562 version 7 UUIDs that sort in the order they were made.
@Suite("Identifiers")
struct IdentifierTests {
    @Test
    func timeOrderedIdsSortInTheOrderTheyWereMadeEvenWithinOneMillisecond() throws {
        let now = Timestamp.now()
        // Far more than one millisecond's counter holds, all stamped with the same instant, then one from a clock
        // that stepped back a second.
        var ids = (0..<5_000).map { _ in TransferID.generateTimeOrdered(at: now).rawValue }
        ids.append(TransferID.generateTimeOrdered(at: now.adding(seconds: -1)).rawValue)
        #expect(ids == ids.sorted(), "each id sorts after the one before")
        #expect(Set(ids).count == ids.count)
        for id in ids {
            let uuid = try #require(UUID(uuidString: String(id.dropFirst("trf_".count))))
            #expect(uuid.uuid.6 >> 4 == 7, "version 7")
            #expect(uuid.uuid.8 >> 6 == 0b10, "RFC 9562 variant")
            #expect(TransferID(id) != nil, "a well-formed id")
        }
    }

    /// The counter on its own (a clock of the test's, since other tests make ids at other instants meanwhile).
    @Test
    func theCounterStartsLowGoesUpWithinAMillisecondAndThenBorrowsTheNext() {
        let clock = TimeOrderedClock()
        #expect(clock.next(millis: 1_000, seed: 0xFFFF) == (1_000, 0x07FF), "a new millisecond starts below 2,048")
        #expect(clock.next(millis: 1_000, seed: 5) == (1_000, 0x0800))
        #expect(clock.next(millis: 999, seed: 5) == (1_000, 0x0801), "a clock stepping back still moves forward")
        for _ in 0x0802...0x0FFF { _ = clock.next(millis: 1_000, seed: 5) }
        #expect(clock.next(millis: 1_000, seed: 7) == (1_001, 7), "a spent counter borrows the next millisecond")
        #expect(clock.next(millis: 1_005, seed: 9) == (1_005, 9))
    }
}
