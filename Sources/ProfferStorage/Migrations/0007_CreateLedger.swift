enum Migration0007CreateLedger {
    static let migration = Migration(version: 7, name: "create the double-entry ledger and idempotency keys", statements: [
        """
        CREATE TABLE ledger_accounts (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            currency TEXT NOT NULL,
            balance {BIGINT} NOT NULL,
            minimum {BIGINT})
        """,
        """
        CREATE TABLE ledger_transfers (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            currency TEXT NOT NULL,
            reference TEXT,
            at {BIGINT} NOT NULL)
        """,
        """
        CREATE TABLE ledger_entries (
            transfer_id TEXT NOT NULL REFERENCES ledger_transfers(id),
            account_id TEXT NOT NULL REFERENCES ledger_accounts(id),
            amount {BIGINT} NOT NULL,
            PRIMARY KEY (transfer_id, account_id))
        """,
        "CREATE INDEX ledger_entries_by_account ON ledger_entries (account_id)",
        """
        CREATE TABLE idempotency_keys (
            scope TEXT NOT NULL,
            key TEXT NOT NULL,
            request_digest {BLOB} NOT NULL,
            response TEXT NOT NULL,
            created_at {BIGINT} NOT NULL,
            PRIMARY KEY (scope, key))
        """,
    ])
}
