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
struct WebhookSender: Sendable {
    struct Result: Sendable, Equatable {
        var status: Int?
        var error: String?
    }

    static let maxResponseBytes = 64 * 1024

    let client: HTTPClient
    let timeout: TimeAmount
    let allowPrivateTargets: Bool

    init(timeoutSeconds: Int, allowPrivateTargets: Bool) {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(Int64(min(timeoutSeconds, 5))), read: .seconds(Int64(timeoutSeconds)))
        configuration.decompression = .disabled
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.timeout = .seconds(Int64(timeoutSeconds))
        self.allowPrivateTargets = allowPrivateTargets
    }

    func shutdown() async {
        try? await client.shutdown()
    }

    func send(to target: String, headers: [(String, String)], body: ByteBuffer) async -> Result {
        guard case .success(let url) = WebhookURL.parse(target, requireHTTPS: false) else {
            return Result(status: nil, error: "the endpoint URL is not valid")
        }
        if !allowPrivateTargets {
            if let refusal = await Self.forbiddenAddress(of: url) { return Result(status: nil, error: refusal) }
        }
        var request = HTTPClientRequest(url: target)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(body)
        // One deadline for the whole exchange, the answer's body included: the client's own deadline ends when the
        // headers arrive, and a receiver dripping its body byte by byte must not hold an attempt longer than this.
        let client = self.client
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
        // One message for every refusal: saying which range a name resolves to, or that it does not resolve, would let
        // an organisation map the operator's internal network.
        let refused = "refused: the endpoint's host must resolve only to public internet addresses"
        if url.isLocalName { return refused }
        let addresses: [[UInt8]]
        do {
            addresses = try await NIOThreadPool.singleton.runIfActive { try resolve(url.host) }
        } catch {
            return refused
        }
        if addresses.isEmpty || addresses.contains(where: { !NetworkAddressClass(bytes: $0).isPublic }) { return refused }
        return nil
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
