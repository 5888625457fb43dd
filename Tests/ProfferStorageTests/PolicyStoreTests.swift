import Foundation
import ProfferCore
import ProfferStorage
import ProfferTestSupport
import Testing

/// The storage contract for terms, rules, receipts and recorded expiries, on both engines.
@Suite("Storage contract: terms, rules, receipts")
struct PolicyStoreTests {
    static let engines = TestEngine.available

    static func receipt(_ request: DataRequest, grant: Grant?, event: ReceiptEvent, at now: Timestamp = .now()) -> ReceiptRecord {
        ReceiptRecord(id: .generate(), personID: request.personID, organisationID: request.organisationID, requestID: request.id,
                      grantID: grant?.id, event: event, kid: "receipt-test", jws: "h.p.s", issuedAt: now)
    }

    @Test(arguments: engines)
    func termsAndRulesAreKeptAndAudited(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let person = try await StoreContractTests.makePerson(store)
            #expect(try await store.terms(of: person.id) == nil)
            let terms = [ProfferedTerm(id: .maxRetention, parameters: ["days": 365]), ProfferedTerm(id: .noOnwardSharing)]
            try await store.setTerms(terms, of: person.id, at: .now())
            #expect(try await store.terms(of: person.id) == terms)
            try await store.setTerms([], of: person.id, at: .now())
            #expect(try await store.terms(of: person.id) == [])

            let rule = DecisionRule(id: .generate(), action: .grant, keys: [.key("contact.email"), .category("address")], purposes: ["ServiceProvision"],
                                    organisationVerified: true, maxDurationDays: 30, note: "email", createdAt: .now())
            try await store.addRule(rule, for: person.id)
            let stored = try await store.rules(of: person.id)
            #expect(stored.count == 1)
            #expect(stored.first?.keys == rule.keys)
            #expect(stored.first?.maxDurationDays == 30)
            let other = try await StoreContractTests.makePerson(store)
            await #expect(throws: DomainError.notFound(what: "rule", id: rule.id.rawValue)) { try await store.removeRule(rule.id, of: other.id, at: .now()) }
            try await store.removeRule(rule.id, of: person.id, at: .now())
            #expect(try await store.rules(of: person.id).isEmpty)
            let kinds = try await StoreContractTests.fullChain(store, person.id).map(\.kind)
            #expect(kinds == [.accountCreated, .termsUpdated, .termsUpdated, .ruleAdded, .ruleRemoved])
        }
    }

    @Test(arguments: engines)
    func receiptsAreStoredWithTheirDecisions(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let person = try await StoreContractTests.makePerson(store)
            let organisation = try await StoreContractTests.makeOrganisation(store)
            let request = try await StoreContractTests.makeRequest(store, organisation, person)
            let now = Timestamp.now()
            let grant = StoreContractTests.grant(request, keys: ["contact.email"], expiresAt: now.adding(days: 1), at: now)
            let granted = Self.receipt(request, grant: grant, event: .partiallyGranted)
            _ = try await store.grantRequest(grant, by: person.id, receipt: granted)
            let revoked = Self.receipt(request, grant: grant, event: .revoked)
            _ = try await store.revokeGrant(grant.id, by: person.id, reason: nil, at: now, receipt: revoked)
            // A decision that fails stores no receipt.
            await #expect(throws: DomainError.self) {
                _ = try await store.revokeGrant(grant.id, by: person.id, reason: nil, at: now, receipt: Self.receipt(request, grant: grant, event: .revoked))
            }
            let forPerson = try await store.receipts(of: .person(person.id))
            #expect(Set(forPerson.map(\.id)) == [granted.id, revoked.id])
            #expect(try await store.receipts(of: .organisation(organisation.id), grant: grant.id).count == 2)
            #expect(try await store.receipts(of: .organisation(organisation.id), request: request.id).count == 2)
            #expect(try await store.receipt(id: granted.id)?.event == .partiallyGranted)

            // A request refused at once (by terms or a rule) arrives decided, with its receipt.
            var refused = DataRequest(id: .generate(), organisationID: organisation.id, personID: person.id, keys: ["contact.email"],
                                      purpose: "Marketing", retentionDays: 10, thirdParties: [], durationDays: 10, reason: "r",
                                      state: .pending, createdAt: now, decidedAt: nil, grantID: nil, acceptedTerms: [.noSale],
                                      declarations: Declarations(tracking: true))
            refused.decide(.refused, by: "terms", note: "breaks no-stalking", at: now)
            try await store.createRequest(refused, receipt: Self.receipt(refused, grant: nil, event: .refused))
            let stored = try await store.request(id: refused.id)
            #expect(stored?.state == .refused)
            #expect(stored?.decidedBy == "terms")
            #expect(stored?.acceptedTerms == [.noSale])
            #expect(stored?.declarations.tracking == true)
            #expect(try await StoreContractTests.fullChain(store, person.id).suffix(2).map(\.kind) == [.requestReceived, .requestRefused])

            // A request granted at once by a rule arrives with its grant.
            var auto = refused
            auto.id = .generate()
            auto.purpose = "ServiceProvision"
            let autoGrant = StoreContractTests.grant(auto, expiresAt: now.adding(days: 5), at: now)
            auto.decide(.granted, by: "rule:x", note: "auto", at: now)
            auto.grantID = autoGrant.id
            try await store.createRequest(auto, grant: autoGrant, receipt: Self.receipt(auto, grant: autoGrant, event: .granted))
            #expect(try await store.grant(id: autoGrant.id)?.keys == ["contact.email"])
            #expect(try await store.request(id: auto.id)?.grantID == autoGrant.id)
            #expect(AuditChainVerifier.verify(try await StoreContractTests.fullChain(store, person.id)).isValid)
        }
    }

    @Test(arguments: engines)
    func expiriesAreRecordedExactlyOnce(engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let person = try await StoreContractTests.makePerson(store)
            let organisation = try await StoreContractTests.makeOrganisation(store)
            let request = try await StoreContractTests.makeRequest(store, organisation, person)
            let now = Timestamp.now()
            let grant = StoreContractTests.grant(request, expiresAt: now.adding(seconds: 10), at: now)
            _ = try await store.grantRequest(grant, by: person.id)
            #expect(try await store.unrecordedExpiries(at: now).isEmpty)
            let later = now.adding(seconds: 11)
            let due = try await store.unrecordedExpiries(at: later)
            #expect(due.map(\.id) == [grant.id])
            // Two sweepers racing: only one records it.
            async let first = store.recordExpiry(of: grant, receipt: Self.receipt(request, grant: grant, event: .expired), at: later)
            async let second = store.recordExpiry(of: grant, receipt: Self.receipt(request, grant: grant, event: .expired), at: later)
            let results = try await [first, second]
            #expect(results.filter { $0 }.count == 1)
            #expect(try await store.unrecordedExpiries(at: later).isEmpty)
            #expect(try await store.receipts(of: .person(person.id), grant: grant.id).map(\.event) == [.expired])
            #expect(try await StoreContractTests.fullChain(store, person.id).last?.kind == .grantExpired)
        }
    }
}
