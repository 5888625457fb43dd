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
    }

    @Sendable func export(_ request: Request, context: AppRequestContext) async throws -> Response {
        let person = try await services.auth.person(request).person
        let (archive, name) = try await PersonExport(services: services).archive(for: person, at: .now())
        var headers: HTTPFields = [.contentType: "application/zip", .cacheControl: "no-store"]
        headers[.contentDisposition] = "attachment; filename=\"\(name)\""
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: archive)))
    }
}
