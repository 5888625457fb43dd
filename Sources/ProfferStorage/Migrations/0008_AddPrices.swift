enum Migration0008AddPrices {
    static let migration = Migration(version: 8, name: "add prices, offers, priced grants and charge links", statements: [
        """
        CREATE TABLE person_prices (
            person_id TEXT PRIMARY KEY REFERENCES people(id),
            prices TEXT NOT NULL,
            updated_at {BIGINT} NOT NULL)
        """,
        "ALTER TABLE requests ADD COLUMN offer TEXT NOT NULL DEFAULT '{\"kind\":\"none\"}'",
        "ALTER TABLE grants ADD COLUMN offer TEXT NOT NULL DEFAULT '{\"kind\":\"none\"}'",
        // The basis of a cash price, kept apart from the JSON offer so SQL can find priced grants.
        "ALTER TABLE grants ADD COLUMN price_basis TEXT",
        "ALTER TABLE grants ADD COLUMN paid_until {BIGINT}",
        "ALTER TABLE grants ADD COLUMN suspended_at {BIGINT}",
        "CREATE INDEX grants_by_period ON grants (price_basis, paid_until)",
        "ALTER TABLE ledger_transfers ADD COLUMN grant_id TEXT",
        "ALTER TABLE ledger_transfers ADD COLUMN organisation_id TEXT",
        "ALTER TABLE ledger_transfers ADD COLUMN person_id TEXT",
        "ALTER TABLE ledger_transfers ADD COLUMN audit_seq {BIGINT}",
        "ALTER TABLE ledger_transfers ADD COLUMN period_start {BIGINT}",
        "ALTER TABLE ledger_transfers ADD COLUMN provider TEXT",
        // A disclosure is paid at most once, and so is each period of a grant.
        "CREATE UNIQUE INDEX ledger_transfers_by_disclosure ON ledger_transfers (person_id, audit_seq) WHERE audit_seq IS NOT NULL",
        "CREATE UNIQUE INDEX ledger_transfers_by_period ON ledger_transfers (grant_id, period_start) WHERE period_start IS NOT NULL",
        "CREATE INDEX ledger_transfers_by_organisation ON ledger_transfers (organisation_id, at)",
        "CREATE INDEX ledger_transfers_by_person ON ledger_transfers (person_id, at)",
        // A priced read retried under its Idempotency-Key is disclosed again but not charged again.
        """
        CREATE TABLE disclosure_retries (
            person_id TEXT NOT NULL,
            seq {BIGINT} NOT NULL,
            original_seq {BIGINT} NOT NULL,
            PRIMARY KEY (person_id, seq))
        """,
    ])
}
