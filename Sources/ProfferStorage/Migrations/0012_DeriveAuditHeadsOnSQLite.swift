enum Migration0012DeriveAuditHeadsOnSQLite {
    // On SQLite a person's chain head is its newest entry, found through the entries' primary key
    // (`ProfferStore.auditHeads`): the one writer appends every entry, so nothing needs a head row to lock, and
    // rewriting one per appended entry cost every disclosure a second random page written to the WAL and copied
    // back by the checkpoint. PostgreSQL keeps `audit_heads`: its row lock is what makes concurrent writers append
    // to a chain one after the other.
    static let migration = Migration(version: 12, name: "derive audit chain heads from the entries on SQLite", statements: [
        "DROP TABLE audit_heads",
    ], only: .sqlite)
}
