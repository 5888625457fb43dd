import Foundation
import Hummingbird
import NIOCore
import HTTPTypes
import ProfferCore
import ProfferStorage
import ProfferTestSupport
import Testing

@testable import ProfferServer

/// The OpenAPI document and the router describe the same API: every route is documented and every
/// documented operation exists.
@Suite("OpenAPI document")
struct OpenAPIDocumentTests {
    @Test func everyRouteIsDocumentedAndEveryOperationIsRouted() async throws {
        let buffer = try OpenAPIDocument.load()
        let document = try JSONDecoder().decode(JSONValue.self, from: Data(buffer.readableBytesView))
        guard case .object(let root) = document, case .string(let version)? = root["openapi"], case .object(let paths)? = root["paths"] else {
            Issue.record("openapi.json has no openapi version or paths")
            return
        }
        #expect(version.hasPrefix("3.1"))
        var documented = Set<String>()
        for (path, item) in paths {
            guard case .object(let operations) = item else { continue }
            for method in operations.keys where ["get", "put", "post", "delete", "patch"].contains(method) {
                documented.insert("\(method.uppercased()) \(path)")
            }
        }
        let database = try await TestDatabase.make(.sqlite)
        let store = try await database.openStore()
        var configuration = ServerConfiguration()
        configuration.dataDirectory = database.directory.path
        configuration.bcryptCost = 4
        let runtime = try await buildApplication(configuration: configuration, store: store, logger: TestDatabase.logger)
        let router = Router(context: AppRequestContext.self)
        addAPIRoutes(to: router, services: runtime.services, openAPIDocument: buffer)
        await store.shutdown()
        let routed = Set(router.routes.map { "\($0.method) \($0.path.description.hasPrefix("/") ? $0.path.description : "/" + $0.path.description)" })
        #expect(routed.subtracting(documented).isEmpty, "routes missing from openapi.json: \(routed.subtracting(documented).sorted())")
        #expect(documented.subtracting(routed).isEmpty, "documented operations with no route: \(documented.subtracting(routed).sorted())")
    }
}
