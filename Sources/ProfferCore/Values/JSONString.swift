/// The content of a JSON string literal with RFC 8259's minimal escaping: `"`, `\` and the control characters are
/// escaped, everything else (UTF-8 included) is copied as it is. Shared by the writers that build JSON by hand on hot
/// paths (the audit entry's canonical form, the disclosure answer).
public enum JSONString {
    /// Hands `write` the escaped content of `text`, without the quotes, in pieces: each run with nothing to escape
    /// whole (for ids and keys, the whole text at once), each escape sequence on its own.
    public static func escape(_ text: String, _ write: (UnsafeBufferPointer<UInt8>) -> Void) {
        var text = text
        text.withUTF8 { utf8 in
            var start = 0
            for index in utf8.indices {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if index > start { write(UnsafeBufferPointer(rebasing: utf8[start..<index])) }
                escaped(byte).withUnsafeBufferPointer(write)
                start = index + 1
            }
            if start < utf8.count { write(UnsafeBufferPointer(rebasing: utf8[start...])) }
        }
    }

    private static func escaped(_ byte: UInt8) -> [UInt8] {
        switch byte {
        case UInt8(ascii: "\""): Array(#"\""#.utf8)
        case UInt8(ascii: "\\"): Array(#"\\"#.utf8)
        case 0x0a: Array(#"\n"#.utf8)
        case 0x0d: Array(#"\r"#.utf8)
        case 0x09: Array(#"\t"#.utf8)
        default: Array("\\u00\(Hex.encode([byte]))".utf8)
        }
    }
}
