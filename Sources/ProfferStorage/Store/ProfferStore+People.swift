import Foundation
import ProfferCore
import SQLKit

extension ProfferStore {
    /// Creates a person (and the first link of their audit chain). Fails with `.conflict` if the handle or
    /// email is taken.
    public func createPerson(_ person: Person) async throws {
        let kind = self.kind
        try await write { db in
            if try await db.raw("SELECT 1 AS x FROM people WHERE handle = \(bind: person.handle)").first() != nil {
                throw DomainError.conflict("the handle \"\(person.handle)\" is already taken")
            }
            if try await db.raw("SELECT 1 AS x FROM people WHERE email = \(bind: person.email)").first() != nil {
                throw DomainError.conflict("an account with this email address already exists")
            }
            try await db.raw("""
                INSERT INTO people (id, handle, email, password_hash, wrapped_key, created_at, number)
                VALUES (\(bind: person.id.rawValue), \(bind: person.handle), \(bind: person.email), \(bind: person.passwordHash),
                        \(bind: person.wrappedDataKey), \(bind: person.createdAt.millisecondsSinceEpoch), \(unsafeRaw: kind.nextPersonNumber))
                """).run()
            _ = try await Self.appendAudit(
                AuditEvent(kind: .accountCreated, actor: "person", note: "account created", at: person.createdAt),
                for: person.id, on: db, kind: kind)
        }
    }

    public func person(id: PersonID) async throws -> Person? {
        try await read { db in try await db.raw("SELECT * FROM people WHERE id = \(bind: id.rawValue)").first().map(Self.person) }
    }

    public func person(handle: String) async throws -> Person? {
        try await read { db in try await db.raw("SELECT * FROM people WHERE handle = \(bind: handle)").first().map(Self.person) }
    }

    /// The people whose accounts were closed at or after `since` (by the time of the instance that closed them), so a
    /// server can forget what it holds of them in memory when the closure was made elsewhere.
    public func accountsClosed(since: Timestamp) async throws -> [PersonID] {
        try await read { db in
            // `IS NOT NULL` spelled out: the partial index of tombstones (migration 16) is used when the query names its condition.
            try await db.raw("SELECT id FROM people WHERE erased_at IS NOT NULL AND erased_at >= \(bind: since.millisecondsSinceEpoch) ORDER BY erased_at")
                .all().map { PersonID(trusted: try $0.decode(column: "id", as: String.self)) }
        }
    }

    public func person(email: String) async throws -> Person? {
        // A tombstone's placeholder is no address anyone can sign in with.
        try await read { db in try await db.raw("SELECT * FROM people WHERE email = \(bind: email) AND erased_at IS NULL").first().map(Self.person) }
    }

    /// Several people's handles by id, in one query.
    public func handles(ids: [PersonID]) async throws -> [PersonID: String] {
        guard !ids.isEmpty else { return [:] }
        return try await read { db in
            var found: [PersonID: String] = [:]
            for row in try await db.select().columns("id", "handle").from("people").where("id", .in, ids.map(\.rawValue)).all() {
                found[PersonID(trusted: try row.decode(column: "id", as: String.self))] = try row.decode(column: "handle", as: String.self)
            }
            return found
        }
    }

    /// Handles of all people, for operator tools.
    public func allPersonIDs() async throws -> [(PersonID, String)] {
        try await read { db in
            try await db.raw("SELECT id, handle FROM people ORDER BY created_at").all().map {
                (PersonID(trusted: try $0.decode(column: "id", as: String.self)), try $0.decode(column: "handle", as: String.self))
            }
        }
    }

    static func person(_ row: any SQLRow) throws -> Person {
        Person(
            id: PersonID(trusted: try row.decode(column: "id", as: String.self)),
            handle: try row.decode(column: "handle", as: String.self),
            email: try row.decode(column: "email", as: String.self),
            passwordHash: try row.decode(column: "password_hash", as: String.self),
            // A tombstone's key is destroyed: an empty value, which one engine may hand back as no value at all.
            wrappedDataKey: try row.optional("wrapped_key", as: Data.self) ?? Data(),
            createdAt: try row.timestamp("created_at"),
            erasedAt: try row.optionalTimestamp("erased_at")
        )
    }

    // MARK: Tokens

    public func createToken(_ token: PersonToken, digest: Data) async throws {
        try await write { db in
            try await db.raw("""
                INSERT INTO person_tokens (id, person_id, kind, name, token_digest, created_at, expires_at, revoked_at)
                VALUES (\(bind: token.id.rawValue), \(bind: token.personID.rawValue), \(bind: token.kind.rawValue), \(bind: token.name),
                        \(bind: digest), \(bind: token.createdAt.millisecondsSinceEpoch), \(bind: token.expiresAt?.millisecondsSinceEpoch), NULL)
                """).run()
        }
    }

    /// The live token with this digest and its person, or nil when unknown, expired or revoked.
    public func token(digest: Data, at now: Timestamp) async throws -> (PersonToken, Person)? {
        try await read { db in
            guard let row = try await db.raw("""
                SELECT t.id AS token_id, t.kind, t.name, t.created_at AS token_created_at, t.expires_at, t.revoked_at, p.*
                FROM person_tokens t JOIN people p ON p.id = t.person_id
                WHERE t.token_digest = \(bind: digest) AND p.erased_at IS NULL
                """).first() else { return nil }
            let person = try Self.person(row)
            let token = PersonToken(
                id: TokenID(trusted: try row.decode(column: "token_id", as: String.self)),
                personID: person.id,
                kind: PersonToken.Kind(rawValue: try row.decode(column: "kind", as: String.self)) ?? .session,
                name: try row.decode(column: "name", as: String.self),
                createdAt: try row.timestamp("token_created_at"),
                expiresAt: try row.optionalTimestamp("expires_at"),
                revokedAt: try row.optionalTimestamp("revoked_at")
            )
            if token.revokedAt != nil { return nil }
            if let expiry = token.expiresAt, expiry <= now { return nil }
            return (token, person)
        }
    }

    public func tokens(for person: PersonID, kind: PersonToken.Kind) async throws -> [PersonToken] {
        try await read { db in
            try await db.raw("""
                SELECT * FROM person_tokens WHERE person_id = \(bind: person.rawValue) AND kind = \(bind: kind.rawValue)
                ORDER BY created_at
                """).all().map { row in
                PersonToken(
                    id: TokenID(trusted: try row.decode(column: "id", as: String.self)),
                    personID: person,
                    kind: kind,
                    name: try row.decode(column: "name", as: String.self),
                    createdAt: try row.timestamp("created_at"),
                    expiresAt: try row.optionalTimestamp("expires_at"),
                    revokedAt: try row.optionalTimestamp("revoked_at")
                )
            }
        }
    }

    /// Revokes one of the person's tokens; `.notFound` when it is not theirs.
    public func revokeToken(_ id: TokenID, of person: PersonID, at now: Timestamp) async throws {
        try await write { db in
            guard try await db.raw("SELECT 1 AS x FROM person_tokens WHERE id = \(bind: id.rawValue) AND person_id = \(bind: person.rawValue)").first() != nil else {
                throw DomainError.notFound(what: "token", id: id.rawValue)
            }
            try await db.raw("""
                UPDATE person_tokens SET revoked_at = \(bind: now.millisecondsSinceEpoch)
                WHERE id = \(bind: id.rawValue) AND revoked_at IS NULL
                """).run()
        }
    }
}
