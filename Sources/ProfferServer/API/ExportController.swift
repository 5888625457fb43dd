import Foundation
import HTTPTypes
import Hummingbird
import ProfferCore
import ProfferStorage

/// The person's export: everything Proffer holds about them, as one ZIP archive.
struct ExportController: Sendable {
    let services: Services

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/v1/me/export", use: export)
        router.post("/v1/me/import", use: importArchive)
    }

    struct ImportDTO: Codable, Sendable {
        var person: String
        var records: Int
        var versions: Int
        var rules: Int
        var prices: Int
        /// Where the archive came from, as written in the audit log.
        var note: String
    }

    /// Loads an export (from this Proffer or another) into the signed-in person's fresh account.
    @Sendable func importArchive(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<ImportDTO> {
        let person = try await services.auth.person(request).person
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/zip") == true else {
            throw Problem(.unsupportedMediaType, "unsupported-media-type", title: "Unsupported media type",
                          detail: "send the archive from GET /v1/me/export as the body, with Content-Type: application/zip")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: Self.maxArchiveBytes)
        } catch {
            throw Problem(.contentTooLarge, "too-large", title: "Archive too large",
                          detail: "an archive may be at most \(Self.maxArchiveBytes / 1024 / 1024) MiB")
        }
        let keyed = try await services.person(person.id)
        let account: ImportedAccount
        do {
            account = try PersonImport(services: services).read(Data(buffer.readableBytesView), dataKey: keyed.dataKey, at: .now())
        } catch let failure as PersonImport.Failure {
            throw Problem(.unprocessableContent, "invalid-archive", title: "The archive cannot be imported",
                          detail: failure.detail + "; nothing was imported")
        }
        try await services.store.importAccount(account, into: person.id, at: .now())
        return JSONResponse(ImportDTO(person: person.handle, records: account.histories.filter { $0.versions.last?.ciphertext != nil }.count,
                                      versions: account.histories.reduce(0) { $0 + $1.versions.count }, rules: account.rules.count,
                                      prices: account.prices.entries.count, note: account.note), status: .created)
    }

    /// The largest archive accepted (compressed).
    static let maxArchiveBytes = 32 * 1024 * 1024

    @Sendable func export(_ request: Request, context: AppRequestContext) async throws -> Response {
        let person = try await services.auth.person(request).person
        let (archive, name) = try await PersonExport(services: services).archive(for: person, at: .now())
        var headers: HTTPFields = [.contentType: "application/zip", .cacheControl: "no-store"]
        headers[.contentDisposition] = "attachment; filename=\"\(name)\""
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: archive)))
    }
}
