enum Migration0011LinkChargesFromAudit {
    // A person's earnings are found through their audit log instead of an index of ledger entries by account.
    // Every credit to an earnings account is a charge (per disclosure or per month) written in the same
    // transaction as an entry of the person's audit log, and that log is already clustered by person; an index of
    // earnings legs by account cost every priced disclosure a write to a random page (a quarter of its SQLite
    // time). Now the audit entry names its charge, the charge names its audit entry, and the index of entries by
    // account keeps only the accounts few transfers share (wallets, fees, outside money).
    static let migration = Migration(version: 11, name: "link charges from the audit log; stop indexing earnings legs by account", statements: [
        "ALTER TABLE audit_entries ADD COLUMN transfer_id TEXT",
        // Version 10 wrote a period charge without its audit entry's sequence: the entry was appended in the same
        // transaction, for the same grant, at the same instant.
        "CREATE INDEX ledger_transfers_by_audit_entry ON ledger_transfers (person_id, audit_seq)",
        """
        UPDATE ledger_transfers SET audit_seq = (
            SELECT MIN(a.seq) FROM audit_entries a
            WHERE a.person_id = ledger_transfers.person_id AND a.kind = 'grant.period-charged'
              AND a.grant_id = ledger_transfers.grant_id AND a.at = ledger_transfers.at)
        WHERE kind = 'period-charge' AND audit_seq IS NULL
        """,
        """
        UPDATE audit_entries SET transfer_id = (
            SELECT MIN(t.id) FROM ledger_transfers t WHERE t.person_id = audit_entries.person_id AND t.audit_seq = audit_entries.seq)
        WHERE kind IN ('disclosure', 'grant.period-charged')
        """,
        "DROP INDEX ledger_transfers_by_audit_entry",
        "DROP INDEX ledger_entries_by_account",
        "CREATE INDEX ledger_entries_by_account ON ledger_entries (account_id) WHERE substr(account_id, 1, 9) <> 'earnings:'",
    ])
}
