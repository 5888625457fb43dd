import Foundation

/// The pieces of a `postgres://user:password@host:port/database?sslmode=…` URL.
struct URLParts: Sendable {
    var user: String
    var password: String?
    var host: String
    var port: Int
    var database: String
    var sslMode: String

    init?(_ text: String) {
        guard let components = URLComponents(string: text), let host = components.host, !host.isEmpty else { return nil }
        self.user = components.percentEncodedUser.flatMap { $0.removingPercentEncoding } ?? "postgres"
        self.password = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
        self.host = host
        self.port = components.port ?? 5432
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        self.database = path.isEmpty ? self.user : path
        self.sslMode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "disable"
    }

    var redacted: String { "\(user)@\(host):\(port)/\(database)" }
}
