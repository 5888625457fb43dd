import Crypto
import Foundation

/// Signing per the Standard Webhooks specification (standardwebhooks.com): the secret is `whsec_` and the base64 of
/// random bytes; each delivery carries `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`,
/// `v1,` and the base64 of HMAC-SHA256 over `id.timestamp.body` keyed with the secret's bytes.
public struct WebhookSecret: Sendable, Hashable {
    public static let prefix = "whsec_"
    /// The key bytes (24 to 64 random bytes).
    public let key: Data

    public init(key: Data) {
        self.key = key
    }

    /// A new secret of 32 random bytes.
    public static func generate() -> WebhookSecret {
        WebhookSecret(key: SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) })
    }

    /// Parses `whsec_<base64>`; nil for anything else.
    public init?(_ text: String) {
        guard text.hasPrefix(Self.prefix), let key = Data(base64Encoded: String(text.dropFirst(Self.prefix.count))),
              (24...64).contains(key.count) else { return nil }
        self.key = key
    }

    /// The form shown to the organisation, once.
    public var text: String { Self.prefix + key.base64EncodedString() }

    /// The `webhook-signature` header value for one delivery.
    public func signature(id: String, timestamp: Int64, body: some DataProtocol) -> String {
        var content = Data("\(id).\(timestamp).".utf8)
        content.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: content, using: SymmetricKey(data: key))
        return "v1," + Data(mac).base64EncodedString()
    }

    /// Whether a `webhook-signature` header (space-separated `version,signature` pairs) holds a valid `v1` signature,
    /// compared in constant time. (What receivers do; Proffer uses it in its own tests and tools.)
    public func verifies(_ header: String, id: String, timestamp: Int64, body: some DataProtocol) -> Bool {
        var content = Data("\(id).\(timestamp).".utf8)
        content.append(contentsOf: body)
        let key = SymmetricKey(data: self.key)
        return header.split(separator: " ").contains { pair in
            let parts = pair.split(separator: ",", maxSplits: 1)
            guard parts.count == 2, parts[0] == "v1", let mac = Data(base64Encoded: String(parts[1])) else { return false }
            return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: content, using: key)
        }
    }
}

/// When to try a failed delivery again: a fixed schedule of delays (after the first attempt, which is immediate),
/// each with ±`jitter` of random spread so receivers coming back up are not hit by every sender at once. After the
/// last, the delivery is marked failed.
public struct RetrySchedule: Sendable, Hashable {
    public var delaysSeconds: [Int]
    public var jitter: Double

    public init(delaysSeconds: [Int], jitter: Double = 0.1) {
        self.delaysSeconds = delaysSeconds
        self.jitter = jitter
    }

    /// Standard Webhooks' suggested schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — about 27.6 hours of retries.
    public static let standard = RetrySchedule(delaysSeconds: [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000])

    /// The attempts in all: the first plus one per delay.
    public var maxAttempts: Int { delaysSeconds.count + 1 }

    /// How long retries go on, without jitter.
    public var totalSeconds: Int { delaysSeconds.reduce(0, +) }

    /// The delay before the attempt after attempt number `attempt` (1-based), or nil when that was the last.
    public func delay(after attempt: Int, random: Double = Double.random(in: -1...1)) -> Double? {
        guard attempt >= 1, attempt <= delaysSeconds.count else { return nil }
        let base = Double(delaysSeconds[attempt - 1])
        return max(0, base * (1 + jitter * max(-1, min(1, random))))
    }

    /// Parses a comma-separated list of seconds ("5,300,1800"); nil when malformed, empty or not positive.
    public init?(parsing text: String) {
        let delays = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !delays.isEmpty, delays.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        self.init(delaysSeconds: delays.compactMap { $0 })
    }
}
