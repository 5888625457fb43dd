/// Lowercase hexadecimal, without Foundation's format machinery (this runs for every audit entry).
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// The digit for a value 0–15.
    public static func digit(_ value: UInt8) -> UInt8 { digits[Int(value & 0x0f)] }

    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
