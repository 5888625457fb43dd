import Foundation
import HTTPTypes
import Hummingbird
import ProfferCore
import ProfferStorage

/// A person's own records: put, read, list, delete, and each record's history.
struct RecordController: Sendable {
    let services: Services

    struct PutRecord: RequestBody {
        var value: JSONValue
        static let fields: Set<String> = ["value"]
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/v1/me/records", use: list)
        router.get("/v1/me/records/{key}", use: get)
        router.put("/v1/me/records/{key}", use: put)
        router.delete("/v1/me/records/{key}", use: delete)
        router.get("/v1/me/records/{key}/history", use: history)
    }

    func catalogueKey(_ context: AppRequestContext) throws -> CatalogueEntry {
        let key = context.parameters.get("key") ?? ""
        guard let entry = services.catalogue.entry(for: key) else {
            throw Problem.notFound("\"\(key.prefix(80))\" is not a key in the catalogue; GET /v1/catalogue lists them")
        }
        return entry
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<ListDTO<RecordDTO>> {
        let person = try await services.auth.person(request).person
        let dataKey = try services.vault.dataKey(for: person)
        let records = try await services.store.records(person: person.id)
        return JSONResponse(ListDTO(items: try records.compactMap { record in
            try services.vault.open(record, with: dataKey).map { RecordDTO(key: record.key, value: $0, version: record.version, updatedAt: record.changedAt) }
        }))
    }

    @Sendable func get(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<RecordDTO> {
        let person = try await services.auth.person(request).person
        let entry = try catalogueKey(context)
        guard let record = try await services.store.records(person: person.id, keys: [entry.key]).first,
              let value = try services.vault.open(record, with: try services.vault.dataKey(for: person))
        else { throw Problem.notFound("you have no value for \(entry.key)") }
        return JSONResponse(RecordDTO(key: record.key, value: value, version: record.version, updatedAt: record.changedAt))
    }

    @Sendable func put(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<RecordDTO> {
        let person = try await services.auth.person(request).person
        let entry = try catalogueKey(context)
        let body = try await request.decodeBody(PutRecord.self, context: context)
        let (value, record) = try await services.putRecord(body.value, entry: entry, for: person)
        return JSONResponse(RecordDTO(key: entry.key, value: value, version: record.version, updatedAt: record.changedAt))
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let person = try await services.auth.person(request).person
        let entry = try catalogueKey(context)
        do {
            try await services.deleteRecord(entry, for: person)
        } catch DomainError.notFound {
            throw Problem.notFound("you have no value for \(entry.key)")
        }
        return Response(status: .noContent)
    }

    @Sendable func history(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<ListDTO<RecordVersionDTO>> {
        let person = try await services.auth.person(request).person
        let entry = try catalogueKey(context)
        let dataKey = try services.vault.dataKey(for: person)
        let versions = try await services.store.recordHistory(person: person.id, key: entry.key)
        return JSONResponse(ListDTO(items: try versions.map { version in
            RecordVersionDTO(version: version.version, value: try services.vault.open(version, with: dataKey),
                             deleted: version.ciphertext == nil, changedAt: version.changedAt)
        }))
    }
}
