import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ProfferCore

/// The disclosure answer, written directly: each record's value is the decrypted JSON exactly as sealed
/// (it was validated and encoded when stored), so it is copied into the body rather than decoded and
/// re-encoded; each record's member is rendered once (`member`) and kept by the vault with the opened value.
/// Its members are the OpenAPI document's `Disclosure` schema (grantId, person, purpose,
/// disclosedAt, expiresAt, records[{key, value, updatedAt}], missing), checked by schemathesis.
struct DisclosureBody: ResponseGenerator {
    /// A disclosed record: its key and its member of `records`, rendered by `member`.
    typealias Item = (key: String, member: [UInt8])

    let grantID: String
    let person: String
    let purpose: String
    let disclosedAt: Timestamp
    let expiresAt: Timestamp
    let records: [Item]
    let missing: [String]

    /// A record's member of `records`: `{"key":…,"value":…,"updatedAt":…}`, the value copied in as sealed. It depends
    /// on these three only, so the vault keeps it with the opened value and reuses it while the record is unchanged.
    static func member(key: String, valueJSON: Data, updatedAt: Timestamp) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(valueJSON.count + key.utf8.count + 64)
        out.append(contentsOf: #"{"key":""#.utf8)
        JSONString.escape(key) { out.append(contentsOf: $0) }
        out.append(contentsOf: #"","value":"#.utf8)
        out.append(contentsOf: valueJSON)
        out.append(contentsOf: #","updatedAt":""#.utf8)
        updatedAt.withRFC3339Bytes { out.append(contentsOf: $0) }
        out.append(contentsOf: #""}"#.utf8)
        return out
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var out = ByteBufferAllocator().buffer(capacity: 256 + records.reduce(0) { $0 + $1.member.count + 1 } + missing.count * 48)
        out.writeStaticString("{\"grantId\":")
        Self.string(grantID, into: &out)
        out.writeStaticString(",\"person\":")
        Self.string(person, into: &out)
        out.writeStaticString(",\"purpose\":")
        Self.string(purpose, into: &out)
        out.writeStaticString(",\"disclosedAt\":\"")
        disclosedAt.withRFC3339Bytes { _ = out.writeBytes($0) }
        out.writeStaticString("\",\"expiresAt\":\"")
        expiresAt.withRFC3339Bytes { _ = out.writeBytes($0) }
        out.writeStaticString("\",\"records\":[")
        for (index, record) in records.enumerated() {
            if index > 0 { out.writeStaticString(",") }
            out.writeBytes(record.member)
        }
        out.writeStaticString("],\"missing\":[")
        for (index, key) in missing.enumerated() {
            if index > 0 { out.writeStaticString(",") }
            Self.string(key, into: &out)
        }
        out.writeStaticString("]}")
        return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: .init(byteBuffer: out))
    }

    /// A JSON string literal (RFC 8259 escaping).
    static func string(_ text: String, into out: inout ByteBuffer) {
        out.writeStaticString("\"")
        JSONString.escape(text) { out.writeBytes($0) }
        out.writeStaticString("\"")
    }
}
