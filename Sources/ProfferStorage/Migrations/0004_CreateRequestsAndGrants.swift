enum Migration0004CreateRequestsAndGrants {
    static let migration = Migration(version: 4, name: "create requests and grants", statements: [
        """
        CREATE TABLE requests (
            id TEXT PRIMARY KEY,
            organisation_id TEXT NOT NULL REFERENCES organisations(id),
            person_id TEXT NOT NULL REFERENCES people(id),
            keys TEXT NOT NULL,
            purpose TEXT NOT NULL,
            retention_days INTEGER NOT NULL,
            third_parties TEXT NOT NULL,
            duration_days INTEGER NOT NULL,
            reason TEXT NOT NULL,
            state TEXT NOT NULL,
            created_at {BIGINT} NOT NULL,
            decided_at {BIGINT},
            grant_id TEXT)
        """,
        "CREATE INDEX requests_by_person ON requests (person_id, created_at)",
        "CREATE INDEX requests_by_organisation ON requests (organisation_id, created_at)",
        """
        CREATE TABLE grants (
            id TEXT PRIMARY KEY,
            request_id TEXT NOT NULL UNIQUE REFERENCES requests(id),
            organisation_id TEXT NOT NULL REFERENCES organisations(id),
            person_id TEXT NOT NULL REFERENCES people(id),
            keys TEXT NOT NULL,
            purpose TEXT NOT NULL,
            retention_days INTEGER NOT NULL,
            third_parties TEXT NOT NULL,
            created_at {BIGINT} NOT NULL,
            expires_at {BIGINT} NOT NULL,
            revoked_at {BIGINT})
        """,
        "CREATE INDEX grants_by_person ON grants (person_id, created_at)",
        "CREATE INDEX grants_by_organisation ON grants (organisation_id, created_at)",
    ])
}
