import Foundation
import HTTPTypes
import ProfferCore
import ProfferTestSupport
import Testing

@testable import ProfferServer

/// The values disclosures opened are kept in memory (`RecordVault.disclosedValues`): an unchanged ciphertext is not
/// decrypted again, and nothing else is ever served from memory — a changed, deleted or erased value is not.
@Suite("Disclosed values kept in memory")
struct DisclosedValuesTests {
    static let engines = TestEngine.available

    struct Sealed {
        let vault: RecordVault
        let person: PersonID
        let dataKey: DataKey

        init(openedLimit: Int = 50_000) throws {
            vault = RecordVault(masterKey: MasterKey.generate().0, openedLimit: openedLimit)
            person = .generate()
            dataKey = try vault.masterKey.newDataKey(for: person).0
        }

        func record(_ key: String, _ value: JSONValue, version: Int64 = 1) throws -> SealedRecord {
            SealedRecord(key: key, version: version, ciphertext: try vault.seal(value, key: key, version: version, with: dataKey), changedAt: .now())
        }

        /// A data key that opens none of this person's values: a call that has to decrypt with it throws.
        static let wrongKey = try! MasterKey.generate().0.newDataKey(for: .generate()).0

        func texts(_ records: [SealedRecord], with key: DataKey? = nil) throws -> [String] {
            try vault.disclosedValues(records, of: person, with: key ?? dataKey) { _, json in Array(json) }.map { String(decoding: $0.member, as: UTF8.self) }
        }
    }

    @Test
    func anUnchangedCiphertextIsNotOpenedAgain() throws {
        let sealed = try Sealed()
        let records = [try sealed.record("contact.email", .string("a@example.org")), try sealed.record("identity.name.full", .string("A"))]
        #expect(try sealed.texts(records) == [#""a@example.org""#, #""A""#])
        // Opening again would fail with the wrong key: the values come from memory, in the records' order.
        #expect(try sealed.texts(records.reversed(), with: Sealed.wrongKey) == [#""A""#, #""a@example.org""#])
    }

    @Test
    func aChangedOrDeletedValueIsNeverServedFromMemory() throws {
        let sealed = try Sealed()
        let first = try sealed.record("contact.email", .string("a@example.org"), version: 1)
        #expect(try sealed.texts([first]) == [#""a@example.org""#])

        // A new version is another ciphertext: it is opened (so the wrong key fails) and then kept.
        let second = try sealed.record("contact.email", .string("b@example.org"), version: 2)
        #expect(throws: CipherError.openFailed) { _ = try sealed.texts([second], with: Sealed.wrongKey) }
        #expect(try sealed.texts([second]) == [#""b@example.org""#])
        #expect(try sealed.texts([second], with: Sealed.wrongKey) == [#""b@example.org""#])

        // The same version number with other bytes (an import, a tampered row) is not taken for the kept one.
        var altered = second
        altered.ciphertext = try sealed.record("contact.email", .string("c@example.org"), version: 2).ciphertext
        #expect(throws: CipherError.openFailed) { _ = try sealed.texts([altered], with: Sealed.wrongKey) }

        // The same bytes with another change time (only an import could make that) are rendered afresh too.
        var retimed = second
        retimed.changedAt = Timestamp(millisecondsSinceEpoch: second.changedAt.millisecondsSinceEpoch + 1)
        #expect(throws: CipherError.openFailed) { _ = try sealed.texts([retimed], with: Sealed.wrongKey) }

        // A deletion marker sends nothing and drops the kept value: the old ciphertext must be opened again.
        let marker = SealedRecord(key: "contact.email", version: 3, ciphertext: nil, changedAt: .now())
        #expect(try sealed.texts([marker]).isEmpty)
        #expect(throws: CipherError.openFailed) { _ = try sealed.texts([second], with: Sealed.wrongKey) }
    }

    @Test
    func forgettingAPersonOrDroppingTheirValuesEmptiesMemory() throws {
        let sealed = try Sealed()
        let records = [try sealed.record("contact.email", .string("a@example.org"))]
        _ = try sealed.texts(records)
        sealed.vault.dropOpened(sealed.person)
        #expect(throws: CipherError.openFailed) { _ = try sealed.texts(records, with: Sealed.wrongKey) }

        _ = try sealed.texts(records)
        sealed.vault.forget(sealed.person)
        #expect(throws: CipherError.openFailed) { _ = try sealed.texts(records, with: Sealed.wrongKey) }
        // After the closure, a disclosure that was already under way keeps nothing.
        _ = try sealed.texts(records)
        #expect(throws: CipherError.openFailed) { _ = try sealed.texts(records, with: Sealed.wrongKey) }
    }

    @Test
    func memoryIsBoundedByPeople() throws {
        let vault = RecordVault(masterKey: MasterKey.generate().0, openedLimit: 2)
        let people = try (0..<3).map { _ in
            let id = PersonID.generate()
            let key = try vault.masterKey.newDataKey(for: id).0
            return (id, key, [SealedRecord(key: "contact.email", version: 1,
                                           ciphertext: try vault.seal(.string("x"), key: "contact.email", version: 1, with: key), changedAt: .now())])
        }
        for (id, key, records) in people { _ = try vault.disclosedValues(records, of: id, with: key) { Array($1) } }
        // The third person did not fit beside the first two: memory was emptied and holds only them.
        let (first, _, firstRecords) = people[0]
        #expect(throws: CipherError.openFailed) { _ = try vault.disclosedValues(firstRecords, of: first, with: Sealed.wrongKey) { Array($1) } }
        let (third, _, thirdRecords) = people[2]
        #expect(try vault.disclosedValues(thirdRecords, of: third, with: Sealed.wrongKey) { Array($1) }.count == 1)
    }

    @Test
    func aLimitOfZeroKeepsNothing() throws {
        let sealed = try Sealed(openedLimit: 0)
        let records = [try sealed.record("contact.email", .string("a@example.org"))]
        #expect(try sealed.texts(records) == [#""a@example.org""#])
        #expect(try sealed.texts(records) == [#""a@example.org""#])
        // Every read opened the ciphertext again: with a key that cannot open it, the read fails.
        #expect(throws: CipherError.openFailed) { _ = try sealed.texts(records, with: Sealed.wrongKey) }
    }

    @Test
    func aRecordsMemberIsTheAnswersJSON() throws {
        let at = Timestamp(millisecondsSinceEpoch: 1_700_000_000_123)
        let member = DisclosureBody.member(key: "address.home", valueJSON: Data(#"{"lines":["1 \"Quoted\" Lane"],"country":"GB"}"#.utf8), updatedAt: at)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(member)) as? [String: Any])
        #expect(parsed["key"] as? String == "address.home")
        #expect(parsed["updatedAt"] as? String == at.rfc3339)
        #expect((parsed["value"] as? [String: Any])?["lines"] as? [String] == [#"1 "Quoted" Lane"#])
    }

    /// Over HTTP: reads after a change or a deletion send the current state, never what an earlier read opened.
    @Test(arguments: engines)
    func readsFollowChangesAndDeletions(engine: TestEngine) async throws {
        try await withLiveAPI(engine) { api in
            let alice = try await api.signUp("alice")
            _ = try await api.put(alice, "contact.email", #""alice@example.org""#)
            _ = try await api.put(alice, "identity.name.full", #""Alice Example""#)
            let shop = try await api.registerOrganisation("Corner Shop", domain: "corner.example")
            let shopToken = try await api.accessToken(shop)
            let requestID = try await api.ask(shopToken, person: "alice", keys: ["contact.email", "identity.name.full"]).string("id") ?? ""
            let grantID = try await api.call(.post, "/v1/me/requests/\(requestID)/grant", token: alice,
                                             json: #"{"keys":["contact.email","identity.name.full"],"durationDays":7}"#).string("id") ?? ""
            let path = "/v1/grants/\(grantID)/data"

            for _ in 0..<2 {
                let read = try await api.call(.get, path, token: shopToken)
                #expect(read.text.contains("alice@example.org") && read.text.contains("Alice Example"))
            }
            _ = try await api.put(alice, "contact.email", #""alice@new.example""#)
            let changed = try await api.call(.get, path, token: shopToken)
            #expect(changed.text.contains("alice@new.example") && !changed.text.contains("alice@example.org"))

            #expect(try await api.call(.delete, "/v1/me/records/identity.name.full", token: alice).status == .noContent)
            let afterDeletion = try await api.call(.get, path, token: shopToken)
            #expect(afterDeletion.status == .ok)
            #expect(!afterDeletion.text.contains("Alice Example"))
            #expect(afterDeletion["missing"] == .array([.string("identity.name.full")]))
        }
    }
}
