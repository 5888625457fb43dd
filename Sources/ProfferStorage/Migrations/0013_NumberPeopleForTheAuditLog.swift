enum Migration0013NumberPeopleForTheAuditLog {
    // Every person gets a number, and the audit log is keyed by (person number, sequence) instead of (person id,
    // sequence). Every disclosure inserts into that key at its person's place — a random page of the index — so the
    // key's width is what decides how many pages the index has: with the 40-character id each entry of the key took
    // ~55 bytes, with the number ~12, and the whole index fits the write connection's page cache. On SQLite a
    // disclosure's insert, commit and share of checkpoint copying went from ~21 to ~16 µs (`B=20 N=1500 CK=500
    // Benchmarks/sqlite-batch-replay.py`), the server's CPU per disclosure down ~7 µs (BENCHMARKS.md). The person id
    // stays in each entry, unindexed; reads by person find their number first. New people are numbered by
    // `EngineKind.nextPersonNumber`.
    static let migration = Migration(version: 13, name: "number people; key the audit log by person number", statements: [
        "ALTER TABLE people ADD COLUMN number {BIGINT}",
        """
        UPDATE people SET number = ranked.n
        FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY created_at, id) AS n FROM people) ranked
        WHERE ranked.id = people.id
        """,
        "CREATE UNIQUE INDEX people_by_number ON people (number)",
        """
        CREATE TABLE audit_entries_by_number (
            person_number {BIGINT} NOT NULL,
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
            transfer_id TEXT,
            PRIMARY KEY (person_number, seq))
        """,
        """
        INSERT INTO audit_entries_by_number
            (person_number, person_id, seq, kind, actor, organisation_id, request_id, grant_id, keys, note, at, previous_hash, hash, transfer_id)
        SELECT p.number, a.person_id, a.seq, a.kind, a.actor, a.organisation_id, a.request_id, a.grant_id, a.keys, a.note, a.at,
               a.previous_hash, a.hash, a.transfer_id
        FROM audit_entries a JOIN people p ON p.id = a.person_id
        ORDER BY p.number, a.seq
        """,
        "DROP TABLE audit_entries",
        "ALTER TABLE audit_entries_by_number RENAME TO audit_entries",
    ])
}

enum Migration0014NumberPeopleFromASequenceOnPostgreSQL {
    // PostgreSQL's writers run concurrently, so two sign-ups must not both take the highest number plus one: new
    // numbers come from a sequence there (SQLite's one writer takes the next number in its insert).
    static let migration = Migration(version: 14, name: "number new people from a sequence on PostgreSQL", statements: [
        "CREATE SEQUENCE people_number_seq OWNED BY people.number",
        "SELECT setval('people_number_seq', COALESCE((SELECT MAX(number) FROM people), 0) + 1, false)",
        "ALTER TABLE people ALTER COLUMN number SET NOT NULL",
        "ALTER TABLE audit_entries RENAME CONSTRAINT audit_entries_by_number_pkey TO audit_entries_pkey",
    ], only: .postgres)
}
