import Foundation
import ProfferCore
import PropertyBased
import Testing

/// Prices, offers, fees and billing periods: the pure arithmetic of paying for data.
@Suite("Prices, fees and periods")
struct PricingCoreTests {
    @Test func feesNeverCreateOrLoseAMinorUnit() async {
        await propertyCheck(count: 1000, input: Gen.int(in: 1...Int(Int32.max)), Gen.int(in: 0...10_000)) { amount, points in
            let fees = FeePolicy(basisPoints: points)
            let (share, fee) = fees.split(Int64(amount))
            #expect(share + fee == Int64(amount))
            #expect(fee >= 0 && share >= 0)
            #expect(fee <= Int64(amount) * Int64(points) / 10_000, "the fee rounds down, in the person's favour")
        }
        #expect(FeePolicy(basisPoints: 500).split(30) == (29, 1))
        #expect(FeePolicy(basisPoints: 500).split(Int64.max).person > 0, "no overflow at the top of the range")
    }

    @Test func chargesBalanceAndSkipZeroLegs() throws {
        let subject = Transfer.Subject(grantID: .generate(), organisationID: .generate(), personID: .generate(), auditSequence: 3)
        let charge = try Transfer.charge(.disclosureCharge, Money(minorUnits: 40, currency: "EUR"), subject: subject, fees: .standard, reference: nil, at: .now())
        #expect(charge.legs.map(\.amount) == [-40, 38, 2])
        let free = try Transfer.charge(.disclosureCharge, Money(minorUnits: 10, currency: "EUR"), subject: subject, fees: FeePolicy(basisPoints: 0), reference: nil, at: .now())
        #expect(free.legs.count == 2, "no zero fee leg")
    }

    @Test(arguments: [
        (Int64(25), "EUR", "0.25 EUR"), (1999, "GBP", "19.99 GBP"), (300, "JPY", "300 JPY"), (1, "BHD", "0.001 BHD"), (-80, "EUR", "-0.80 EUR"),
    ])
    func moneyIsShownExactly(amount: Int64, currency: String, text: String) {
        #expect(Money(minorUnits: amount, currency: currency).formatted == text)
    }

    @Test func aKeysOwnPriceBeatsItsCategorys() throws {
        let list = try PriceList.parse(.array([
            .object(["key": .string("contact.email"), "basis": .string("per-disclosure"), "price": Money(minorUnits: 25, currency: "EUR").json]),
            .object(["category": .string("contact"), "basis": .string("per-disclosure"), "price": Money(minorUnits: 5, currency: "EUR").json]),
            .object(["category": .string("identity"), "basis": .string("per-month"), "price": Money(minorUnits: 100, currency: "EUR").json]),
        ]))
        #expect(list.price(for: "contact.email", basis: .perDisclosure) == Money(minorUnits: 25, currency: "EUR"))
        let minimum = try list.minimum(for: ["contact.email", "identity.name.full", "preferences.language"], basis: .perDisclosure)
        #expect(minimum.total == Money(minorUnits: 25, currency: "EUR"))
        #expect(minimum.unpricedOnBasis == ["identity.name.full"])
    }

    @Test func theMinimumPriceTermNamesThePrice() throws {
        let list = PriceList(entries: [PriceEntry(key: "contact.email", basis: .perDisclosure, price: Money(minorUnits: 25, currency: "EUR"))])
        let terms = [ProfferedTerm(id: .minimumPrice)]
        func facts(_ offer: Offer) -> RequestFacts {
            RequestFacts(keys: ["contact.email"], purpose: "ServiceProvision", retentionDays: 30, durationDays: 30, thirdParties: [],
                         tracking: false, sale: false, automatedDecisions: false, acceptedTerms: [.minimumPrice], organisationVerified: true, offer: offer)
        }
        let low = TermChecker.brokenTerms(terms, request: facts(.price(.perDisclosure, Money(minorUnits: 24, currency: "EUR"))), prices: list)
        #expect(low.first?.reason.contains("0.25 EUR per disclosure") == true, "\(low)")
        #expect(TermChecker.brokenTerms(terms, request: facts(.price(.perDisclosure, Money(minorUnits: 25, currency: "EUR"))), prices: list).isEmpty)
        #expect(TermChecker.brokenTerms(terms, request: facts(.price(.perDisclosure, Money(minorUnits: 99, currency: "USD"))), prices: list).first?.reason.contains("in EUR") == true)
        #expect(TermChecker.brokenTerms(terms, request: facts(.discount(percentage: 50, conditions: "x")), prices: list).count == 1)
        #expect(TermChecker.brokenTerms(terms, request: facts(.nothing), prices: PriceList()).isEmpty, "nothing priced, nothing owed")
    }

    @Test func offersRoundTripThroughJSON() throws {
        let offers: [Offer] = [.nothing, .price(.perMonth, Money(minorUnits: 500, currency: "EUR")), .discount(percentage: 15, conditions: "paperbacks"),
                               .voucher(description: "A voucher", value: nil), .voucher(description: "Ten euros", value: Money(minorUnits: 1000, currency: "EUR"))]
        for offer in offers {
            let data = try JSONEncoder().encode(offer)
            #expect(try JSONDecoder().decode(Offer.self, from: data) == offer)
        }
    }

    @Test func periodsAreCalendarMonthsFromTheGrantCutShortByExpiry() throws {
        let anchor = try #require(Timestamp(rfc3339: "2026-01-31T10:00:00Z"))
        let expiry = anchor.adding(days: 75)
        let first = try #require(BillingPeriod.next(anchor: anchor, paidUntil: nil, now: anchor, expiresAt: expiry))
        #expect(first.start == anchor)
        #expect(first.end == Timestamp(rfc3339: "2026-02-28T10:00:00Z"))
        let second = try #require(BillingPeriod.next(anchor: anchor, paidUntil: first.end, now: first.end, expiresAt: expiry))
        #expect(second.end == Timestamp(rfc3339: "2026-03-31T10:00:00Z"), "months count from the anchor, so the 31st comes back")
        // Two months unpaid (no access then): the next charge is for the period containing now, not the missed ones.
        let april = try #require(Timestamp(rfc3339: "2026-04-02T00:00:00Z"))
        let late = try #require(BillingPeriod.next(anchor: anchor, paidUntil: first.end, now: april, expiresAt: expiry))
        #expect(late.start == second.end)
        #expect(late.end == expiry)
        #expect(late.price(of: Money(minorUnits: 500, currency: "EUR")) == Money(minorUnits: 266, currency: "EUR"))
        #expect(BillingPeriod.next(anchor: anchor, paidUntil: expiry, now: expiry, expiresAt: expiry) == nil)
    }
}
