import Foundation
import Synchronization

/// A typed identifier: a short prefix naming the kind of thing, then a random UUID,
/// so an id pasted in the wrong place is recognised as such instead of silently not found.
public struct Identifier<Tag: IdentifierTag>: Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    /// The UUID as a compact key, or nil if the text is not an identifier's canonical form (prefix, underscore, the
    /// UUID in lowercase hexadecimal with its four dashes) — the form `init?(_:)` accepts and every id this server
    /// makes has; for canonical text, two identifiers have the same key exactly when they are equal. Parsed once, when
    /// the identifier is made: the disclosure path keys half a dozen maps by it for every read.
    public let key: IdentifierKey<Tag>?

    /// Accepts only well-formed identifiers of this kind: the prefix, an underscore and a UUID in lowercase
    /// hexadecimal with its four dashes (checked byte by byte: every request names one or two).
    public init?(_ rawValue: String) {
        guard let key = Self.parse(rawValue) else { return nil }
        self.rawValue = rawValue
        self.key = key
    }

    /// Reconstructs an identifier read back from storage.
    public init(trusted rawValue: String) {
        self.rawValue = rawValue
        self.key = Self.parse(rawValue)
    }

    /// Equal texts; for two canonical identifiers that is equal keys, compared without reading either string.
    public static func == (left: Self, right: Self) -> Bool {
        if let leftKey = left.key, let rightKey = right.key { return leftKey == rightKey }
        return left.rawValue == right.rawValue
    }

    /// Hashes the key when there is one (equal identifiers have both or neither), else the text.
    public func hash(into hasher: inout Hasher) {
        if let key { hasher.combine(key) } else { hasher.combine(rawValue) }
    }

    /// A random identifier: an RFC 9562 version 4 UUID.
    public static func generate() -> Self {
        var bytes = randomUUIDBytes()
        bytes.6 = 0x40 | (bytes.6 & 0x0F)  // version 4
        bytes.8 = 0x80 | (bytes.8 & 0x3F)  // RFC 9562 variant
        return Self(trusted: Tag.prefix + "_" + uuidText(bytes))
    }

    /// 128 random bits from the system's generator (`getrandom`). Foundation's `UUID()` opens, reads and closes
    /// /dev/urandom for every identifier, which showed in the write pipeline's profile: every priced disclosure makes
    /// one for its charge.
    private static func randomUUIDBytes() -> uuid_t {
        var generator = SystemRandomNumberGenerator()
        let high: UInt64 = generator.next()
        let low: UInt64 = generator.next()
        var bytes: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &bytes) { buffer in
            buffer.storeBytes(of: high.bigEndian, toByteOffset: 0, as: UInt64.self)
            buffer.storeBytes(of: low.bigEndian, toByteOffset: 8, as: UInt64.self)
        }
        return bytes
    }

    /// A UUID's canonical text in lowercase: 8-4-4-4-12 hexadecimal digits, written straight into the string.
    private static func uuidText(_ bytes: uuid_t) -> String {
        withUnsafeBytes(of: bytes) { raw in
            String(unsafeUninitializedCapacity: 36) { out in
                var end = 0
                for (index, byte) in raw.enumerated() {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        out[end] = UInt8(ascii: "-")
                        end += 1
                    }
                    out[end] = Hex.digit(byte >> 4)
                    out[end + 1] = Hex.digit(byte & 0x0f)
                    end += 2
                }
                return end
            }
        }
    }

    /// A time-ordered identifier: an RFC 9562 version 7 UUID, whose first 48 bits are the Unix time in
    /// milliseconds, the next 12 a counter and the other 62 variable bits random. Rows keyed by these append to the
    /// end of their index instead of landing on a random page, which matters for the hottest inserts (ledger
    /// transfers). Within this process each one sorts after the one before (RFC 9562 §6.2, method 1): two webhook
    /// events of one change, or two charges of one batch, keep the order they were made in even within one
    /// millisecond or when the clock steps back.
    public static func generateTimeOrdered(at now: Timestamp = .now()) -> Self {
        var bytes = randomUUIDBytes()
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
        return Self(trusted: Tag.prefix + "_" + uuidText(bytes))
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

/// An identifier's UUID as its 128 bits: the key of the large in-memory maps of the disclosure path (grants, people's
/// numbers, chain heads, records). Keyed by the 40-character text, each look-up hashed the whole text and, to confirm
/// a match, compared it with a key stored in a string object of its own, elsewhere in memory — with tens of thousands
/// of entries, mostly a cache miss per look-up. These keys are stored in the map itself.
public struct IdentifierKey<Tag: IdentifierTag>: Hashable, Sendable {
    let high: UInt64
    let low: UInt64
}

extension Identifier {
    /// The canonical form's UUID bits, or nil: what `init?(_:)` accepts and `key` holds.
    private static func parse(_ rawValue: String) -> IdentifierKey<Tag>? {
        canonicalUUIDBits(rawValue, prefix: Tag.prefix).map { IdentifierKey(high: $0.high, low: $0.low) }
    }
}

/// The UUID bits of `prefix_` followed by a lowercase canonical UUID, or nil. Not generic, so that the parsing, run
/// several times per disclosure, is compiled once for real types rather than working through the tag's metadata.
private func canonicalUUIDBits(_ rawValue: String, prefix: String) -> (high: UInt64, low: UInt64)? {
    var text = rawValue
    var prefix = prefix
    return prefix.withUTF8 { prefix in
        text.withUTF8 { bytes -> (high: UInt64, low: UInt64)? in
            guard bytes.count == prefix.count + 37, bytes.starts(with: prefix), bytes[prefix.count] == UInt8(ascii: "_") else { return nil }
            var high: UInt64 = 0
            var low: UInt64 = 0
            var digits = 0
            for (offset, byte) in bytes[(prefix.count + 1)...].enumerated() {
                let nibble: UInt8
                switch byte {
                case UInt8(ascii: "-"):
                    guard offset == 8 || offset == 13 || offset == 18 || offset == 23 else { return nil }
                    continue
                case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = byte - UInt8(ascii: "a") + 10
                default: return nil
                }
                if digits < 16 { high = high << 4 | UInt64(nibble) } else { low = low << 4 | UInt64(nibble) }
                digits += 1
            }
            return digits == 32 ? (high, low) : nil
        }
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
