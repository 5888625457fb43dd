import ProfferCore
import Testing

@Suite("Money and transfers")
struct MoneyTests {
    @Test func validMoneyParses() throws {
        let money = try Money.positive(from: .object(["amount": .integer(1999), "currency": .string("EUR")]), at: "/amount")
        #expect(money == Money(minorUnits: 1999, currency: "EUR"))
    }

    @Test(arguments: [
        (JSONValue.object(["amount": .integer(0), "currency": .string("EUR")]), "/amount/amount", "greater than zero"),
        (.object(["amount": .integer(-5), "currency": .string("EUR")]), "/amount/amount", "greater than zero"),
        (.object(["amount": .number(12.5), "currency": .string("EUR")]), "/amount/amount", "fractions of a minor unit"),
        (.object(["amount": .number(1e30), "currency": .string("EUR")]), "/amount/amount", "64-bit range"),
        (.object(["amount": .integer(5), "currency": .string("ABC")]), "/amount/currency", "ISO 4217"),
        (.object(["amount": .string("5"), "currency": .string("EUR")]), "/amount/amount", "must be an integer"),
        (.object(["amount": .integer(5)]), "/amount/currency", "is required"),
        (.object(["amount": .integer(5), "currency": .string("EUR"), "tip": .integer(1)]), "/amount/tip", "unknown member"),
        (.integer(5), "/amount", "must be an object"),
    ])
    func badMoneyIsRefused(value: JSONValue, pointer: String, fragment: String) {
        do {
            _ = try Money.positive(from: value, at: "/amount")
            Issue.record("accepted \(value)")
        } catch {
            #expect(error.errors.contains { $0.pointer == pointer && $0.detail.contains(fragment) }, "\(error.errors)")
        }
    }

    @Test func transfersMustBalanceAndNotOverflow() throws {
        let organisation = OrganisationID.generate()
        let credit = try Transfer.walletCredit(organisation, Money(minorUnits: 500, currency: "EUR"), reference: "r", at: .now())
        #expect(credit.legs.map(\.amount).reduce(0, +) == 0)
        #expect(throws: LedgerError.self) {
            _ = try Transfer(id: .generate(), kind: .walletCredit, currency: "EUR", legs: [
                .init(account: .external("EUR"), kind: .external, amount: -5),
                .init(account: .wallet(organisation, "EUR"), kind: .organisationWallet, amount: 4),
            ], reference: nil, at: .now())
        }
        #expect(throws: LedgerError.overflow) { _ = try Int64.max.checkedAdding(1) }
    }
}
