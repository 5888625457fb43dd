enum Migration0017IndexOnlyWalletLegs {
    // The ledger's legs are indexed by account only for the accounts someone looks up that way: organisations' wallets
    // (their statements). The operator's fee account took a leg from every priced disclosure into the same index, for
    // no reader — `proffer ledger check` sums every account's legs in one scan instead. Each leg written into the
    // middle of an index costs more than its bytes: SQLite splits such a page by rebalancing it with its neighbours,
    // and the fee account's one busy spot alone made ~0.3 of the ~1.0 index pages each priced disclosure wrote to the
    // WAL (`Benchmarks/sqlite-batch-replay.py … priced-walletidx-frames`, BENCHMARKS.md).
    static let migration = Migration(version: 17, name: "index only wallet legs by account", statements: [
        "DROP INDEX ledger_entries_by_account",
        "CREATE INDEX ledger_entries_by_wallet ON ledger_entries (account_id) WHERE substr(account_id, 1, 7) = 'wallet:'",
    ])
}
