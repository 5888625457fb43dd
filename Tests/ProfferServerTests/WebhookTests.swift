import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ProfferCore
import ProfferStorage
import ProfferTestSupport
import Synchronization
import Testing

@testable import ProfferServer

/// Webhooks over real HTTP on both engines: registering endpoints (and every way to get it wrong), isolation
/// between organisations, and delivery to a real receiver — exactly the permitted organisations, signed, with the
/// value only where the grant pushes values, audited as a disclosure.
@Suite("Webhooks")
struct WebhookTests {
    static let engines = TestEngine.available

    /// What a receiver got: which hook, the headers that matter and the exact body bytes.
    struct Received: Sendable {
        let hook: String
        let id: String
        let timestamp: String
        let signature: String
        let body: Data

        var json: JSONValue { (try? JSONDecoder().decode(JSONValue.self, from: body)) ?? .null }
        var type: String? { if case .object(let o) = json, case .string(let t)? = o["type"] { t } else { nil } }
        var data: [String: JSONValue] { if case .object(let o) = json, case .object(let d)? = o["data"] { d } else { [:] } }
    }

    actor Inbox {
        var received: [Received] = []
        var failuresLeft: [String: Int] = [:]

        func add(_ item: Received) { received.append(item) }
        func failNext(_ hook: String, times: Int) { failuresLeft[hook] = times }
        /// Whether this call should fail (counting it down).
        func shouldFail(_ hook: String) -> Bool {
            guard let left = failuresLeft[hook], left > 0 else { return false }
            failuresLeft[hook] = left - 1
            return true
        }
    }

    /// A real HTTP receiver on a free port: POST /hooks/{name} records and answers 204 (or 500 while told to fail).
    static func withReceiver(_ body: @Sendable (Int, Inbox) async throws -> Void) async throws {
        let inbox = Inbox()
        let router = Router()
        router.post("/hooks/{name}") { request, context -> Response in
            let name = context.parameters.get("name") ?? ""
            let bytes = try await request.body.collect(upTo: 1 << 20)
            if await inbox.shouldFail(name) { return Response(status: .internalServerError) }
            await inbox.add(Received(hook: name, id: request.headers[HTTPField.Name("webhook-id")!] ?? "",
                                     timestamp: request.headers[HTTPField.Name("webhook-timestamp")!] ?? "",
                                     signature: request.headers[HTTPField.Name("webhook-signature")!] ?? "",
                                     body: Data(bytes.readableBytesView)))
            return Response(status: .noContent)
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            try await body(try #require(client.port), inbox)
        }
    }

    /// Waits (up to 20 s) until `condition` holds for what the receiver got.
    static func eventually(_ inbox: Inbox, _ condition: @Sendable ([Received]) -> Bool) async throws -> [Received] {
        for _ in 0..<400 {
            let got = await inbox.received
            if condition(got) { return got }
            try await Task.sleep(for: .milliseconds(50))
        }
        return await inbox.received
    }

    static func fastWebhooks(_ configuration: inout ServerConfiguration) {
        configuration.webhookAllowPrivateTargets = true
        configuration.webhookAllowHTTP = true
        configuration.webhookPollMilliseconds = 20
        configuration.webhookTimeoutSeconds = 2
        configuration.webhookRetrySchedule = RetrySchedule(delaysSeconds: [1, 1], jitter: 0)
    }

    func register(_ api: LiveAPI, _ token: String, url: String, events: [String]) async throws -> (id: String, secret: WebhookSecret?) {
        let answer = try await api.call(.post, "/v1/organisation/webhooks", token: token,
                                        json: #"{"url":"\#(url)","events":[\#(events.map { "\"\($0)\"" }.joined(separator: ","))]}"#)
        #expect(answer.status == .created, "register: \(answer.text)")
        return (answer.string("id") ?? "", answer.string("secret").flatMap(WebhookSecret.init))
    }

    @Test(arguments: engines)
    func exactlyThePermittedOrganisationsAreToldAndOnlyPushGrantsCarryTheValue(engine: TestEngine) async throws {
        try await Self.withReceiver { port, inbox in
            try await withLiveAPI(engine, configure: Self.fastWebhooks) { api in
                let alice = try await api.signUp("alice")
                #expect(try await api.put(alice, "contact.email", #""alice@example.org""#).status == .ok)
                var secrets: [String: WebhookSecret] = [:]
                var tokens: [String: String] = [:]
                // pusher: value pushed; teller: fact only; other: another key; revoked: grant revoked; none: no grant.
                for name in ["pusher", "teller", "other", "revoked", "none"] {
                    let token = try await api.accessToken(try await api.registerOrganisation(name.capitalized, domain: "\(name).example"))
                    tokens[name] = token
                    secrets[name] = try await register(api, token, url: "http://127.0.0.1:\(port)/hooks/\(name)",
                                                       events: ["record.updated", "request.decided", "grant.created", "grant.revoked"]).secret
                }
                func grant(_ name: String, keys: [String], push: Bool, personDeclines: Bool = false) async throws -> String {
                    let asked = try await api.ask(tokens[name] ?? "", person: "alice", keys: keys, extra: push ? #","pushValues":true"# : "")
                    #expect(asked.string("state") == "pending", "\(asked.text)")
                    let body = personDeclines ? #"{"pushValues":false}"# : "{}"
                    let granted = try await api.call(.post, "/v1/me/requests/\(asked.string("id") ?? "")/grant", token: alice, json: body)
                    #expect(granted.status == .created, "\(granted.text)")
                    return granted.string("id") ?? ""
                }
                let pusherGrant = try await grant("pusher", keys: ["contact.email", "identity.name.full"], push: true)
                _ = try await grant("teller", keys: ["contact.email"], push: true, personDeclines: true)
                _ = try await grant("other", keys: ["identity.name.full"], push: true)
                let revokedGrant = try await grant("revoked", keys: ["contact.email"], push: false)
                #expect(try await api.call(.post, "/v1/me/grants/\(revokedGrant)/revoke", token: alice).status == .ok)

                #expect(try await api.put(alice, "contact.email", #""alice@new.example""#).status == .ok)

                let got = try await Self.eventually(inbox) { got in
                    got.filter { $0.type == "record.updated" }.count >= 2 && got.contains { $0.hook == "revoked" && $0.type == "grant.revoked" }
                }
                // A moment more, so an event wrongly sent to another organisation would have arrived too.
                try await Task.sleep(for: .milliseconds(500))
                let updates = await inbox.received.filter { $0.type == "record.updated" }
                #expect(Set(updates.map(\.hook)) == ["pusher", "teller"], "got record.updated at \(updates.map(\.hook))")
                let pushed = try #require(updates.first { $0.hook == "pusher" })
                #expect(pushed.data["value"] == .string("alice@new.example"), "the pushing grant carries the new value")
                #expect(pushed.data["key"] == .string("contact.email"))
                #expect(pushed.data["grantId"] == .string(pusherGrant))
                let told = try #require(updates.first { $0.hook == "teller" })
                #expect(told.data["value"] == nil, "the person declined pushes: the fact only")
                #expect(told.data["change"] == .string("updated"))
                #expect(got.contains { $0.hook == "none" } == false, "an organisation with no grant hears nothing")

                // Every delivery verifies with its endpoint's secret, and a tampered body does not.
                for item in await inbox.received {
                    let secret = try #require(secrets[item.hook])
                    #expect(secret.verifies(item.signature, id: item.id, timestamp: Int64(item.timestamp) ?? 0, body: item.body), "\(item.hook) \(item.type ?? "")")
                    #expect(!secret.verifies(item.signature, id: item.id, timestamp: Int64(item.timestamp) ?? 0, body: item.body + Data(" ".utf8)))
                    #expect(item.id.hasPrefix("msg_"))
                }
                // The push is a disclosure in alice's audit log, naming the event; the fact-only event is not.
                let audit: [JSONValue] = if case .array(let entries)? = try await api.call(.get, "/v1/me/audit?limit=200", token: alice)["entries"] { entries } else { [] }
                let pushes = audit.filter { entry in
                    if case .object(let e) = entry, e["kind"] == .string("disclosure"), case .string(let note)? = e["note"] { note.contains(pushed.id) } else { false }
                }
                #expect(pushes.count == 1, "one audited disclosure for the pushed value")

                // The delivery log shows them delivered.
                let log = try await api.call(.get, "/v1/organisation/webhooks/deliveries?state=delivered", token: tokens["pusher"])
                if case .array(let deliveries)? = log["deliveries"] {
                    #expect(deliveries.count >= 3, "\(log.text)")
                } else {
                    Issue.record("no deliveries array: \(log.text)")
                }
            }
        }
    }

    @Test(arguments: engines)
    func aValueIsNeverSentOnceTheGrantIsRevoked(engine: TestEngine) async throws {
        try await Self.withReceiver { port, inbox in
            try await withLiveAPI(engine, configure: Self.fastWebhooks) { api in
                let alice = try await api.signUp("alice")
                let token = try await api.accessToken(try await api.registerOrganisation("Pusher", domain: "pusher.example"))
                let endpoint = try await register(api, token, url: "http://127.0.0.1:\(port)/hooks/pusher", events: ["record.updated"]).id
                let asked = try await api.ask(token, person: "alice", keys: ["contact.email"], extra: #","pushValues":true"#)
                let grant = try await api.call(.post, "/v1/me/requests/\(asked.string("id") ?? "")/grant", token: alice, json: "{}").string("id") ?? ""
                // The receiver is down when the value is disclosed; the person revokes before it comes back.
                await inbox.failNext("pusher", times: 1)
                #expect(try await api.put(alice, "contact.email", #""secret@example.org""#).status == .ok)
                var event = ""
                for _ in 0..<100 {
                    let page = try await api.call(.get, "/v1/organisation/webhooks/deliveries", token: token)
                    if case .array(let items)? = page["deliveries"], case .object(let first)? = items.first,
                       case .integer(let attempts)? = first["attempts"], attempts >= 1, case .string(let id)? = first["eventId"] {
                        event = id
                        break
                    }
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(try await api.call(.post, "/v1/me/grants/\(grant)/revoke", token: alice).status == .ok)
                let got = try await Self.eventually(inbox) { !$0.isEmpty }
                let delivered = try #require(got.first)
                #expect(delivered.data["value"] == nil, "revoked before it arrived: the fact only")
                #expect(delivered.data["valueWithheld"] != nil)
                // A replay (once the delivery is recorded as delivered) does not bring it back either.
                for _ in 0..<200 where try await api.call(.get, "/v1/organisation/webhooks/deliveries/\(event)/\(endpoint)", token: token).string("state") != "delivered" {
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(try await api.call(.post, "/v1/organisation/webhooks/deliveries/\(event)/\(endpoint)/replay", token: token).status == .accepted)
                let again = try await Self.eventually(inbox) { $0.count >= 2 }
                #expect(again.count >= 2 && again[1].data["value"] == nil)
                #expect(!again.contains { String(decoding: $0.body, as: UTF8.self).contains("secret@example.org") })
            }
        }
    }

    @Test(arguments: engines)
    func failingEndpointsAreRetriedThenMarkedFailedAndCanBeReplayed(engine: TestEngine) async throws {
        try await Self.withReceiver { port, inbox in
            try await withLiveAPI(engine, configure: Self.fastWebhooks) { api in
                let bob = try await api.signUp("bob")
                let token = try await api.accessToken(try await api.registerOrganisation("Flaky", domain: "flaky.example"))
                let endpoint = try await register(api, token, url: "http://127.0.0.1:\(port)/hooks/flaky", events: ["request.decided"]).id
                await inbox.failNext("flaky", times: 3)  // the first attempt and both retries
                let asked = try await api.ask(token, person: "bob", keys: ["contact.email"])
                #expect(try await api.call(.post, "/v1/me/requests/\(asked.string("id") ?? "")/refuse", token: bob, json: "{}").status == .ok)
                var delivery = LiveAPI.Answer(status: .ok, headers: [:], body: Data())
                for _ in 0..<200 {
                    let page = try await api.call(.get, "/v1/organisation/webhooks/deliveries?state=failed", token: token)
                    if case .array(let items)? = page["deliveries"], let first = items.first, case .object(let d) = first,
                       case .string(let event)? = d["eventId"] {
                        delivery = try await api.call(.get, "/v1/organisation/webhooks/deliveries/\(event)/\(endpoint)", token: token)
                        break
                    }
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(delivery.string("state") == "failed", "after the schedule's 3 attempts: \(delivery.text)")
                guard case .array(let attempts)? = delivery["attemptLog"] else { Issue.record("no attempt log"); return }
                #expect(attempts.count == 3)
                #expect(attempts.allSatisfy { if case .object(let a) = $0 { a["status"] == .integer(500) } else { false } })
                #expect(await inbox.received.isEmpty)
                let event = delivery.string("eventId") ?? ""
                // Another organisation cannot see or replay it.
                let stranger = try await api.accessToken(try await api.registerOrganisation("Stranger", domain: "stranger.example"))
                #expect(try await api.call(.get, "/v1/organisation/webhooks/deliveries/\(event)/\(endpoint)", token: stranger).status == .notFound)
                #expect(try await api.call(.post, "/v1/organisation/webhooks/deliveries/\(event)/\(endpoint)/replay", token: stranger).status == .notFound)
                // The receiver is fixed; a replay delivers the same event.
                let replay = try await api.call(.post, "/v1/organisation/webhooks/deliveries/\(event)/\(endpoint)/replay", token: token)
                #expect(replay.status == .accepted, "\(replay.text)")
                let got = try await Self.eventually(inbox) { !$0.isEmpty }
                #expect(got.first?.id == event, "a replay keeps the event id")
                #expect(got.first?.type == "request.decided")
                #expect(got.first?.data["state"] == .string("refused"))
            }
        }
    }

    @Test(arguments: engines)
    func badRegistrationsAreRefusedAndEndpointsAreTheOrganisationsOwn(engine: TestEngine) async throws {
        // Production defaults: https only, public addresses only.
        try await withLiveAPI(engine) { api in
            let org = try await api.registerOrganisation("Hooks", domain: "hooks.example")
            let token = try await api.accessToken(org)
            let bad: [(String, String)] = [
                (#"{"url":"ftp://93.184.215.14/x","events":["grant.revoked"]}"#, "/url"),
                (#"{"url":"not a url","events":["grant.revoked"]}"#, "/url"),
                (#"{"url":"http://93.184.215.14/x","events":["grant.revoked"]}"#, "/url"),
                (#"{"url":"https://user:pw@93.184.215.14/x","events":["grant.revoked"]}"#, "/url"),
                (#"{"url":"https://127.0.0.1/x","events":["grant.revoked"]}"#, "/url"),
                (#"{"url":"https://localhost/x","events":["grant.revoked"]}"#, "/url"),
                (#"{"url":"https://10.1.2.3/x","events":["grant.revoked"]}"#, "/url"),
                (#"{"url":"https://169.254.169.254/latest/meta-data","events":["grant.revoked"]}"#, "/url"),
                (#"{"url":"https://[::1]/x","events":["grant.revoked"]}"#, "/url"),
                (#"{"url":"https://[::ffff:127.0.0.1]/x","events":["grant.revoked"]}"#, "/url"),
                (#"{"url":"https://93.184.215.14/x#frag","events":["grant.revoked"]}"#, "/url"),
                (#"{"url":"https://93.184.215.14/\#(String(repeating: "a", count: 2100))","events":["grant.revoked"]}"#, "/url"),
                (#"{"url":"https://93.184.215.14/x","events":[]}"#, "/events"),
                (#"{"url":"https://93.184.215.14/x","events":["grant.exploded"]}"#, "/events/0"),
                (#"{"url":"https://93.184.215.14/x","events":["grant.revoked"],"description":"\#(String(repeating: "d", count: 201))"}"#, "/description"),
            ]
            for (body, pointer) in bad {
                let answer = try await api.call(.post, "/v1/organisation/webhooks", token: token, json: body)
                #expect(answer.status == .unprocessableContent, "\(body.prefix(90)): \(answer.text)")
                #expect(answer.text.contains(#""pointer":"\#(pointer)""#), "\(body.prefix(90)) should point at \(pointer): \(answer.text)")
            }
            #expect(try await api.call(.post, "/v1/organisation/webhooks", token: token, json: #"{"url":"https://93.184.215.14/x","events":["grant.revoked"],"extra":1}"#).status == .unprocessableContent)
            #expect(try await api.call(.post, "/v1/organisation/webhooks", token: token, json: #"{"url":5,"events":["grant.revoked"]}"#).status == .unprocessableContent)
            #expect(try await api.call(.get, "/v1/organisation/webhooks", token: token).text.contains("whe_") == false, "nothing was registered")

            // A good one: the secret once, never again.
            let created = try await api.call(.post, "/v1/organisation/webhooks", token: token,
                                             json: #"{"url":"https://93.184.215.14/proffer","events":["grant.revoked","record.updated"],"description":"main"}"#)
            #expect(created.status == .created, "\(created.text)")
            let id = created.string("id") ?? ""
            #expect(WebhookSecret(created.string("secret") ?? "") != nil, "a whsec_ secret")
            let fetched = try await api.call(.get, "/v1/organisation/webhooks/\(id)", token: token)
            #expect(fetched.status == .ok)
            #expect(fetched["secret"] == nil, "the secret is shown once")
            #expect(try await api.call(.get, "/v1/organisation/webhooks", token: token).text.contains("whsec_") == false)

            // Scope, and other organisations.
            let narrow = try await api.accessToken(org, scope: "grants:read")
            #expect(try await api.call(.get, "/v1/organisation/webhooks", token: narrow).status == .forbidden)
            let stranger = try await api.accessToken(try await api.registerOrganisation("Other", domain: "other.example"))
            #expect(try await api.call(.get, "/v1/organisation/webhooks/\(id)", token: stranger).status == .notFound)
            #expect(try await api.call(.delete, "/v1/organisation/webhooks/\(id)", token: stranger).status == .notFound)
            #expect(try await api.call(.get, "/v1/organisation/webhooks", token: stranger).text.contains(id) == false)
            #expect(try await api.call(.get, "/v1/organisation/webhooks/not-an-id", token: token).status == .notFound)
            #expect(try await api.call(.get, "/v1/organisation/webhooks/deliveries?state=lost", token: token).status == .badRequest)
            #expect(try await api.call(.get, "/v1/organisation/webhooks/deliveries?before=junk", token: token).status == .badRequest)
            #expect(try await api.call(.get, "/v1/organisation/webhooks/deliveries?limit=0", token: token).status == .badRequest)
            let alice = try await api.signUp("alice")
            #expect(try await api.call(.get, "/v1/organisation/webhooks", token: alice).status == .unauthorized, "a person's token is not an organisation's")

            // Deleted: gone from use, kept in the list with deletedAt; deleting twice is a 404.
            #expect(try await api.call(.delete, "/v1/organisation/webhooks/\(id)", token: token).status == .noContent)
            #expect(try await api.call(.get, "/v1/organisation/webhooks/\(id)", token: token).string("deletedAt") != nil)
            #expect(try await api.call(.delete, "/v1/organisation/webhooks/\(id)", token: token).status == .notFound)
        }
    }

    /// The address checked is the address connected to. The receiver listens on 127.0.0.1; a test policy resolves the
    /// made-up name `rebind.proffer.test` there and permits it. A sender that looked the name up again to connect would
    /// ask the system's DNS, which has never heard of it, and deliver nothing.
    @Test
    func anAttemptConnectsToTheAddressItChecked() async throws {
        try await Self.withReceiver { port, inbox in
            let lookups = Lookups()
            let policy = WebhookSender.AddressPolicy(resolve: { host in
                lookups.count(host)
                guard host == "rebind.proffer.test" else { throw WebhookSender.ResolutionFailed() }
                return [[127, 0, 0, 1]]
            }, permits: { _ in true })
            let sender = WebhookSender(timeoutSeconds: 5, allowPrivateTargets: false, policy: policy)
            let result = await sender.send(to: "http://rebind.proffer.test:\(port)/hooks/pinned", headers: [("webhook-id", "msg_pinned")],
                                           body: ByteBuffer(string: #"{"type":"test"}"#))
            #expect(result == WebhookSender.Result(status: 204, error: nil), "\(result)")
            #expect(await inbox.received.map(\.id) == ["msg_pinned"])
            #expect(lookups.total == 1, "the host is looked up once per attempt")

            // The same name resolving (now) to an address the policy refuses: refused, nothing sent.
            let refusing = WebhookSender(timeoutSeconds: 5, allowPrivateTargets: false,
                                         policy: .init(resolve: { _ in [[203, 0, 113, 9], [127, 0, 0, 1]] }, permits: { $0 != [127, 0, 0, 1] }))
            let refused = await refusing.send(to: "http://rebind.proffer.test:\(port)/hooks/refused", headers: [], body: ByteBuffer(string: "{}"))
            #expect(refused.status == nil)
            #expect(refused.error?.contains("must resolve only to public internet addresses") == true, "\(refused)")
            #expect(await inbox.received.count == 1)
            await sender.shutdown()
            await refusing.shutdown()
        }
    }

    /// Counts host lookups from the sender's thread pool.
    final class Lookups: Sendable {
        private let hosts = Mutex<[String]>([])
        func count(_ host: String) { hosts.withLock { $0.append(host) } }
        var total: Int { hosts.withLock { $0.count } }
    }
}
