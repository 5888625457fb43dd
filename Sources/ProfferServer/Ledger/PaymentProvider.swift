import ProfferCore

/// Where money enters Proffer from outside: a bank transfer the operator saw arrive, or a card or direct-debit
/// processor. A real processor is added by conforming to this protocol; the ledger records which provider
/// confirmed each funding and the reference it gave.
public protocol PaymentProvider: Sendable {
    /// Recorded with every funding transfer it confirms, e.g. `manual`.
    var name: String { get }
    /// Confirms that `money` was received for `organisation` under `reference`, returning the reference to
    /// record. Throws when the payment cannot be confirmed; then nothing is credited.
    func confirmFunding(_ money: Money, for organisation: OrganisationID, reference: String) async throws -> String
}

/// The default provider: the operator confirms the payment themselves (they saw the bank transfer arrive) by
/// crediting the wallet with the CLI or the admin API; their word and the reference are what is recorded.
public struct ManualPaymentProvider: PaymentProvider {
    public let name = "manual"

    public init() {}

    public func confirmFunding(_ money: Money, for organisation: OrganisationID, reference: String) async throws -> String {
        reference
    }
}
