import Foundation
import ProfferCore
import SQLKit

/// A decision that closing an account forces on one of the person's requests or grants. The caller signs the
/// consent receipt for it, which is stored in the closing transaction, like every other decision's.
public enum ClosureDecision: Sendable {
    /// A live grant, revoked now (`revokedAt` set).
    case revoked(Grant, request: DataRequest, organisation: Organisation)
    /// A pending request, refused now (state, `decidedAt`, `decidedBy` and note set).
    case refused(DataRequest, organisation: Organisation)
    /// A grant that had expired but whose expiry was not yet recorded by the sweeper.
    case expired(Grant, request: DataRequest, organisation: Organisation)
}

/// One organisation to be told of an erasure: every grant it ever held from the person, live or not.
public struct ErasureNotice: Sendable, Hashable {
    public var organisationID: OrganisationID
    public var grantIDs: [GrantID]

    public init(organisationID: OrganisationID, grantIDs: [GrantID]) {
        self.organisationID = organisationID
        self.grantIDs = grantIDs
    }
}

/// What closing an account did, and what the `person.erased` event needs.
public struct AccountClosure: Sendable {
    public var personID: PersonID
    /// Kept in the tombstone: organisations know the person by it, and nobody may take it over.
    public var handle: String
    public var erasedAt: Timestamp
    public var revokedGrants: [Grant]
    public var refusedRequests: [DataRequest]
    /// Every organisation that ever held a grant from the person, computed inside the closing transaction.
    public var notices: [ErasureNotice]
    /// Record versions destroyed, deletion markers included.
    public var recordVersionsDeleted: Int
    /// The last link of the person's audit chain.
    public var closingEntry: AuditEntry
}

extension ProfferStore {
    /// Closes a person's account in one write transaction, so it happens entirely or not at all:
    ///
    /// - every live grant is revoked and every pending request refused (each audited, each with its consent
    ///   receipt from `receipts`), so the next read by an organisation is refused as revoked;
    /// - records and their whole history, tokens, terms, rules and prices are deleted;
    /// - the wrapped data key is destroyed (crypto-shredding: a backup holds only ciphertext no key opens any
    ///   more), the email and password hash are overwritten, and `erased_at` is set.
    ///
    /// What stays is what organisations' receipts and the ledger need, none of it a record value: the tombstone
    /// (id, handle, creation and erasure times), requests and grants (catalogue key names, purposes, the
    /// organisation's own texts), the signed receipts, ledger transfers and entries, the idempotency rows of paid
    /// reads and the retry rows `checkLedger` matches disclosures with (ids, sequence numbers, key names and
    /// versions), and the audit chain.
    ///
    /// The audit chain is kept, ending in an `account.closed` link. It holds no record values — entries carry key
    /// names, ids, times and notes that Proffer writes (versions, purposes, prices, rule explanations) or that the
    /// person wrote when deciding (a refusal's or revocation's reason, which the organisation's signed receipt
    /// carries too) — and it is what proves to the person, the organisations and an auditor that every
    /// disclosure before the closure was logged and that the closure itself happened. Deleting it would leave
    /// receipts and ledger charges that point at nothing; blanking entries would break the hash chain. So
    /// `proffer audit verify` and `proffer ledger check` still pass on a closed account, and nothing can be
    /// appended after the closing link (`appendAudit` refuses an erased person).
    ///
    /// Fails with `.notFound` for an unknown person and `.personErased` for one already erased. On SQLite, deleted
    /// pages are zeroed (`secure_delete`) and the WAL is checkpointed and truncated once the erasure committed.
    public func closeAccount(
        person id: PersonID, at now: Timestamp, actor: String = "person",
        receipts: @escaping @Sendable (ClosureDecision) async throws -> ReceiptRecord? = { _ in nil }
    ) async throws -> AccountClosure {
        let kind = self.kind
        let cache = recordCache
        let closure = try await write { db in
            cache?.invalidate(id)
            // Lock order, as every other writer: the person's grants and requests, then the person, then the audit
            // head. Once the person is locked, a writer that has not yet appended its audit entry waits for this
            // transaction and then finds the person erased; one that has already appended is committed and seen below.
            for table in ["grants", "requests"] where kind == .postgres {
                _ = try await db.raw("SELECT id FROM \(ident: table) WHERE person_id = \(bind: id.rawValue) ORDER BY id FOR UPDATE").all()
            }
            guard let row = try await db.raw("SELECT * FROM people WHERE id = \(bind: id.rawValue)\(unsafeRaw: kind.forUpdate)").first() else {
                throw DomainError.notFound(what: "person", id: id.rawValue)
            }
            let person = try Self.person(row)
            if let erasedAt = person.erasedAt { throw DomainError.personErased(handle: person.handle, at: erasedAt) }

            let grantRows = try await db.raw("""
                SELECT * FROM grants WHERE person_id = \(bind: id.rawValue) ORDER BY created_at, id\(unsafeRaw: kind.forUpdate)
                """).all()
            let grants = try grantRows.map(Self.grant)
            let unrecordedExpiries = Set(try grantRows.filter { try $0.decode(column: "expiry_recorded", as: Int.self) == 0 }
                .map { GrantID(trusted: try $0.decode(column: "id", as: String.self)) })
            let requests = try await db.raw("""
                SELECT * FROM requests WHERE person_id = \(bind: id.rawValue) ORDER BY created_at, id\(unsafeRaw: kind.forUpdate)
                """).all().map(Self.request)
            let requestsByID = Dictionary(requests.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            let organisationIDs = Set(requests.map(\.organisationID.rawValue)).sorted()
            var organisations: [OrganisationID: Organisation] = [:]
            if !organisationIDs.isEmpty {
                for row in try await db.select().column("*").from("organisations").where("id", .in, organisationIDs).all() {
                    let organisation = try Self.organisation(row)
                    organisations[organisation.id] = organisation
                }
            }
            func parties(of grant: Grant) throws -> (DataRequest, Organisation) {
                guard let request = requestsByID[grant.requestID], let organisation = organisations[grant.organisationID] else {
                    throw StorageError.corrupt("a grant refers to a missing request or organisation")
                }
                return (request, organisation)
            }

            var revoked: [Grant] = []
            var refunds: [GrantID: RevocationRefund] = [:]
            for var grant in grants {
                if grant.isLive(at: now) {
                    let (request, organisation) = try parties(of: grant)
                    refunds[grant.id] = try await Self.revokeLive(&grant, actor: actor, note: "revoked: the person closed their account", at: now, on: db, kind: kind)
                    if let receipt = try await receipts(.revoked(grant, request: request, organisation: organisation)) {
                        try await Self.insertReceipt(receipt, on: db)
                    }
                    revoked.append(grant)
                } else if grant.revokedAt == nil, unrecordedExpiries.contains(grant.id) {
                    // What the expiry sweeper would do later, when it could no longer add to the closed chain.
                    let (request, organisation) = try parties(of: grant)
                    try await db.raw("UPDATE grants SET expiry_recorded = 1 WHERE id = \(bind: grant.id.rawValue)").run()
                    _ = try await Self.appendAudit(
                        AuditEvent(kind: .grantExpired, actor: "system", organisationID: grant.organisationID, requestID: grant.requestID,
                                   grantID: grant.id, keys: grant.keys, note: "expired at \(grant.expiresAt)", at: now),
                        for: id, on: db, kind: kind)
                    if let receipt = try await receipts(.expired(grant, request: request, organisation: organisation)) {
                        try await Self.insertReceipt(receipt, on: db)
                    }
                }
            }

            var refused: [DataRequest] = []
            for var request in requests where request.state == .pending {
                guard let organisation = organisations[request.organisationID] else {
                    throw StorageError.corrupt("a request refers to a missing organisation")
                }
                let note = "the person closed their account"
                try await db.raw("""
                    UPDATE requests SET state = 'refused', decided_at = \(bind: now.millisecondsSinceEpoch), decided_by = \(bind: actor),
                           decision_note = \(bind: note)
                    WHERE id = \(bind: request.id.rawValue)
                    """).run()
                _ = try await Self.appendAudit(
                    AuditEvent(kind: .requestRefused, actor: actor, organisationID: request.organisationID, requestID: request.id,
                               keys: request.keys, note: "refused: \(note)", at: now),
                    for: id, on: db, kind: kind)
                request.decide(.refused, by: actor, note: note, at: now)
                if let receipt = try await receipts(.refused(request, organisation: organisation)) {
                    try await Self.insertReceipt(receipt, on: db)
                }
                refused.append(request)
            }

            let versions = try await db.raw("SELECT COUNT(*) AS n FROM record_versions WHERE person_id = \(bind: id.rawValue)").first()?
                .decode(column: "n", as: Int.self) ?? 0
            for table in ["records", "record_versions", "person_tokens", "person_terms", "decision_rules", "person_prices"] {
                try await db.delete(from: table).where("person_id", .equal, id.rawValue).run()
            }
            // The last link, appended before the tombstone is set (after it, nothing may be appended).
            let closing = try await Self.appendAudit(
                AuditEvent(kind: .accountClosed, actor: actor,
                           note: "account closed: \(revoked.count) grants revoked, \(refused.count) requests refused; records, their history, "
                               + "terms, rules, prices and sign-in credentials erased; the data key destroyed",
                           at: now),
                for: id, on: db, kind: kind)
            // Crypto-shredding: the wrapped key is the only copy of the data key, so every sealed value anywhere — a
            // backup, a replica, a dump — is unreadable from now on. The email becomes a placeholder no address can
            // equal (it keeps the column's uniqueness) and the password hash empty, so nobody can sign in. (An empty
            // blob is written as SQL, not bound: SQLite would bind an empty buffer as NULL.)
            try await db.raw("""
                UPDATE people SET email = \(bind: Self.erasedEmail(id)), password_hash = '',
                                  wrapped_key = CAST('' AS \(unsafeRaw: kind.blobType)),
                                  erased_at = \(bind: now.millisecondsSinceEpoch)
                WHERE id = \(bind: id.rawValue)
                """).run()

            // Every organisation that ever held a grant, from the rows this transaction locked: what the person.erased
            // event is built from, in this same transaction.
            let notices = Self.erasureNotices(grants)
            try await Self.emitErasure(of: person.handle, personID: id, revoked: revoked, refunds: refunds, refused: refused, notices: notices, at: now, on: db)
            return AccountClosure(personID: id, handle: person.handle, erasedAt: now, revokedGrants: revoked, refusedRequests: refused,
                                  notices: notices, recordVersionsDeleted: versions, closingEntry: closing)
        }
        // Only after the commit: the deleted pages are zeroed, now the WAL's copies of them must go too.
        _ = try? await engine.checkpoint()
        return closure
    }

    /// The organisations to tell, each with every grant it ever held from the person, in a stable order.
    /// The webhook events of an erasure, in its transaction: `grant.revoked` and `request.decided` for what it revoked and
    /// refused, and `person.erased` to every organisation that ever held a grant — the erasure request it must honour.
    static func emitErasure(of handle: String, personID: PersonID, revoked: [Grant], refunds: [GrantID: RevocationRefund], refused: [DataRequest],
                            notices: [ErasureNotice], at now: Timestamp, on db: any SQLDatabase) async throws {
        for grant in revoked {
            try await emitGrantChange(.grantRevoked, of: grant, extra: RevocationRefund.eventData(revokedAt: now, refund: refunds[grant.id],
                                                                                                  extra: ["reason": .string("person-erased")]), at: now, on: db)
        }
        for request in refused {
            try await emitDecision(of: request, grant: nil, at: now, on: db)
        }
        try await emit(notices.map { notice in
            WebhookEvent(organisationID: notice.organisationID, type: .personErased, personID: personID, payload: .object([
                "person": .string(handle), "erasedAt": .string(now.rfc3339),
                "grantIds": .array(notice.grantIDs.map { .string($0.rawValue) }),
                "instruction": .string("The person closed their account. Erase the personal data you received from them under these grants, "
                    + "except what a law obliges you to keep, and stop processing it."),
            ]), createdAt: now)
        }, on: db)
    }

    static func erasureNotices(_ grants: [Grant]) -> [ErasureNotice] {
        Dictionary(grouping: grants, by: \.organisationID)
            .map { ErasureNotice(organisationID: $0.key, grantIDs: $0.value.map(\.id).sorted { $0.rawValue < $1.rawValue }) }
            .sorted { $0.organisationID.rawValue < $1.organisationID.rawValue }
    }

    /// What a tombstone keeps in the email column: no address (it has no `@`), unique per person.
    static func erasedEmail(_ id: PersonID) -> String { "erased:\(id.rawValue)" }
}
