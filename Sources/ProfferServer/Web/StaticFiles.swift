import Foundation
import HTTPTypes
import Hummingbird

/// The stylesheet and icon, read once from the bundle and served with a day's caching.
struct StaticFiles: Sendable {
    let files: [String: (type: String, bytes: ByteBuffer)]

    static func load() throws -> StaticFiles {
        var files: [String: (String, ByteBuffer)] = [:]
        for (name, type) in [("app.css", "text/css; charset=utf-8"), ("favicon.svg", "image/svg+xml")] {
            guard let url = Bundle.module.url(forResource: "static/\(name)", withExtension: nil) ?? Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "static"),
                  let data = FileManager.default.contents(atPath: url.path) else {
                throw ConfigurationError("the bundled static file \(name) is missing")
            }
            files[name] = (type, ByteBuffer(bytes: data))
        }
        return StaticFiles(files: files)
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/static/{name}") { _, context -> Response in
            guard let name = context.parameters.get("name"), let file = files[name] else {
                throw Problem.notFound("no such file")
            }
            return Response(status: .ok, headers: [.contentType: file.type, .cacheControl: "public, max-age=86400",
                                                   HTTPField.Name("X-Content-Type-Options")!: "nosniff"],
                            body: .init(byteBuffer: file.bytes))
        }
    }
}
