import Foundation
import Synchronization

/// A typed identifier: a short prefix naming the kind of thing, then a random UUID,
/// so an id pasted in the wrong place is recognised as such instead of silently not found.
public struct Identifier<Tag: IdentifierTag>: Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    /// Accepts only well-formed identifiers of this kind.
    public init?(_ rawValue: String) {
        let prefix = Tag.prefix + "_"
        guard rawValue.hasPrefix(prefix), rawValue.count == prefix.count + 36,
              UUID(uuidString: String(rawValue.dropFirst(prefix.count))) != nil,
              rawValue == rawValue.lowercased()
        else { return nil }
        self.rawValue = rawValue
    }

    /// Reconstructs an identifier read back from storage.
    public init(trusted rawValue: String) {
        self.rawValue = rawValue
    }

    public static func generate() -> Self {
        Self(trusted: Tag.prefix + "_" + UUID().uuidString.lowercased())
    }

    /// A time-ordered identifier: an RFC 9562 version 7 UUID, whose first 48 bits are the Unix time in
    /// milliseconds, the next 12 a counter and the other 62 variable bits random. Rows keyed by these append to the
    /// end of their index instead of landing on a random page, which matters for the hottest inserts (ledger
    /// transfers). Within this process each one sorts after the one before (RFC 9562 §6.2, method 1): two webhook
    /// events of one change, or two charges of one batch, keep the order they were made in even within one
    /// millisecond or when the clock steps back.
    public static func generateTimeOrdered(at now: Timestamp = .now()) -> Self {
        var bytes = UUID().uuid  // 122 random bits to start from
        let (millis, counter) = TimeOrderedClock.shared.next(millis: UInt64(max(0, now.millisecondsSinceEpoch)), seed: UInt16(bytes.6 & 0x07) << 8 | UInt16(bytes.7))
        bytes.0 = UInt8(truncatingIfNeeded: millis >> 40)
        bytes.1 = UInt8(truncatingIfNeeded: millis >> 32)
        bytes.2 = UInt8(truncatingIfNeeded: millis >> 24)
        bytes.3 = UInt8(truncatingIfNeeded: millis >> 16)
        bytes.4 = UInt8(truncatingIfNeeded: millis >> 8)
        bytes.5 = UInt8(truncatingIfNeeded: millis)
        bytes.6 = 0x70 | UInt8(truncatingIfNeeded: counter >> 8)  // version 7, then the counter's top 4 bits
        bytes.7 = UInt8(truncatingIfNeeded: counter)
        bytes.8 = 0x80 | (bytes.8 & 0x3F)  // RFC 9562 variant
        return Self(trusted: Tag.prefix + "_" + UUID(uuid: bytes).uuidString.lowercased())
    }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(String.self)
        guard let value = Self(raw) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a valid \(Tag.prefix)_ identifier")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

public protocol IdentifierTag: Sendable { static var prefix: String { get } }

public enum PersonTag: IdentifierTag { public static let prefix = "per" }
public enum OrganisationTag: IdentifierTag { public static let prefix = "org" }
public enum RequestTag: IdentifierTag { public static let prefix = "req" }
public enum GrantTag: IdentifierTag { public static let prefix = "grt" }
public enum TokenTag: IdentifierTag { public static let prefix = "tok" }
public enum RuleTag: IdentifierTag { public static let prefix = "rul" }
public enum ReceiptTag: IdentifierTag { public static let prefix = "rct" }
public enum TransferTag: IdentifierTag { public static let prefix = "trf" }
public enum WebhookEndpointTag: IdentifierTag { public static let prefix = "whe" }
/// Standard Webhooks calls an event a message, and its id `msg_…`.
public enum WebhookEventTag: IdentifierTag { public static let prefix = "msg" }

public typealias PersonID = Identifier<PersonTag>
public typealias OrganisationID = Identifier<OrganisationTag>
public typealias RequestID = Identifier<RequestTag>
public typealias GrantID = Identifier<GrantTag>
public typealias TokenID = Identifier<TokenTag>
public typealias RuleID = Identifier<RuleTag>
public typealias ReceiptID = Identifier<ReceiptTag>
public typealias TransferID = Identifier<TransferTag>
public typealias WebhookEndpointID = Identifier<WebhookEndpointTag>
public typealias WebhookEventID = Identifier<WebhookEventTag>

/// The last (millisecond, counter) handed out for time-ordered identifiers in this process. A new millisecond starts
/// the 12-bit counter at a random value below 2,048 (so guessing the next id is no easier, and 2,048 more fit before
/// it runs out); within a millisecond, or when the clock reads earlier than the last id, the counter goes up by one,
/// and when it is spent the next id borrows the following millisecond.
final class TimeOrderedClock: Sendable {
    static let shared = TimeOrderedClock()

    private let last = Mutex<(millis: UInt64, counter: UInt16)>((0, 0))

    func next(millis now: UInt64, seed: UInt16) -> (millis: UInt64, counter: UInt16) {
        last.withLock { last in
            if now > last.millis {
                last = (now, seed & 0x07FF)
            } else if last.counter < 0x0FFF {
                last.counter += 1
            } else {
                last = (last.millis + 1, seed & 0x07FF)
            }
            return last
        }
    }
}
