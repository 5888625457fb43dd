import Foundation

/// Which network addresses a webhook may be sent to. By default only public unicast addresses: loopback, private
/// (RFC 1918, unique-local), link-local, carrier-grade NAT, multicast, reserved and unspecified ranges are refused,
/// so an organisation cannot make Proffer probe the operator's own network (server-side request forgery).
public enum NetworkAddressClass: Sendable, Hashable {
    case publicUnicast
    /// Why not: "loopback", "private", "link-local", …
    case forbidden(String)

    public var isPublic: Bool { self == .publicUnicast }

    /// Classifies an IPv4 (4 bytes) or IPv6 (16 bytes) address.
    public init(bytes: [UInt8]) {
        switch bytes.count {
        case 4: self = Self.classify(v4: bytes)
        case 16: self = Self.classify(v6: bytes)
        default: self = .forbidden("malformed address")
        }
    }

    private static func classify(v4 b: [UInt8]) -> NetworkAddressClass {
        switch (b[0], b[1]) {
        case (0, _): return .forbidden("unspecified (0.0.0.0/8)")
        case (10, _): return .forbidden("private (10.0.0.0/8)")
        case (100, 64...127): return .forbidden("carrier-grade NAT (100.64.0.0/10)")
        case (127, _): return .forbidden("loopback (127.0.0.0/8)")
        case (169, 254): return .forbidden("link-local (169.254.0.0/16)")
        case (172, 16...31): return .forbidden("private (172.16.0.0/12)")
        case (192, 168): return .forbidden("private (192.168.0.0/16)")
        case (192, 0) where b[2] == 0: return .forbidden("IETF protocol assignments (192.0.0.0/24)")
        case (192, 0) where b[2] == 2, (198, 51) where b[2] == 100, (203, 0) where b[2] == 113: return .forbidden("documentation range")
        case (192, 88) where b[2] == 99: return .forbidden("6to4 relay anycast (192.88.99.0/24)")
        case (198, 18...19): return .forbidden("benchmarking (198.18.0.0/15)")
        case (224...239, _): return .forbidden("multicast (224.0.0.0/4)")
        case (240...255, _): return .forbidden("reserved (240.0.0.0/4)")
        default: return .publicUnicast
        }
    }

    private static func classify(v6 b: [UInt8]) -> NetworkAddressClass {
        if b.allSatisfy({ $0 == 0 }) { return .forbidden("unspecified (::)") }
        if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return .forbidden("loopback (::1)") }
        // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::/96) carry an IPv4 address: judge that.
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff { return classify(v4: Array(b[12..<16])) }
        if b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4..<12].allSatisfy({ $0 == 0 }) { return classify(v4: Array(b[12..<16])) }
        if b[0..<12].allSatisfy({ $0 == 0 }) { return .forbidden("IPv4-compatible (deprecated)") }
        // 6to4 (2002::/16) carries an IPv4 address in bits 16–47: judge that.
        if b[0] == 0x20 && b[1] == 0x02 { return classify(v4: Array(b[2..<6])) }
        // Local-use NAT64 (64:ff9b:1::/48), Teredo (2001::/32), ORCHID (2001:10::/28, 2001:20::/28), discard (100::/64).
        if b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0x00 && b[5] == 0x01 { return .forbidden("local-use NAT64 (64:ff9b:1::/48)") }
        if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00 { return .forbidden("Teredo (2001::/32)") }
        if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && (b[3] & 0xf0 == 0x10 || b[3] & 0xf0 == 0x20) { return .forbidden("ORCHID (2001:10::/28)") }
        if b[0] == 0x01 && b[1] == 0x00 && b[2..<8].allSatisfy({ $0 == 0 }) { return .forbidden("discard-only (100::/64)") }
        if b[0] & 0xfe == 0xfc { return .forbidden("unique-local (fc00::/7)") }
        if b[0] == 0xfe && b[1] & 0xc0 == 0x80 { return .forbidden("link-local (fe80::/10)") }
        if b[0] == 0xfe && b[1] & 0xc0 == 0xc0 { return .forbidden("site-local (fec0::/10)") }
        if b[0] == 0xff { return .forbidden("multicast (ff00::/8)") }
        if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8 { return .forbidden("documentation (2001:db8::/32)") }
        return .publicUnicast
    }
}

/// A webhook endpoint's URL, checked when the organisation registers it.
public struct WebhookURL: Sendable, Hashable {
    public static let maxLength = 2_048

    public let url: URL
    public let host: String
    public let port: Int
    public let isHTTPS: Bool

    /// Parses and checks a URL: absolute `https` (or `http` unless HTTPS is required), a host, no user info, no
    /// fragment, not longer than 2048 characters. Host names that always mean this machine (`localhost`) count as loopback.
    public static func parse(_ text: String, requireHTTPS: Bool) -> Result<WebhookURL, ValidationFailure> {
        func fail(_ detail: String) -> Result<WebhookURL, ValidationFailure> { .failure(ValidationFailure(pointer: "/url", detail: detail)) }
        guard !text.isEmpty, text.count <= maxLength else { return fail("must be an absolute URL of at most \(maxLength) characters") }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              let host = components.host, !host.isEmpty, let url = components.url else {
            return fail("must be an absolute http(s) URL with a host, such as https://hooks.example.com/proffer")
        }
        guard scheme == "https" || scheme == "http" else { return fail("must use https (or http outside production), not \(scheme)") }
        if requireHTTPS && scheme != "https" { return fail("must use https: this Proffer runs in production mode") }
        guard components.user == nil, components.password == nil else { return fail("must not carry a user name or password") }
        guard components.fragment == nil else { return fail("must not have a #fragment") }
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        guard (1...65_535).contains(port) else { return fail("has an invalid port") }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return .success(WebhookURL(url: url, host: bare.lowercased(), port: port, isHTTPS: scheme == "https"))
    }

    /// Whether the host is an IP address written out (`203.0.113.9`, `[2001:db8::1]`) rather than a name.
    public var isAddressLiteral: Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// Host names that always resolve to this machine.
    public var isLocalName: Bool {
        host == "localhost" || host.hasSuffix(".localhost") || host == "localhost.localdomain"
    }
}
