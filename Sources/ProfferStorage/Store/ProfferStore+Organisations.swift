import Foundation
import ProfferCore
import SQLKit

extension ProfferStore {
    public func createOrganisation(_ organisation: Organisation) async throws {
        try await write { db in
            if try await db.raw("SELECT 1 AS x FROM organisations WHERE domain = \(bind: organisation.domain)").first() != nil {
                throw DomainError.conflict("an organisation with the domain \"\(organisation.domain)\" already exists")
            }
            try await db.raw("""
                INSERT INTO organisations (id, name, domain, verified, client_id, secret_digest, created_at, contact)
                VALUES (\(bind: organisation.id.rawValue), \(bind: organisation.name), \(bind: organisation.domain),
                        \(bind: organisation.verified ? 1 : 0), \(bind: organisation.clientID), \(bind: organisation.secretDigest),
                        \(bind: organisation.createdAt.millisecondsSinceEpoch), \(bind: JSONColumn.encode(organisation.contact)))
                """).run()
        }
    }

    public func organisation(id: OrganisationID) async throws -> Organisation? {
        try await read { db in try await db.raw("SELECT * FROM organisations WHERE id = \(bind: id.rawValue)").first().map(Self.organisation) }
    }

    public func organisation(clientID: String) async throws -> Organisation? {
        try await read { db in try await db.raw("SELECT * FROM organisations WHERE client_id = \(bind: clientID)").first().map(Self.organisation) }
    }

    /// Several organisations by id, in one query.
    public func organisations(ids: [OrganisationID]) async throws -> [OrganisationID: Organisation] {
        guard !ids.isEmpty else { return [:] }
        return try await read { db in
            let rows = try await db.select().column("*").from("organisations").where("id", .in, ids.map(\.rawValue)).all()
            return Dictionary(uniqueKeysWithValues: try rows.map(Self.organisation).map { ($0.id, $0) })
        }
    }

    public func organisations() async throws -> [Organisation] {
        try await read { db in try await db.raw("SELECT * FROM organisations ORDER BY created_at, id").all().map(Self.organisation) }
    }

    /// Sets the verified flag; returns the updated organisation.
    public func setVerified(_ verified: Bool, organisation id: OrganisationID) async throws -> Organisation {
        try await write { db in
            guard let row = try await db.raw("SELECT * FROM organisations WHERE id = \(bind: id.rawValue)").first() else {
                throw DomainError.notFound(what: "organisation", id: id.rawValue)
            }
            try await db.raw("UPDATE organisations SET verified = \(bind: verified ? 1 : 0) WHERE id = \(bind: id.rawValue)").run()
            var organisation = try Self.organisation(row)
            organisation.verified = verified
            return organisation
        }
    }

    /// Replaces the client secret; the old one stops working at once. Returns the organisation as it now is.
    @discardableResult
    public func rotateSecret(organisation id: OrganisationID, digest: Data) async throws -> Organisation {
        try await write { db in
            guard let row = try await db.raw("SELECT * FROM organisations WHERE id = \(bind: id.rawValue)").first() else {
                throw DomainError.notFound(what: "organisation", id: id.rawValue)
            }
            try await db.raw("UPDATE organisations SET secret_digest = \(bind: digest) WHERE id = \(bind: id.rawValue)").run()
            var organisation = try Self.organisation(row)
            organisation.secretDigest = digest
            return organisation
        }
    }

    static func organisation(_ row: any SQLRow) throws -> Organisation {
        Organisation(
            id: OrganisationID(trusted: try row.decode(column: "id", as: String.self)),
            name: try row.decode(column: "name", as: String.self),
            domain: try row.decode(column: "domain", as: String.self),
            verified: try row.decode(column: "verified", as: Int.self) != 0,
            clientID: try row.decode(column: "client_id", as: String.self),
            secretDigest: try row.decode(column: "secret_digest", as: Data.self),
            createdAt: try row.timestamp("created_at"),
            contact: try JSONColumn.decode(OrganisationContact.self, try row.decode(column: "contact", as: String.self))
        )
    }
}
