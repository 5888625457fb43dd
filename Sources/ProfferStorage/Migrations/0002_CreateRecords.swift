enum Migration0002CreateRecords {
    static let migration = Migration(version: 2, name: "create records and their history", statements: [
        """
        CREATE TABLE records (
            person_id TEXT NOT NULL REFERENCES people(id),
            key TEXT NOT NULL,
            version {BIGINT} NOT NULL,
            ciphertext {BLOB} NOT NULL,
            updated_at {BIGINT} NOT NULL,
            PRIMARY KEY (person_id, key))
        """,
        """
        CREATE TABLE record_versions (
            person_id TEXT NOT NULL REFERENCES people(id),
            key TEXT NOT NULL,
            version {BIGINT} NOT NULL,
            ciphertext {BLOB},
            changed_at {BIGINT} NOT NULL,
            PRIMARY KEY (person_id, key, version))
        """,
    ])
}
