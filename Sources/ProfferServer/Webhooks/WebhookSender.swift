import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import ProfferCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Sends one webhook attempt and says what came of it, without ever throwing: the receiver's status, or why there
/// was none. Outbound requests are bounded: a connect timeout, a deadline for the whole exchange, no redirects
/// followed, at most `maxResponseBytes` of the answer read (and then discarded — only the status matters), and no
/// target that resolves to a loopback, private or otherwise non-public address unless the operator allows them.
///
/// The address checked is the address connected to: the host is looked up once per attempt, every address it
/// resolves to must be public, and the connection goes to one of those (the TLS certificate and the `Host` header
/// still name the host). Otherwise a name that answers a public address to the check and a private one a moment
/// later, when the client looks it up again (DNS rebinding), would reach the operator's internal network.
struct WebhookSender: Sendable {
    struct Result: Sendable, Equatable {
        var status: Int?
        var error: String?
    }

    /// How a host is looked up and which addresses may be sent to (replaceable in tests, which have no DNS of their own).
    struct AddressPolicy: Sendable {
        var resolve: @Sendable (String) throws -> [[UInt8]] = WebhookSender.resolve
        var permits: @Sendable ([UInt8]) -> Bool = { NetworkAddressClass(bytes: $0).isPublic }
    }

    /// What the check of an endpoint's host found.
    enum Vetting: Equatable {
        case refused(String)
        /// Send to this address (textual IPv4 or IPv6), which the check found permitted.
        case connect(to: String)
    }

    static let maxResponseBytes = 64 * 1024

    let client: HTTPClient
    let configuration: HTTPClient.Configuration
    let timeout: TimeAmount
    let allowPrivateTargets: Bool
    let policy: AddressPolicy

    init(timeoutSeconds: Int, allowPrivateTargets: Bool, policy: AddressPolicy = AddressPolicy()) {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(Int64(min(timeoutSeconds, 5))), read: .seconds(Int64(timeoutSeconds)))
        configuration.decompression = .disabled
        self.configuration = configuration
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.timeout = .seconds(Int64(timeoutSeconds))
        self.allowPrivateTargets = allowPrivateTargets
        self.policy = policy
    }

    func shutdown() async {
        try? await client.shutdown()
    }

    func send(to target: String, headers: [(String, String)], body: ByteBuffer) async -> Result {
        guard case .success(let url) = WebhookURL.parse(target, requireHTTPS: false) else {
            return Result(status: nil, error: "the endpoint URL is not valid")
        }
        // Pinned to the checked address, the attempt gets a client of its own (the shared one would look the name up
        // again); its connection is not reused, which costs a handshake per attempt and nothing else.
        var pinned: HTTPClient?
        if !allowPrivateTargets {
            switch await Self.vet(url, policy: policy) {
            case .refused(let refusal):
                return Result(status: nil, error: refusal)
            case .connect(let address):
                if !url.isAddressLiteral {
                    var configuration = self.configuration
                    // Keyed by the host as the client reads it from the URL (and as parsed, in case they differ).
                    for name in Set([url.host, url.url.host ?? url.host]) { configuration.dnsOverride[name] = address }
                    pinned = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
                }
            }
        }
        let result = await attempt(target, headers: headers, body: body, client: pinned ?? client)
        try? await pinned?.shutdown()
        return result
    }

    /// One POST to the target through `client`, bounded by the attempt's deadline.
    private func attempt(_ target: String, headers: [(String, String)], body: ByteBuffer, client: HTTPClient) async -> Result {
        var request = HTTPClientRequest(url: target)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(body)
        // One deadline for the whole exchange, the answer's body included: the client's own deadline ends when the
        // headers arrive, and a receiver dripping its body byte by byte must not hold an attempt longer than this.
        let timeout = self.timeout
        let prepared = request
        do {
            return try await withThrowingTaskGroup(of: Result.self) { group in
                group.addTask { try await Self.exchange(prepared, client: client, timeout: timeout) }
                group.addTask {
                    try await Task.sleep(for: .nanoseconds(timeout.nanoseconds))
                    return Result(status: nil, error: "no answer within the timeout")
                }
                let first = try await group.next() ?? Result(status: nil, error: "no answer within the timeout")
                group.cancelAll()
                return first
            }
        } catch let error as HTTPClientError {
            return Result(status: nil, error: Self.describe(error))
        } catch let error as IOError {
            return Result(status: nil, error: "could not connect: \(String(cString: strerror(error.errnoCode)).lowercased())")
        } catch {
            return Result(status: nil, error: "the request failed (\(type(of: error)))")
        }
    }

    /// Sends the request and reads (and drops) at most `maxResponseBytes` of the answer, so the connection can be reused.
    private static func exchange(_ request: HTTPClientRequest, client: HTTPClient, timeout: TimeAmount) async throws -> Result {
        let response = try await client.execute(request, timeout: timeout)
        var read = 0
        for try await chunk in response.body {
            read += chunk.readableBytes
            if read > maxResponseBytes { break }
        }
        let status = Int(response.status.code)
        if (300..<400).contains(status) {
            return Result(status: status, error: "the endpoint answered with a redirect (\(status)); redirects are not followed")
        }
        return Result(status: status, error: (200..<300).contains(status) ? nil : "the endpoint answered \(status)")
    }

    private static func describe(_ error: HTTPClientError) -> String {
        switch error {
        case .deadlineExceeded, .readTimeout: "no answer within the timeout"
        case .connectTimeout: "could not connect within the timeout"
        case .remoteConnectionClosed: "the endpoint closed the connection"
        default: "the request failed (\(error.shortDescription))"
        }
    }

    /// Why the URL's host may not be sent to (nil when every address it resolves to is public).
    static func forbiddenAddress(of url: WebhookURL) async -> String? {
        if case .refused(let refusal) = await vet(url, policy: AddressPolicy()) { return refusal }
        return nil
    }

    /// Looks the URL's host up once: refused unless every address it resolves to is permitted, else the address to
    /// connect to.
    static func vet(_ url: WebhookURL, policy: AddressPolicy) async -> Vetting {
        // One message for every refusal: saying which range a name resolves to, or that it does not resolve, would let
        // an organisation map the operator's internal network.
        let refused = Vetting.refused("refused: the endpoint's host must resolve only to public internet addresses")
        if url.isLocalName { return refused }
        let addresses: [[UInt8]]
        do {
            addresses = try await NIOThreadPool.singleton.runIfActive { try policy.resolve(url.host) }
        } catch {
            return refused
        }
        guard !addresses.isEmpty, addresses.allSatisfy(policy.permits), let first = addresses.first.flatMap(text(of:)) else { return refused }
        return .connect(to: first)
    }

    /// An address of 4 or 16 bytes as text (`203.0.113.9`, `2001:db8::1`).
    static func text(of address: [UInt8]) -> String? {
        let family: Int32
        switch address.count {
        case 4: family = AF_INET
        case 16: family = AF_INET6
        default: return nil
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let written = address.withUnsafeBytes { bytes in inet_ntop(family, bytes.baseAddress, &buffer, socklen_t(buffer.count)) }
        guard written != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    struct ResolutionFailed: Error {}

    /// Every address a host name (or literal address) resolves to, as 4 or 16 bytes.
    static func resolve(_ host: String) throws -> [[UInt8]] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { throw ResolutionFailed() }
        defer { freeaddrinfo(first) }
        var addresses: [[UInt8]] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            if let sockaddr = info.pointee.ai_addr {
                switch info.pointee.ai_family {
                case AF_INET:
                    sockaddr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                        withUnsafeBytes(of: v4.pointee.sin_addr) { addresses.append(Array($0)) }
                    }
                case AF_INET6:
                    sockaddr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                        withUnsafeBytes(of: v6.pointee.sin6_addr) { addresses.append(Array($0)) }
                    }
                default: break
                }
            }
            cursor = info.pointee.ai_next
        }
        return addresses
    }
}
