import Foundation
import HTTPTypes
import Hummingbird
import ProfferCore

/// Unauthenticated routes: health, the API document, keys, the catalogue and the purpose list.
struct PublicController: Sendable {
    let services: Services
    let openAPIDocument: ByteBuffer

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/healthz") { _, _ in
            JSONResponse(["status": "ok"])
        }
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "public, max-age=300"],
                     body: .init(byteBuffer: openAPIDocument))
        }
        router.get("/.well-known/jwks.json") { _, _ in
            JSONResponse(JWKSDocument(keys: services.accessTokens.jwks.keys + services.receiptSigner.jwks), headers: [.cacheControl: "public, max-age=300"])
        }
        router.get("/v1/catalogue") { _, _ in
            JSONResponse(ListDTO(items: services.catalogue.entries), headers: [.cacheControl: "public, max-age=300"])
        }
        router.get("/v1/purposes") { _, _ in
            JSONResponse(ListDTO(items: services.purposes.purposes), headers: [.cacheControl: "public, max-age=300"])
        }
    }
}
