import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import ProfferCore
import ProfferStorage

/// Organisations' wallets: funded by the operator (recording the outside payment's reference), read by the
/// operator and by the organisation itself; and the operator's ledger check.
struct WalletController: Sendable {
    let services: Services

    struct CreditBody: RequestBody {
        var amount: JSONValue
        var reference: String
        static let fields: Set<String> = ["amount", "reference"]
    }

    struct WalletDTO: Codable, Sendable {
        var organisationId: String
        var balances: [Money]
    }

    struct LedgerReportDTO: Codable, Sendable {
        var valid: Bool
        var transfers: Int
        var accounts: Int
        var problems: [String]
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/v1/admin/organisations/{organisationId}/wallet/credits", use: credit)
        router.get("/v1/admin/organisations/{organisationId}/wallet", use: adminWallet)
        router.get("/v1/admin/ledger/check", use: check)
        router.get("/v1/organisation/wallet", use: ownWallet)
    }

    // Both are valid field-name tokens, so the initialiser never fails; the fallback only avoids a force unwrap.
    static let idempotencyKeyField = HTTPField.Name("Idempotency-Key") ?? .cacheControl
    static let replayedField = HTTPField.Name("Idempotent-Replayed") ?? .cacheControl

    /// The `Idempotency-Key` header: required on every money-moving call.
    static func idempotencyKey(_ request: Request) throws -> String {
        guard let key = request.headers[idempotencyKeyField] else {
            throw Problem.badRequest("the Idempotency-Key header is required on calls that move money; send a fresh unique value per operation and the same value on retries")
        }
        guard (1...200).contains(key.utf8.count), key.utf8.allSatisfy({ (0x21...0x7e).contains($0) }) else {
            throw Problem.badRequest("the Idempotency-Key header must be 1 to 200 printable ASCII characters without spaces")
        }
        return key
    }

    @Sendable func credit(_ request: Request, context: AppRequestContext) async throws -> Response {
        try services.auth.admin(request)
        let id = try request.identifier("organisationId", context: context, as: OrganisationID.self)
        let key = try Self.idempotencyKey(request)
        let body = try await request.decodeBody(CreditBody.self, context: context)
        var errors: [FieldError] = []
        var money: Money?
        do { money = try Money.positive(from: body.amount, at: "/amount") } catch { errors += error.errors }
        let reference = body.reference.trimmingCharacters(in: .whitespacesAndNewlines)
        if reference.isEmpty || reference.count > 200 {
            errors.append(FieldError(pointer: "/reference", detail: "must be 1 to 200 characters naming the outside payment (e.g. the bank transfer's reference)"))
        }
        guard errors.isEmpty, let money else { throw Problem.validation(ValidationFailure(errors)) }
        let digest = Data(SHA256.hash(data: Data("wallet-credit|\(id)|\(money.minorUnits)|\(money.currency)|\(reference)".utf8)))
        guard try await services.store.organisation(id: id) != nil else { throw Problem.notFound("no organisation \(id)") }
        let idempotency = IdempotencyKey(scope: "admin", key: key, requestDigest: digest)
        let credit: WalletCredit
        let replayed: Bool
        if let first = try await services.store.storedWalletCredit(idempotency) {
            // A retry: answered from the first result, without asking the payment provider again.
            (credit, replayed) = (first, true)
        } else {
            let confirmed = try await services.payments.confirmFunding(money, for: id, reference: reference)
            (credit, replayed) = try await services.store.creditWallet(id, money, reference: confirmed, provider: services.payments.name,
                                                                      idempotency: idempotency, at: .now())
        }
        var headers: HTTPFields = [:]
        if replayed { headers[Self.replayedField] = "true" }
        return try JSONResponse(credit, status: .created, headers: headers).response(from: request, context: context)
    }

    @Sendable func adminWallet(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<WalletDTO> {
        try services.auth.admin(request)
        let id = try request.identifier("organisationId", context: context, as: OrganisationID.self)
        guard try await services.store.organisation(id: id) != nil else { throw Problem.notFound("no organisation \(id)") }
        return JSONResponse(WalletDTO(organisationId: id.rawValue, balances: try await services.store.walletBalances(id)))
    }

    @Sendable func ownWallet(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<WalletDTO> {
        let identity = try await services.auth.organisation(request)
        return JSONResponse(WalletDTO(organisationId: identity.organisationID.rawValue,
                                      balances: try await services.store.walletBalances(identity.organisationID)))
    }

    @Sendable func check(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<LedgerReportDTO> {
        try services.auth.admin(request)
        let report = try await services.store.checkLedger()
        return JSONResponse(LedgerReportDTO(valid: report.isValid, transfers: report.transfers, accounts: report.accounts, problems: report.problems))
    }
}
