import Foundation
import ProfferCore
import ProfferStorage

/// Credentials of the seeded demo, written to a file for scripts and printed for people.
public struct DemoCredentials: Codable, Sendable {
    public struct DemoPerson: Codable, Sendable {
        public var handle: String
        public var email: String
        public var password: String
        public var token: String
    }

    public struct DemoOrganisation: Codable, Sendable {
        public var id: String
        public var name: String
        public var client_id: String
        public var client_secret: String
    }

    public var base_url: String
    public var admin_token: String
    public var people: [DemoPerson]
    public var organisations: [DemoOrganisation]
    /// The granted request's grant, for the first curl lines to try.
    public var example_grant_id: String?
    public var example_pending_request_id: String?
    /// A grant priced per disclosure (carol's email to Northwind Bank, 0.25 GBP a read), for the priced flow.
    public var example_priced_grant_id: String?
}

extension ProfferRuntime {
    /// Seeds example people, records, organisations, requests and grants through the same services the API uses.
    public func seedDemo(baseURL: String) async throws -> DemoCredentials {
        let services = self.services
        let now = Timestamp.now()
        let peopleSeed: [(handle: String, email: String, records: [(String, JSONValue)])] = [
            ("alice", "alice@example.org", [
                ("identity.name.full", .string("Alice Example")),
                ("identity.birthdate", .string("1990-04-12")),
                ("contact.email", .string("alice@example.org")),
                ("contact.phone.mobile", .string("+447700900123")),
                ("address.home", .object(["lines": .array([.string("1 High Street")]), "locality": .string("Bristol"),
                                          "postalCode": .string("BS1 1AA"), "country": .string("GB")])),
                ("finance.income.annual", .object(["amount": .integer(4_200_000), "currency": .string("GBP")])),
            ]),
            ("bob", "bob@example.org", [
                ("identity.name.full", .string("Bob Example")),
                ("contact.email", .string("bob@example.org")),
                ("education.qualification", .object(["title": .string("BSc Computer Science"), "institution": .string("Example College"),
                                                     "awardedOn": .string("2019-07-01"), "level": .string("bachelor")])),
            ]),
            ("carol", "carol@example.org", [
                ("identity.name.full", .string("Carol Example")),
                ("contact.email", .string("carol@example.org")),
            ]),
        ]
        var people: [DemoCredentials.DemoPerson] = []
        var personIDs: [String: PersonID] = [:]
        for seed in peopleSeed {
            let password = "demo-password-\(seed.handle)"
            let id = PersonID.generate()
            let (dataKey, wrapped) = try services.vault.masterKey.newDataKey(for: id)
            let person = Person(id: id, handle: seed.handle, email: seed.email, passwordHash: try await services.passwords.hash(password),
                                wrappedDataKey: wrapped, createdAt: now)
            try await services.store.createPerson(person)
            for (key, value) in seed.records {
                guard let entry = services.catalogue.entry(for: key) else { continue }
                let valid = try entry.validate(value)
                let vault = services.vault
                _ = try await services.store.putRecord(person: id, key: key, at: now) { version in
                    try vault.seal(valid, key: key, version: version, with: dataKey)
                }
            }
            let session = try await services.startSession(for: person, now: now)
            people.append(.init(handle: seed.handle, email: seed.email, password: password, token: session.token))
            personIDs[seed.handle] = id
        }

        let registry = OrganisationRegistry(store: services.store)
        var organisations: [DemoCredentials.DemoOrganisation] = []
        var organisationByDomain: [String: Organisation] = [:]
        for (name, domain, verified) in [("Northwind Bank", "northwind-bank.example", true), ("Acme Insurance", "acme-insurance.example", false),
                                         ("Example College", "college.example", true)] {
            let contact = OrganisationContact(
                name: "Data Protection Officer", email: "dpo@\(domain)", phone: "+442079460000",
                address: .object(["lines": .array([.string("1 Example Street")]), "locality": .string("London"), "country": .string("GB")]),
                policyURL: "https://\(domain)/privacy")
            let (organisation, secret) = try await registry.register(name: name, domain: domain, verified: verified, contact: contact)
            organisations.append(.init(id: organisation.id.rawValue, name: name, client_id: organisation.clientID, client_secret: secret))
            organisationByDomain[domain] = organisation
        }
        let defaultTerms = services.terms.defaults.map(\.id)

        func ask(_ domain: String, _ handle: String, _ keys: [String], _ purpose: String, thirdParties: [ThirdParty] = [], reason: String,
                 acceptedTerms: [TermID] = defaultTerms, offer: Offer = .nothing) async throws -> (DataRequest, Organisation) {
            guard let organisation = organisationByDomain[domain], let personID = personIDs[handle] else { throw DomainError.notFound(what: "demo party", id: domain) }
            let request = DataRequest(id: .generate(), organisationID: organisation.id, personID: personID, keys: keys, purpose: purpose,
                                      retentionDays: 365, thirdParties: thirdParties, durationDays: 90, reason: reason,
                                      state: .pending, createdAt: now, decidedAt: nil, grantID: nil, acceptedTerms: acceptedTerms, offer: offer)
            try await services.store.createRequest(request)
            return (request, organisation)
        }
        func grant(_ asked: (DataRequest, Organisation), keys: [String], days: Int) async throws -> Grant {
            var (request, organisation) = asked
            let grant = services.grant(of: request, keys: keys, days: days, at: now)
            request.decide(.granted, by: "person", note: nil, at: now)
            request.grantID = grant.id
            let receipt = try await services.receipt(keys.count < request.keys.count ? .partiallyGranted : .granted, request: request, grant: grant,
                                                     organisation: organisation, decidedBy: "person", explanation: nil, at: now)
            return try await services.store.grantRequest(grant, by: request.personID, receipt: receipt)
        }
        let mortgage = try await ask("northwind-bank.example", "alice", ["identity.name.full", "contact.email", "address.home", "finance.income.annual"],
                                     "CreditChecking", reason: "To assess your mortgage application.")
        let granted = try await grant(mortgage, keys: mortgage.0.keys, days: 90)
        let enrolment = try await ask("college.example", "alice", ["identity.name.full", "identity.birthdate", "contact.phone.mobile"],
                                      "IdentityVerification", reason: "To confirm your identity before enrolment.")
        _ = try await grant(enrolment, keys: ["identity.name.full"], days: 30)
        let pending = try await ask("acme-insurance.example", "alice", ["contact.email", "identity.birthdate"], "DirectMarketing",
                                    thirdParties: [ThirdParty(name: "Acme Partners Ltd", purpose: "co-marketing")],
                                    reason: "To send you quotes and offers from us and our partners.")
        _ = try await ask("college.example", "bob", ["education.qualification", "contact.email"], "EducationalTraining",
                          reason: "To confirm your degree for our master's programme.")
        let (refused, insurer) = try await ask("acme-insurance.example", "carol", ["contact.email"], "Marketing", reason: "Newsletter.")
        var refusal = refused
        refusal.decide(.refused, by: "person", note: "not interested", at: now)
        let refusalReceipt = try await services.receipt(.refused, request: refusal, grant: nil, organisation: insurer, decidedBy: "person",
                                                        explanation: "not interested", at: now)
        _ = try await services.store.refuseRequest(refused.id, by: refused.personID, note: "not interested", at: now, receipt: refusalReceipt)

        // Standing rules for bob: contact details to verified organisations for service provision; never marketing.
        if let bob = personIDs["bob"] {
            try await services.store.addRule(DecisionRule(id: .generate(), action: .grant, keys: [.key("contact.email")], purposes: ["ServiceProvision"],
                                                          organisationVerified: true, maxDurationDays: 365, note: "email to verified organisations for a service", createdAt: now), for: bob)
            try await services.store.addRule(DecisionRule(id: .generate(), action: .refuse, keys: [.any], purposes: ["Marketing"],
                                                          note: "never for marketing", createdAt: now), for: bob)
        }

        // Carol sells her email: 0.25 GBP a disclosure, as one of her terms. Northwind Bank pays it from a funded wallet.
        var pricedGrant: Grant?
        if let carol = personIDs["carol"], let bank = organisationByDomain["northwind-bank.example"] {
            let gbp = { (amount: Int64) in Money(minorUnits: amount, currency: "GBP") }
            try await services.store.setPrices(PriceList(entries: [PriceEntry(key: "contact.email", basis: .perDisclosure, price: gbp(25)),
                                                                   PriceEntry(category: .identity, basis: .perMonth, price: gbp(200))]), of: carol, at: now)
            try await services.store.setTerms(services.terms.defaults + [ProfferedTerm(id: .minimumPrice)], of: carol, at: now)
            _ = try await services.store.creditWallet(bank.id, gbp(5_000), reference: "demo opening balance", provider: services.payments.name,
                                                      idempotency: IdempotencyKey(scope: "admin", key: "demo-funding", requestDigest: Data("demo".utf8)), at: now)
            let offer = try await ask("northwind-bank.example", "carol", ["contact.email"], "ServiceProvision", reason: "To send your statements.",
                                      acceptedTerms: defaultTerms + [.minimumPrice], offer: .price(.perDisclosure, gbp(25)))
            pricedGrant = try await grant(offer, keys: ["contact.email"], days: 90)
        }

        return DemoCredentials(base_url: baseURL, admin_token: keys.adminToken, people: people, organisations: organisations,
                               example_grant_id: granted.id.rawValue, example_pending_request_id: pending.0.id.rawValue,
                               example_priced_grant_id: pricedGrant?.id.rawValue)
    }
}
