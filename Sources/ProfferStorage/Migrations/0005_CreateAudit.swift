enum Migration0005CreateAudit {
    static let migration = Migration(version: 5, name: "create the audit log", statements: [
        """
        CREATE TABLE audit_entries (
            person_id TEXT NOT NULL REFERENCES people(id),
            seq {BIGINT} NOT NULL,
            kind TEXT NOT NULL,
            actor TEXT NOT NULL,
            organisation_id TEXT,
            request_id TEXT,
            grant_id TEXT,
            keys TEXT NOT NULL,
            note TEXT,
            at {BIGINT} NOT NULL,
            previous_hash TEXT NOT NULL,
            hash TEXT NOT NULL,
            PRIMARY KEY (person_id, seq))
        """,
        """
        CREATE TABLE audit_heads (
            person_id TEXT PRIMARY KEY REFERENCES people(id),
            seq {BIGINT} NOT NULL,
            hash TEXT NOT NULL)
        """,
    ])
}
