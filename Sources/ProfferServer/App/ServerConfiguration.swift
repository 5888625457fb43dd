import Foundation
import Logging
import ProfferCore
import ProfferStorage

/// Everything the server needs to start, resolved from flags and environment by the `proffer` command.
public struct ServerConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// Holds the SQLite file and generated key files.
    public var dataDirectory: String = "./data"
    /// Nil means the SQLite file `proffer.sqlite` in the data directory.
    public var database: DatabaseLocation?
    /// The operator's admin bearer token; generated into the data directory when nil.
    public var adminToken: String?
    /// Base64 of 32 bytes; generated into the data directory when nil.
    public var masterKey: String?
    /// The externally visible base URL, used as the JWT issuer.
    public var publicURL: String?
    public var sqliteSynchronous: SQLiteSynchronous = .normal
    public var maxBodyBytes: Int = 64 * 1024
    public var accessTokenLifetimeSeconds: Int = 900
    public var sessionLifetimeSeconds: Int = 7 * 86_400
    public var bcryptCost: UInt8 = 11
    public var logLevel: Logger.Level = .info
    /// The jurisdiction named in consent receipts (an ISO 3166 code or region such as "EU").
    public var jurisdiction: String = "EU"
    /// How often the background job records grants that have expired (audit entry and receipt).
    public var expirySweepSeconds: Int = 10
    /// How often the background job forgets the keys (and opened values) of people whose accounts were closed by
    /// another instance or an operator command.
    public var closureSweepSeconds: Int = 5
    /// The operator's fee on every payment for data, in basis points (500 = 5 %).
    public var operatorFeeBasisPoints: Int = FeePolicy.standard.basisPoints
    /// How often the background job charges per-month grants whose period starts.
    public var chargeIntervalSeconds: Int = 60
    /// How long before a period starts it may be charged, so access does not lapse between job runs.
    public var chargeLookaheadSeconds: Int = 300
    /// How often the webhook dispatcher looks for deliveries that are due.
    public var webhookPollMilliseconds: Int = 500
    /// The deadline for one webhook attempt (connect, send, answer).
    public var webhookTimeoutSeconds: Int = 10
    /// The delays between attempts of a failing delivery; after the last, it is marked failed.
    public var webhookRetrySchedule: RetrySchedule = .standard
    /// Whether webhooks may go to loopback and private addresses (tests, a demo on one machine). Off by default.
    public var webhookAllowPrivateTargets: Bool = false
    /// Whether webhook endpoints may use plain http. Off by default (production): endpoints must use https.
    public var webhookAllowHTTP: Bool = false
    /// How old the public directory's and the console's figures may be (they aggregate every request and grant).
    public var directoryMaxAgeSeconds: Int = 60
    /// How many people's disclosed values the disclosure path keeps in memory, so a grant read again does not decrypt
    /// unchanged records again; 0 keeps none (no decrypted value outlives the answer it was opened for).
    public var disclosureCachePeople: Int = Self.defaultDisclosureCachePeople
    public static let defaultDisclosureCachePeople = 50_000

    public init() {}

    public var resolvedDatabase: DatabaseLocation {
        database ?? .sqlite(path: URL(fileURLWithPath: dataDirectory).appendingPathComponent("proffer.sqlite").path)
    }

    public var issuer: String { publicURL ?? "http://\(host):\(port)" }
}
