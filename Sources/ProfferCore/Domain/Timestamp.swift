import Foundation

/// An instant in whole milliseconds since the Unix epoch: exact, portable across both SQL engines,
/// and printed as RFC 3339 in the API.
public struct Timestamp: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let millisecondsSinceEpoch: Int64

    public init(millisecondsSinceEpoch: Int64) {
        self.millisecondsSinceEpoch = millisecondsSinceEpoch
    }

    public static func now() -> Timestamp {
        Timestamp(millisecondsSinceEpoch: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
    }

    public var date: Date { Date(timeIntervalSince1970: Double(millisecondsSinceEpoch) / 1000) }

    public func adding(days: Int) -> Timestamp {
        Timestamp(millisecondsSinceEpoch: millisecondsSinceEpoch + Int64(days) * 86_400_000)
    }

    public func adding(seconds: Int) -> Timestamp {
        Timestamp(millisecondsSinceEpoch: millisecondsSinceEpoch + Int64(seconds) * 1000)
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.millisecondsSinceEpoch < rhs.millisecondsSinceEpoch
    }

    /// RFC 3339 with milliseconds, UTC, e.g. `2026-11-24T03:06:58.141Z`. Computed directly (civil-from-days)
    /// because every API answer carries several.
    public var rfc3339: String {
        String(unsafeUninitializedCapacity: Self.rfc3339Capacity) { write(rfc3339Into: $0) }
    }

    /// The RFC 3339 text's UTF-8 bytes, handed to `body` without making a String (the disclosure answer copies
    /// seven of them straight into its body).
    public func withRFC3339Bytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.rfc3339Capacity) { buffer in
            let count = write(rfc3339Into: buffer)
            return try body(UnsafeBufferPointer(rebasing: buffer[..<count]))
        }
    }

    /// Room for any timestamp's text: 24 bytes for years 0000–9999, and the widest Int64 year's digits and sign.
    private static let rfc3339Capacity = 40

    /// Writes the RFC 3339 text into `out` (at least `rfc3339Capacity` bytes); returns its length.
    private func write(rfc3339Into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var days = millisecondsSinceEpoch / 86_400_000
        var rest = millisecondsSinceEpoch % 86_400_000
        if rest < 0 { rest += 86_400_000; days -= 1 }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        var end = 0
        func put(_ byte: UInt8) {
            out[end] = byte
            end += 1
        }
        func digits(_ value: Int64, _ width: Int) {
            var value = value
            for index in stride(from: end + width - 1, through: end, by: -1) {
                out[index] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
            end += width
        }
        // Years outside 0000–9999 have no RFC 3339 form; they are printed with as many digits as they take.
        if (0...9999).contains(year) { digits(year, 4) } else { String(year).utf8.forEach(put) }
        put(UInt8(ascii: "-")); digits(month, 2); put(UInt8(ascii: "-")); digits(day, 2)
        put(UInt8(ascii: "T")); digits(rest / 3_600_000, 2); put(UInt8(ascii: ":")); digits(rest / 60_000 % 60, 2)
        put(UInt8(ascii: ":")); digits(rest / 1000 % 60, 2); put(UInt8(ascii: ".")); digits(rest % 1000, 3)
        put(UInt8(ascii: "Z"))
        return end
    }

    public var description: String { rfc3339 }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let parsed = Timestamp(rfc3339: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an RFC 3339 date-time")
        }
        self = parsed
    }

    public init?(rfc3339 text: String) {
        let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        let plain = Date.ISO8601FormatStyle()
        guard let date = (try? withFraction.parse(text)) ?? (try? plain.parse(text)) else { return nil }
        self.init(millisecondsSinceEpoch: Int64((date.timeIntervalSince1970 * 1000).rounded()))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rfc3339)
    }
}
