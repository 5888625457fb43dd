import Foundation
import ProfferCore
import Testing

/// Signing, retry schedule and address checks of webhooks, without a network.
@Suite("Webhooks: signatures, schedule, addresses")
struct WebhookCoreTests {
    /// The Standard Webhooks specification's own example (also what its Python library computes).
    @Test func signaturesMatchTheStandardWebhooksExample() throws {
        let secret = try #require(WebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
        let body = Data(#"{"test": 2432232314}"#.utf8)
        let signature = secret.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: body)
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        #expect(secret.verifies("v0,bogus " + signature, id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: body))
        #expect(!secret.verifies(signature, id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_331, body: body))
        #expect(!secret.verifies(signature, id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: body + Data([0x20])))
        #expect(!secret.verifies(signature, id: "msg_other", timestamp: 1_614_265_330, body: body))
    }

    @Test func secretsRoundTripAndRejectTheMalformed() throws {
        let secret = WebhookSecret.generate()
        #expect(secret.key.count == 32)
        #expect(WebhookSecret(secret.text) == secret)
        #expect(WebhookSecret.generate() != secret)
        for bad in ["", "whsec_", "whsec_!!!", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_" + Data(repeating: 1, count: 8).base64EncodedString()] {
            #expect(WebhookSecret(bad) == nil, "\(bad)")
        }
    }

    @Test func theRetryScheduleLastsOverADayWithBoundedJitter() throws {
        let schedule = RetrySchedule.standard
        #expect(schedule.maxAttempts == 8)
        #expect(schedule.totalSeconds >= 24 * 3600, "retries go on for at least 24 hours")
        #expect(schedule.delay(after: 1, random: 0) == 5)
        #expect(schedule.delay(after: 2, random: 1) == 330)
        #expect(schedule.delay(after: 2, random: -1) == 270)
        #expect(schedule.delay(after: 8) == nil, "after the last attempt, the delivery fails")
        #expect(schedule.delay(after: 0) == nil)
        for _ in 0..<200 {
            let delay = try #require(schedule.delay(after: 4))
            #expect((6_480...7_920).contains(delay))
        }
        #expect(RetrySchedule(parsing: "1, 2,3")?.delaysSeconds == [1, 2, 3])
        for bad in ["", "0", "-1", "a", "1,,2", "5,x"] { #expect(RetrySchedule(parsing: bad) == nil, "\(bad)") }
    }

    @Test(arguments: [
        ("8.8.8.8", true), ("93.184.215.14", true), ("1.1.1.1", true),
        ("127.0.0.1", false), ("127.255.0.9", false), ("10.1.2.3", false), ("172.16.0.1", false), ("172.31.255.255", false),
        ("172.32.0.1", true), ("192.168.1.1", false), ("169.254.169.254", false), ("100.64.0.1", false), ("0.0.0.0", false),
        ("224.0.0.1", false), ("255.255.255.255", false), ("192.0.2.1", false), ("198.18.0.1", false), ("192.88.99.1", false),
        ("2606:4700:4700::1111", true), ("::1", false), ("::", false), ("fe80::1", false), ("fc00::1", false), ("fd12::1", false),
        ("ff02::1", false), ("::ffff:127.0.0.1", false), ("::ffff:8.8.8.8", true), ("64:ff9b::7f00:1", false), ("64:ff9b::808:808", true),
        ("64:ff9b:1::1", false), ("2002:7f00:1::", false), ("2002:808:808::", true), ("2001::1", false), ("2001:10::1", false),
        ("100::1", false), ("2001:db8::1", false), ("::127.0.0.1", false),
    ])
    func addressesArePublicOrNot(address: String, isPublic: Bool) throws {
        #expect(NetworkAddressClass(bytes: try #require(Self.bytes(address))).isPublic == isPublic, "\(address)")
    }

    @Test func webhookURLsAreCheckedWhenRegistered() throws {
        #expect((try? WebhookURL.parse("https://hooks.example.com/proffer", requireHTTPS: true).get())?.port == 443)
        #expect((try? WebhookURL.parse("http://[::1]:8080/x", requireHTTPS: false).get())?.host == "::1")
        for (url, https) in [("http://hooks.example.com/", true), ("ftp://x/", false), ("not a url", false), ("https://u:p@h/", false),
                             ("https://h/#f", false), ("https:///nohost", false), ("//h/x", false)] {
            #expect((try? WebhookURL.parse(url, requireHTTPS: https).get()) == nil, "\(url)")
        }
        #expect((try? WebhookURL.parse("https://LOCALHOST/x", requireHTTPS: true).get())?.isLocalName == true)
        #expect((try? WebhookURL.parse("https://a.localhost/x", requireHTTPS: true).get())?.isLocalName == true)
    }

    /// An address literal as 4 or 16 bytes (a tiny parser for the test's inputs only).
    static func bytes(_ text: String) -> [UInt8]? {
        if !text.contains(":") {
            let parts = text.split(separator: ".").compactMap { UInt8($0) }
            return parts.count == 4 ? parts : nil
        }
        var text = text
        var tail: [UInt8] = []
        if let last = text.split(separator: ":").last, last.contains(".") {
            tail = last.split(separator: ".").compactMap { UInt8($0) }
            text = String(text.dropLast(last.count)) + "0:0"
        }
        let halves = text.components(separatedBy: "::")
        func groups(_ part: String) -> [UInt16] { part.isEmpty ? [] : part.split(separator: ":").compactMap { UInt16($0, radix: 16) } }
        let head = groups(halves[0]), rest = halves.count > 1 ? groups(halves[1]) : []
        let all = head + Array(repeating: 0, count: 8 - head.count - rest.count) + rest
        var bytes = all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
        if tail.count == 4 { bytes.replaceSubrange(12..<16, with: tail) }
        return bytes.count == 16 ? bytes : nil
    }
}
