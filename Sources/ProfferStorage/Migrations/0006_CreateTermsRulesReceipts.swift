enum Migration0006CreateTermsRulesReceipts {
    static let migration = Migration(version: 6, name: "create terms, rules and consent receipts", statements: [
        "ALTER TABLE requests ADD COLUMN accepted_terms TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE requests ADD COLUMN declarations TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE requests ADD COLUMN decided_by TEXT",
        "ALTER TABLE requests ADD COLUMN decision_note TEXT",
        "ALTER TABLE grants ADD COLUMN expiry_recorded INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE organisations ADD COLUMN contact TEXT NOT NULL DEFAULT '{}'",
        """
        CREATE TABLE person_terms (
            person_id TEXT PRIMARY KEY REFERENCES people(id),
            terms TEXT NOT NULL,
            updated_at {BIGINT} NOT NULL)
        """,
        """
        CREATE TABLE decision_rules (
            id TEXT PRIMARY KEY,
            person_id TEXT NOT NULL REFERENCES people(id),
            body TEXT NOT NULL,
            created_at {BIGINT} NOT NULL)
        """,
        "CREATE INDEX decision_rules_by_person ON decision_rules (person_id, created_at)",
        """
        CREATE TABLE receipts (
            id TEXT PRIMARY KEY,
            person_id TEXT NOT NULL REFERENCES people(id),
            organisation_id TEXT NOT NULL REFERENCES organisations(id),
            request_id TEXT NOT NULL REFERENCES requests(id),
            grant_id TEXT,
            event TEXT NOT NULL,
            kid TEXT NOT NULL,
            jws TEXT NOT NULL,
            issued_at {BIGINT} NOT NULL)
        """,
        "CREATE INDEX receipts_by_person ON receipts (person_id, issued_at)",
        "CREATE INDEX receipts_by_organisation ON receipts (organisation_id, issued_at)",
        "CREATE INDEX receipts_by_request ON receipts (request_id)",
        "CREATE INDEX receipts_by_grant ON receipts (grant_id)",
        "CREATE INDEX grants_by_expiry ON grants (expiry_recorded, expires_at)",
    ])
}
