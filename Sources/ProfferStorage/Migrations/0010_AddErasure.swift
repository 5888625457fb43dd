enum Migration0010AddErasure {
    // Closing an account turns the person's row into a tombstone in place rather than deleting it: requests,
    // grants, receipts, audit entries and ledger transfers still name the person's id, and the handle stays
    // taken so nobody can step into a name organisations know. The NOT NULL columns that held personal data
    // (email, password hash, wrapped data key) are overwritten with values that hold none — a rebuild of
    // `people` on SQLite would have to drop a table eleven others reference — so only `erased_at` is new.
    static let migration = Migration(version: 10, name: "add account erasure tombstones", statements: [
        "ALTER TABLE people ADD COLUMN erased_at {BIGINT}",
    ])
}
