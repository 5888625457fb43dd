import Foundation
import Testing

@testable import ProfferCore

/// Typed identifiers: what is accepted from outside, and time-ordered ones (RFC 9562 version 7 UUIDs) that sort in the
/// order they were made.
@Suite("Identifiers")
struct IdentifierTests {
    @Test
    func onlyThePrefixAndALowercaseUUIDAreAccepted() {
        let id = GrantID.generate().rawValue
        let uuid = String(id.dropFirst("grt_".count))
        for good in [id, GrantID.generateTimeOrdered(at: .now()).rawValue, "grt_00000000-0000-0000-0000-000000000000", "grt_ffffffff-ffff-ffff-ffff-ffffffffffff"] {
            #expect(GrantID(good)?.rawValue == good, "\(good)")
        }
        let shortened = String(uuid.dropLast()), cut = String(uuid.dropLast(2)), tail = String(uuid.dropFirst())
        let noDashes = uuid.replacingOccurrences(of: "-", with: ""), zeroDashes = uuid.replacingOccurrences(of: "-", with: "0")
        let movedDash = String(uuid.prefix(7)) + "-" + String(uuid.dropFirst(8))
        var bad: [String] = ["", "grt_", "grt", uuid, "prs_" + uuid, "GRT_" + uuid, "grt-" + uuid, "grt__" + uuid]
        bad += ["grt_" + uuid.uppercased(), "grt_" + uuid + "0", "grt_" + shortened, "grt_" + noDashes, "grt_" + zeroDashes]
        bad += ["grt_g" + tail, "grt_" + movedDash, "grt_" + shortened + "é", "grt_" + shortened + "\u{0}", "grt_" + cut + "٣"]
        bad += [" grt_" + tail, "grt_{" + String(uuid.dropFirst(2)) + "}"]
        for text in bad { #expect(GrantID(text) == nil, "\(text.debugDescription)") }
    }

    @Test
    func randomIdsAreVersion4UUIDsInCanonicalLowercaseTextAndDoNotRepeat() throws {
        let ids = (0..<10_000).map { _ in PersonID.generate().rawValue }
        #expect(Set(ids).count == ids.count)
        for id in ids.prefix(500) + [OrganisationID.generateTimeOrdered().rawValue] {
            let text = String(id.drop { $0 != "_" }.dropFirst())
            let parsed = try #require(UUID(uuidString: text), "\(id)")
            #expect(parsed.uuidString.lowercased() == text)
            let version = Array(text)[14], variant = Array(text)[19]
            #expect(id.hasPrefix("org_") ? version == "7" : version == "4")
            #expect("89ab".contains(variant))
        }
    }

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

    /// The compact key is the UUID's 128 bits: equal exactly for equal canonical ids, absent for any other text.
    @Test
    func compactKeysAreTheUUIDsBitsAndOnlyForCanonicalText() throws {
        let ids = (0..<2_000).map { $0.isMultiple(of: 2) ? PersonID.generate() : PersonID.generateTimeOrdered() }
        let keys = ids.map(\.key)
        #expect(keys.allSatisfy { $0 != nil })
        #expect(Set(keys).count == ids.count, "distinct ids, distinct keys")
        let id = try #require(ids.first)
        #expect(PersonID(trusted: String(decoding: Array(id.rawValue.utf8), as: UTF8.self)).key == id.key, "the same text read back")
        let known = PersonID(trusted: "per_0123abcd-4567-89ef-0123-456789abcdef").key
        #expect(known == IdentifierKey(high: 0x0123abcd_4567_89ef, low: 0x0123_4567_89ab_cdef))
        for text in ["per_0123ABCD-4567-89ef-0123-456789abcdef", "per_0123abcd-456789ef-0123-4567-89abcdef", "per_0123abcd-4567-89ef-0123-456789abcde",
                     "per_0123abcd-4567-89ef-0123-456789abcdeg", "org_0123abcd-4567-89ef-0123-456789abcdef", "per-0123abcd-4567-89ef-0123-456789abcdef", ""] {
            #expect(PersonID(trusted: text).key == nil, "no key for \(text)")
        }
    }

    /// Identifiers compare by their keys when both have one, yet equal exactly when their texts are, canonical or not,
    /// and equal ones hash alike.
    @Test
    func identifiersAreEqualExactlyWhenTheirTextsAre() throws {
        let texts = ["per_0123abcd-4567-89ef-0123-456789abcdef", "per_0123abcd-4567-89ef-0123-456789abcdee",
                     "per_0123ABCD-4567-89ef-0123-456789abcdef", "per_0123ABCD-4567-89EF-0123-456789abcdef", "legacy", "",
                     PersonID.generate().rawValue]
        for left in texts {
            for right in texts {
                let (a, b) = (PersonID(trusted: left), PersonID(trusted: String(decoding: Array(right.utf8), as: UTF8.self)))
                #expect((a == b) == (left == right), "\(left) against \(right)")
                if a == b { #expect(a.hashValue == b.hashValue) }
            }
        }
        let parsed = try #require(PersonID("per_0123abcd-4567-89ef-0123-456789abcdef"))
        #expect(Set([parsed, PersonID(trusted: parsed.rawValue), PersonID(trusted: "PER"), PersonID(trusted: "PER")]).count == 2)
        #expect(PersonID("per_0123ABCD-4567-89ef-0123-456789abcdef") == nil, "only canonical text is accepted from outside")
    }
}
