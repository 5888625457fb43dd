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
        // The ledger's transfers and entries are rebuilt with what each charge pays for, and on SQLite clustered on
        // their (time-ordered) keys: one B-tree per table instead of a rowid table plus a key index, so the
        // hottest inserts — a batch of disclosure charges — append instead of writing scattered pages.
        """
        CREATE TABLE ledger_transfers_v8 (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            currency TEXT NOT NULL,
            reference TEXT,
            at {BIGINT} NOT NULL,
            grant_id TEXT,
            organisation_id TEXT,
            person_id TEXT,
            audit_seq {BIGINT},
            period_start {BIGINT},
            provider TEXT){WITHOUT_ROWID}
        """,
        "INSERT INTO ledger_transfers_v8 (id, kind, currency, reference, at) SELECT id, kind, currency, reference, at FROM ledger_transfers",
        """
        CREATE TABLE ledger_entries_v8 (
            transfer_id TEXT NOT NULL REFERENCES ledger_transfers_v8(id),
            account_id TEXT NOT NULL REFERENCES ledger_accounts(id),
            amount {BIGINT} NOT NULL,
            PRIMARY KEY (transfer_id, account_id)){WITHOUT_ROWID}
        """,
        "INSERT INTO ledger_entries_v8 (transfer_id, account_id, amount) SELECT transfer_id, account_id, amount FROM ledger_entries",
        "DROP TABLE ledger_entries",
        "DROP TABLE ledger_transfers",
        "ALTER TABLE ledger_transfers_v8 RENAME TO ledger_transfers",
        "ALTER TABLE ledger_entries_v8 RENAME TO ledger_entries",
        "CREATE INDEX ledger_entries_by_account ON ledger_entries (account_id)",
        // Each period of a grant is paid at most once. (That each disclosure is paid exactly once is checked by
        // `proffer ledger check`: an index keyed by person would cost every priced disclosure a random page write.)
        "CREATE UNIQUE INDEX ledger_transfers_by_period ON ledger_transfers (grant_id, period_start) WHERE period_start IS NOT NULL",
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
