import Foundation
@testable import ProfferCore
import Testing

@Suite("Audit hash chain")
struct AuditChainTests {
    let person = PersonID.generate()

    func chain(_ count: Int) -> [AuditEntry] {
        var entries: [AuditEntry] = []
        var previous: (Int64, String) = (0, AuditEntry.genesisHash)
        for index in 0..<count {
            let event = AuditEvent(kind: index.isMultiple(of: 2) ? .recordPut : .disclosure, actor: "person",
                                   keys: ["contact.email"], note: "n\(index)", at: Timestamp(millisecondsSinceEpoch: Int64(1_000 + index)))
            let entry = AuditEntry(event: event, personID: person, previousSequence: previous.0, previousHash: previous.1)
            entries.append(entry)
            previous = (entry.sequence, entry.hash)
        }
        return entries
    }

    @Test func anUntouchedChainVerifies() {
        let entries = chain(5)
        let report = AuditChainVerifier.verify(entries)
        #expect(report.isValid)
        #expect(report.entriesChecked == 5)
        #expect(report.headHash == entries[4].hash)
        #expect(entries[0].previousHash == AuditEntry.genesisHash)
        #expect(entries[1].previousHash == entries[0].hash)
    }

    @Test func alteringAnEntryIsDetected() {
        var entries = chain(4)
        entries[2].keys = ["finance.income.annual"]
        let report = AuditChainVerifier.verify(entries)
        #expect(!report.isValid)
        #expect(report.problems.contains { $0.contains("entry 3") && $0.contains("altered") })
    }

    @Test func rehashingAnAlteredEntryStillBreaksTheNextLink() {
        var entries = chain(4)
        entries[1].note = "rewritten"
        entries[1].hash = entries[1].computeHash()
        let report = AuditChainVerifier.verify(entries)
        #expect(report.problems.contains { $0.contains("entry 3") && $0.contains("previousHash") })
    }

    @Test func removingAnEntryIsDetected() {
        var entries = chain(4)
        entries.remove(at: 1)
        let report = AuditChainVerifier.verify(entries)
        #expect(report.problems.contains { $0.contains("missing") })
    }

    @Test func theCanonicalFormIsSortedEscapedJSON() throws {
        var entry = chain(1)[0]
        entry.note = "quote \" back\\ newline\n tab\t bell\u{07} é"
        let text = String(decoding: entry.canonicalBytes(), as: UTF8.self)
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        #expect(parsed?["note"] as? String == entry.note)
        #expect(text.hasPrefix(#"{"actor":"person","at":1000,"grant":null,"keys":["contact.email"],"kind":"record.put","note":"#))
        #expect(text.contains(#""sequence":1}"#))
        #expect(entry.computeHash().count == 64)
    }

    @Test func theStoredKeysAreAJSONArrayThatReadsBack() throws {
        var entry = chain(1)[0]
        for keys in [[], ["contact.email"], ["a\"b", "back\\slash", "new\nline", "bell\u{07}", "é", "identity.name"]] {
            entry.keys = keys
            #expect(try JSONDecoder().decode([String].self, from: Data(entry.keysJSON.utf8)) == keys)
        }
        entry.keys = ["contact.email", "address.home"]
        #expect(entry.keysJSON == #"["contact.email","address.home"]"#)
    }

    @Test(arguments: ["", "contact.email", "quote \" back\\ slash", "new\nline\r\ttab", "bell\u{07} nul\u{0} unit\u{1f}", "é ✓ 𝄞", "\"", "\u{0}"])
    func jsonStringsEscapeMinimallyAndReadBack(text: String) throws {
        var escaped: [UInt8] = [UInt8(ascii: "\"")]
        JSONString.escape(text) { escaped.append(contentsOf: $0) }
        escaped.append(UInt8(ascii: "\""))
        #expect(try JSONDecoder().decode(String.self, from: Data(escaped)) == text)
        // Only `"`, `\` and control characters are escaped: anything else is copied as it is.
        let plain = text.utf8.allSatisfy { $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
        #expect((escaped.count == text.utf8.count + 2) == plain)
    }

    @Test func theHashBindsThePerson() {
        let entry = chain(1)[0]
        var moved = entry
        moved.personID = PersonID.generate()
        #expect(moved.computeHash() != entry.hash)
    }
}

@Suite("Envelope encryption")
struct RecordCipherTests {
    @Test func sealedValuesOpenOnlyWithTheirKeyNameAndVersion() throws {
        let (master, _) = MasterKey.generate()
        let person = PersonID.generate()
        let (dataKey, wrapped) = try master.newDataKey(for: person)
        let sealed = try dataKey.seal(Data("secret".utf8), key: "contact.email", version: 3)
        #expect(try dataKey.open(sealed, key: "contact.email", version: 3) == Data("secret".utf8))
        #expect(throws: CipherError.openFailed) { try dataKey.open(sealed, key: "contact.email", version: 2) }
        #expect(throws: CipherError.openFailed) { try dataKey.open(sealed, key: "identity.name.full", version: 3) }
        var tampered = sealed
        tampered[tampered.count - 1] ^= 0x01
        #expect(throws: CipherError.openFailed) { try dataKey.open(tampered, key: "contact.email", version: 3) }
        let unwrapped = try master.unwrap(wrapped, for: person)
        #expect(try unwrapped.open(sealed, key: "contact.email", version: 3) == Data("secret".utf8))
    }

    @Test func aWrappedKeyIsBoundToItsPersonAndMasterKey() throws {
        let (master, _) = MasterKey.generate()
        let (other, _) = MasterKey.generate()
        let person = PersonID.generate()
        let (_, wrapped) = try master.newDataKey(for: person)
        #expect(throws: CipherError.unwrapFailed) { try master.unwrap(wrapped, for: PersonID.generate()) }
        #expect(throws: CipherError.unwrapFailed) { try other.unwrap(wrapped, for: person) }
    }

    /// Every record sealed so far is bound to exactly these bytes: a change here would make them all unreadable.
    @Test func recordsAreBoundToTheirKeyNameAndVersionAsText() {
        #expect(DataKey.aad("contact.email", 3) == Array("proffer-record:contact.email:3".utf8))
        #expect(DataKey.aad("identity.name.full", 1_234_567_890_123) == Array("proffer-record:identity.name.full:1234567890123".utf8))
    }

    @Test func masterKeysMustBe32Bytes() {
        #expect(throws: CipherError.badKeyLength(16)) { try MasterKey(rawBytes: Data(count: 16)) }
    }
}

@Suite("Identifiers, timestamps and grants")
struct DomainValueTests {
    @Test func identifiersParseOnlyTheirOwnKind() {
        let grant = GrantID.generate()
        #expect(GrantID(grant.rawValue) == grant)
        #expect(RequestID(grant.rawValue) == nil)
        #expect(GrantID("grt_not-a-uuid") == nil)
        #expect(GrantID(grant.rawValue.uppercased()) == nil)
        #expect(GrantID("") == nil)
    }

    @Test(arguments: [Int64(0), -2_208_988_800_000, 951_782_400_000, 1_795_000_123_456, 86_400_001, 4_102_444_799_999, 1_709_164_800_000])
    func rfc3339AgreesWithFoundation(milliseconds: Int64) {
        let stamp = Timestamp(millisecondsSinceEpoch: milliseconds)
        let foundation = stamp.date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
        #expect(stamp.rfc3339 == foundation.replacingOccurrences(of: "+0000", with: "Z"))
        #expect(Timestamp(rfc3339: stamp.rfc3339) == stamp)
    }

    @Test func aGrantsChangingStateIsItsExpiryRevocationPaymentAndSuspensionOnly() {
        let created = Timestamp(millisecondsSinceEpoch: 1_000)
        let grant = Grant(id: .generate(), requestID: .generate(), organisationID: .generate(), personID: .generate(), keys: ["contact.email"],
                          purpose: "ServiceProvision", retentionDays: 30, thirdParties: [], createdAt: created,
                          expiresAt: created.adding(days: 30), revokedAt: nil)
        var changed = grant
        let state = Grant.Changing(expiresAt: created.adding(days: 60), revokedAt: created.adding(days: 1),
                                   paidUntil: created.adding(days: 31), suspendedAt: created.adding(days: 2))
        changed.changing = state
        #expect(changed.changing == state)
        #expect(changed.expiresAt == state.expiresAt && changed.revokedAt == state.revokedAt)
        #expect(changed.paidUntil == state.paidUntil && changed.suspendedAt == state.suspendedAt)
        // Everything else is as created.
        changed.changing = grant.changing
        #expect(changed == grant)
    }

    @Test func timestampsRoundTripThroughRFC3339() throws {
        let stamp = Timestamp(millisecondsSinceEpoch: 1_795_000_123_456)
        #expect(stamp.rfc3339.hasSuffix("Z"))
        #expect(Timestamp(rfc3339: stamp.rfc3339) == stamp)
        #expect(Timestamp(rfc3339: "yesterday") == nil)
        // Before 1970, milliseconds count back from the epoch (Foundation's floating-point dates print these a
        // millisecond off, so they are spelled out here).
        #expect(Timestamp(millisecondsSinceEpoch: -1).rfc3339 == "1969-12-31T23:59:59.999Z")
        #expect(Timestamp(millisecondsSinceEpoch: -2_208_988_800_001).rfc3339 == "1899-12-31T23:59:59.999Z")
        #expect(Timestamp(millisecondsSinceEpoch: 253_402_300_800_000).rfc3339 == "10000-01-01T00:00:00.000Z")
    }

    /// The bytes the disclosure answer copies are the text, for ordinary years and for the widest ones.
    @Test(arguments: [Int64(0), -1, 1_795_000_123_456, 253_402_300_800_000, .max, .min])
    func rfc3339BytesAreItsText(milliseconds: Int64) {
        let stamp = Timestamp(millisecondsSinceEpoch: milliseconds)
        #expect(stamp.withRFC3339Bytes { String(decoding: $0, as: UTF8.self) } == stamp.rfc3339)
        #expect(stamp.rfc3339.hasSuffix("Z") && stamp.rfc3339.count >= 24)
    }

    @Test func grantStatusFollowsRevocationThenExpiry() {
        let now = Timestamp(millisecondsSinceEpoch: 10_000)
        var grant = Grant(id: .generate(), requestID: .generate(), organisationID: .generate(), personID: .generate(),
                          keys: ["contact.email"], purpose: "ServiceProvision", retentionDays: 30, thirdParties: [],
                          createdAt: now, expiresAt: now.adding(days: 1), revokedAt: nil)
        #expect(grant.status(at: now) == .active)
        #expect(grant.status(at: now.adding(days: 1)) == .expired)
        grant.revokedAt = now
        #expect(grant.status(at: now) == .revoked)
        #expect(grant.status(at: now.adding(days: 2)) == .revoked)
    }

    @Test func purposeRulesReachDescendants() {
        let taxonomy = PurposeTaxonomy.standard
        #expect(taxonomy.purposes.count >= 20)
        #expect(taxonomy.isPurpose("PersonalisedAdvertising", within: "Marketing"))
        #expect(!taxonomy.isPurpose("ServiceProvision", within: "Marketing"))
        for purpose in taxonomy.purposes {
            if let parent = purpose.parent { #expect(taxonomy.purpose(parent) != nil) }
        }
    }
}
