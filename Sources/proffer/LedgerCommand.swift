import ArgumentParser
import Crypto
import Foundation
import ProfferCore
import ProfferServer
import ProfferStorage

/// `proffer wallet credit …` and `proffer ledger check`: the operator's money verbs, on the database directly.
struct WalletCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "wallet", abstract: "Organisation wallets.", subcommands: [Credit.self])

    struct Credit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fund an organisation's wallet from an outside payment.",
            discussion: "AMOUNT is in minor units (cents): `proffer wallet credit org_… 10000 EUR --reference \"bank 2026-11-24 #123\"` adds 100.00 EUR. Re-running with the same --idempotency-key moves nothing twice.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The organisation id (org_…).") var organisation: String
        @Argument(help: "The amount in minor units, e.g. 10000 for 100.00 EUR.") var amount: Int64
        @Argument(help: "The ISO 4217 currency code, e.g. EUR.") var currency: String
        @Option(help: "The outside payment's reference.") var reference: String
        @Option(name: .customLong("idempotency-key"), help: "Retry-safe key (default: derived from organisation, amount, currency and reference).")
        var idempotencyKey: String?

        func run() async throws {
            guard let id = OrganisationID(organisation) else { throw ValidationError("\(organisation) is not an organisation id") }
            let money: Money
            do {
                money = try Money.positive(from: .object(["amount": .integer(amount), "currency": .string(currency)]), at: "")
            } catch {
                throw ValidationError(error.errors.map(\.detail).joined(separator: "; "))
            }
            let digest = Data(SHA256.hash(data: Data("wallet-credit|\(id)|\(amount)|\(currency)|\(reference)".utf8)))
            let key = idempotencyKey ?? "cli-" + Hex.encode(digest.prefix(16))
            let (credit, replayed) = try await options.withStore { store in
                do {
                    let provider = ManualPaymentProvider()
                    let confirmed = try await provider.confirmFunding(money, for: id, reference: reference)
                    return try await store.creditWallet(id, money, reference: confirmed, provider: provider.name,
                                                        idempotency: IdempotencyKey(scope: "admin", key: key, requestDigest: digest), at: .now())
                } catch {
                    throw ValidationError("\(error)")
                }
            }
            print("\(replayed ? "already credited" : "credited"): \(credit.amount.minorUnits) \(credit.amount.currency) to \(id) (transfer \(credit.transferId)); balance \(credit.balance.minorUnits) \(credit.balance.currency)")
        }
    }
}

struct LedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ledger", abstract: "Ledger tools.", subcommands: [Check.self, Charge.self])

    struct Charge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Charge per-month grants whose period has started, now, instead of waiting for the server's job.",
            discussion: "Safe to run while servers run: each grant is charged once per period whoever gets to it first. A grant its organisation cannot pay is suspended until a later run can charge it.")
        @OptionGroup var options: ServerOptions

        func run() async throws {
            let configuration = try options.resolve()
            let charges = try await options.withStore(configuration) {
                try await $0.chargeDuePeriods(at: .now(), lookaheadSeconds: configuration.chargeLookaheadSeconds)
            }
            for charge in charges {
                switch charge.result {
                case .charged(let money, let period): print("charged \(money.formatted) for grant \(charge.grant.id), \(period.start) to \(period.end)")
                case .suspended(let money, _): print("SUSPENDED grant \(charge.grant.id): its organisation cannot pay \(money.formatted)")
                case .deferred(let money, let period): print("not yet paid: grant \(charge.grant.id) needs \(money.formatted) by \(period.start)")
                case .nothingDue: break
                }
            }
            print("\(charges.count) grant(s) looked at")
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify the ledger's invariants; exits 1 if any is broken.",
            discussion: "Every transfer balances, the accounts of each currency sum to zero, every balance equals the sum of its entries, no account is below its limit, and every disclosure under a per-disclosure priced grant has exactly one charge.")
        @OptionGroup var options: ServerOptions

        func run() async throws {
            let report = try await options.withStore { try await $0.checkLedger() }
            if report.isValid {
                print("ok: \(report.transfers) transfers over \(report.accounts) accounts; every invariant holds")
            } else {
                print("BROKEN:\n" + report.problems.map { "  - \($0)" }.joined(separator: "\n"))
                throw ExitCode(1)
            }
        }
    }
}
