enum Migration0003CreateOrganisations {
    static let migration = Migration(version: 3, name: "create organisations", statements: [
        """
        CREATE TABLE organisations (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            domain TEXT NOT NULL UNIQUE,
            verified INTEGER NOT NULL,
            client_id TEXT NOT NULL UNIQUE,
            secret_digest {BLOB} NOT NULL,
            created_at {BIGINT} NOT NULL)
        """,
    ])
}
