enum Migration0016FindClosedAccounts {
    // Every server instance forgets the unwrapped data key of a person whose account was closed — by another instance
    // on the same PostgreSQL, or by the operator's `proffer person erase` on the same file — by asking now and then
    // which accounts closed lately. Partial: only tombstones are in it, so it stays as small as the closures.
    static let migration = Migration(version: 16, name: "index closed accounts by when they closed", statements: [
        "CREATE INDEX people_by_closure ON people (erased_at) WHERE erased_at IS NOT NULL",
    ])
}
