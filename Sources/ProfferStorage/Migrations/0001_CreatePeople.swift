enum Migration0001CreatePeople {
    static let migration = Migration(version: 1, name: "create people and tokens", statements: [
        """
        CREATE TABLE people (
            id TEXT PRIMARY KEY,
            handle TEXT NOT NULL UNIQUE,
            email TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            wrapped_key {BLOB} NOT NULL,
            created_at {BIGINT} NOT NULL)
        """,
        """
        CREATE TABLE person_tokens (
            id TEXT PRIMARY KEY,
            person_id TEXT NOT NULL REFERENCES people(id),
            kind TEXT NOT NULL,
            name TEXT NOT NULL,
            token_digest {BLOB} NOT NULL UNIQUE,
            created_at {BIGINT} NOT NULL,
            expires_at {BIGINT},
            revoked_at {BIGINT})
        """,
        "CREATE INDEX person_tokens_by_person ON person_tokens (person_id, kind)",
    ])
}
