import Crypto
import Foundation
import Hummingbird
import Logging
import ProfferCore
import ProfferStorage

/// A built Proffer server: the Hummingbird application plus what operators and tests need to reach it.
public struct ProfferRuntime: Sendable {
    public let application: Application<RouterResponder<AppRequestContext>>
    public let store: ProfferStore
    public let keys: KeyMaterial
    public let configuration: ServerConfiguration
    let services: Services
}

/// Builds the server on an opened store. Key material is loaded from configuration or the data directory.
public func buildApplication(
    configuration: ServerConfiguration, store: ProfferStore, logger: Logger
) async throws -> ProfferRuntime {
    let keys = try KeyMaterial.load(configuration: configuration)
    let accessTokens = try await AccessTokens(signingKey: keys.signingKey, issuer: configuration.issuer,
                                              lifetimeSeconds: configuration.accessTokenLifetimeSeconds)
    let services = Services(
        store: store,
        vault: RecordVault(masterKey: keys.masterKey, openedLimit: configuration.disclosureCachePeople),
        auth: Authenticator(store: store, accessTokens: accessTokens, adminTokenDigest: Data(SHA256.hash(data: Data(keys.adminToken.utf8)))),
        passwords: PasswordHasher(cost: configuration.bcryptCost),
        accessTokens: accessTokens,
        receiptSigner: try await ReceiptSigner(dataDirectory: configuration.dataDirectory),
        configuration: configuration,
        payments: ManualPaymentProvider()
    )
    let web = WebPages(services: services, templates: try await WebPages.loadTemplates())
    let router = buildRouter(services: services, openAPIDocument: try OpenAPIDocument.load(), web: web, staticFiles: try StaticFiles.load())
    let application = Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "Proffer"),
        services: [ExpirySweeper(services: services, logger: logger), PeriodCharger(services: services, logger: logger),
                   ClosedAccountSweeper(services: services, logger: logger),
                   WebhookDispatcher(services: services, logger: logger),
                   DirectoryRefresher(cache: web.directory, store: store, logger: logger)],
        logger: logger
    )
    return ProfferRuntime(application: application, store: store, keys: keys, configuration: configuration, services: services)
}

func buildRouter(services: Services, openAPIDocument: ByteBuffer, web: WebPages, staticFiles: StaticFiles) -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    router.add(middleware: LogRequestsMiddleware(.debug))
    router.add(middleware: ProblemMiddleware())
    addAPIRoutes(to: router, services: services, openAPIDocument: openAPIDocument)
    // The web app: pages for people (and, under /org, for organisations), rendered on the server. Not in the API
    // document: they answer HTML, not JSON.
    staticFiles.addRoutes(to: router)
    AccountPages(pages: web).addRoutes(to: router)
    DataPages(pages: web).addRoutes(to: router)
    InboxPages(pages: web).addRoutes(to: router)
    ActivityPages(pages: web).addRoutes(to: router)
    PolicyPages(pages: web).addRoutes(to: router)
    MoneyAndExportPages(pages: web).addRoutes(to: router)
    OrganisationPages(pages: web).addRoutes(to: router)
    return router
}

/// The JSON API: exactly the operations of the OpenAPI document.
func addAPIRoutes(to router: Router<AppRequestContext>, services: Services, openAPIDocument: ByteBuffer) {
    // The router tries a path segment's fixed names in the order they were added: the organisations' routes
    // (disclosures, the busiest) first.
    OrganisationController(services: services).addRoutes(to: router)
    PublicController(services: services, openAPIDocument: openAPIDocument).addRoutes(to: router)
    AccountController(services: services).addRoutes(to: router)
    RecordController(services: services).addRoutes(to: router)
    PersonDecisionController(services: services).addRoutes(to: router)
    AdminController(services: services).addRoutes(to: router)
    OAuthController(services: services).addRoutes(to: router)
    PolicyController(services: services).addRoutes(to: router)
    ReceiptController(services: services).addRoutes(to: router)
    WalletController(services: services).addRoutes(to: router)
    StatementController(services: services).addRoutes(to: router)
    ExportController(services: services).addRoutes(to: router)
    WebhookController(services: services).addRoutes(to: router)
    ClosureController(services: services).addRoutes(to: router)
}

/// The OpenAPI 3.1 document shipped with the server and served at `/openapi.json`.
public enum OpenAPIDocument {
    public static func load() throws -> ByteBuffer {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"),
              let data = FileManager.default.contents(atPath: url.path)
        else { throw ConfigurationError("the bundled openapi.json is missing") }
        return ByteBuffer(bytes: data)
    }
}
