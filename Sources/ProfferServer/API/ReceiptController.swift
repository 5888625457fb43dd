import Foundation
import HTTPTypes
import Hummingbird
import ProfferCore
import ProfferStorage

/// Consent receipts, for both sides: the person's and the organisation's own, by grant or request.
struct ReceiptController: Sendable {
    let services: Services

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/v1/me/receipts", use: personList)
        router.get("/v1/me/receipts/{receiptId}", use: personGet)
        router.get("/v1/me/grants/{grantId}/receipts", use: personGrantReceipts)
        router.get("/v1/receipts", use: organisationList)
        router.get("/v1/receipts/{receiptId}", use: organisationGet)
        router.get("/v1/grants/{grantId}/receipts", use: organisationGrantReceipts)
    }

    func filters(_ request: Request) throws -> (GrantID?, ProfferCore.RequestID?) {
        var grant: GrantID?
        var dataRequest: ProfferCore.RequestID?
        if let text = request.uri.queryParameters["grant"] {
            guard let id = GrantID(String(text)) else { throw Problem.badRequest("query parameter grant must be a grant id (grt_…)") }
            grant = id
        }
        if let text = request.uri.queryParameters["request"] {
            guard let id = ProfferCore.RequestID(String(text)) else { throw Problem.badRequest("query parameter request must be a request id (req_…)") }
            dataRequest = id
        }
        return (grant, dataRequest)
    }

    func list(_ party: PartyFilter, request: Request, grant: GrantID? = nil) async throws -> JSONResponse<ListDTO<ReceiptDTO>> {
        let (grantFilter, requestFilter) = try filters(request)
        let receipts = try await services.store.receipts(
            of: party, grant: grant ?? grantFilter, request: requestFilter,
            limit: try request.queryInt("limit", default: 50, range: 1...200), offset: try request.queryInt("offset", default: 0, range: 0...1_000_000))
        return JSONResponse(ListDTO(items: receipts.map { ReceiptDTO($0, includeDocument: false) }))
    }

    @Sendable func personList(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<ListDTO<ReceiptDTO>> {
        let person = try await services.auth.person(request).person
        return try await list(.person(person.id), request: request)
    }

    @Sendable func personGet(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<ReceiptDTO> {
        let person = try await services.auth.person(request).person
        let id = try request.identifier("receiptId", context: context, as: ReceiptID.self)
        guard let receipt = try await services.store.receipt(id: id), receipt.personID == person.id else { throw Problem.notFound("you have no receipt \(id)") }
        return JSONResponse(ReceiptDTO(receipt, includeDocument: true))
    }

    @Sendable func personGrantReceipts(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<ListDTO<ReceiptDTO>> {
        let person = try await services.auth.person(request).person
        let id = try request.identifier("grantId", context: context, as: GrantID.self)
        guard let grant = try await services.store.grant(id: id), grant.personID == person.id else { throw Problem.notFound("you have no grant \(id)") }
        return try await list(.person(person.id), request: request, grant: grant.id)
    }

    @Sendable func organisationList(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<ListDTO<ReceiptDTO>> {
        let identity = try await services.auth.organisation(request)
        try identity.require(.requestsRead)
        return try await list(.organisation(identity.organisationID), request: request)
    }

    @Sendable func organisationGet(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<ReceiptDTO> {
        let identity = try await services.auth.organisation(request)
        try identity.require(.requestsRead)
        let id = try request.identifier("receiptId", context: context, as: ReceiptID.self)
        guard let receipt = try await services.store.receipt(id: id), receipt.organisationID == identity.organisationID else {
            throw Problem.notFound("your organisation has no receipt \(id)")
        }
        return JSONResponse(ReceiptDTO(receipt, includeDocument: true))
    }

    @Sendable func organisationGrantReceipts(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<ListDTO<ReceiptDTO>> {
        let identity = try await services.auth.organisation(request)
        try identity.require(.grantsRead)
        let id = try request.identifier("grantId", context: context, as: GrantID.self)
        guard let grant = try await services.store.grant(id: id), grant.organisationID == identity.organisationID else {
            throw Problem.notFound("your organisation has no grant \(id)")
        }
        return try await list(.organisation(identity.organisationID), request: request, grant: grant.id)
    }
}
