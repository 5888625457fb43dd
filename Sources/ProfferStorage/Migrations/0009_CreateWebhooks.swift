enum Migration0009CreateWebhooks {
    static let migration = Migration(version: 9, name: "create webhook endpoints, the event outbox and deliveries", statements: [
        // Whether a grant lets its organisation be sent new values of its keys (otherwise only the fact of a change).
        "ALTER TABLE requests ADD COLUMN push_values INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE grants ADD COLUMN push_values INTEGER NOT NULL DEFAULT 0",
        // An organisation's receiver. The signing secret is sealed with the master key; it is shown once, at creation.
        """
        CREATE TABLE webhook_endpoints (
            id TEXT PRIMARY KEY,
            organisation_id TEXT NOT NULL REFERENCES organisations(id),
            url TEXT NOT NULL,
            description TEXT NOT NULL,
            sealed_secret {BLOB} NOT NULL,
            created_at {BIGINT} NOT NULL,
            disabled_at {BIGINT})
        """,
        "CREATE INDEX webhook_endpoints_by_organisation ON webhook_endpoints (organisation_id)",
        """
        CREATE TABLE webhook_subscriptions (
            endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id),
            event_type TEXT NOT NULL,
            PRIMARY KEY (endpoint_id, event_type))
        """,
        // The outbox: written in the transaction of the change that caused it. `payload` never holds a record's
        // value; a value pushed to the organisation is disclosed (audited, charged) on the first delivery attempt
        // and pinned by `value_version`, so every retry sends the same body.
        """
        CREATE TABLE webhook_events (
            id TEXT PRIMARY KEY,
            organisation_id TEXT NOT NULL,
            type TEXT NOT NULL,
            person_id TEXT,
            grant_id TEXT,
            record_key TEXT,
            payload TEXT NOT NULL,
            created_at {BIGINT} NOT NULL,
            value_state TEXT NOT NULL,
            value_version {BIGINT},
            value_note TEXT,
            -- a worker disclosing the value holds it until then, so two endpoints' attempts disclose it once
            value_claimed_until {BIGINT})
        """,
        // One delivery per event and subscribed endpoint. `next_attempt_at` is also the lease: a worker claiming an
        // attempt pushes it past the attempt's timeout, so no other worker sends it at the same time.
        """
        CREATE TABLE webhook_deliveries (
            event_id TEXT NOT NULL REFERENCES webhook_events(id),
            endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id),
            organisation_id TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            -- attempts made before the last replay: the retry schedule counts from there
            schedule_base INTEGER NOT NULL,
            next_attempt_at {BIGINT},
            last_attempt_at {BIGINT},
            last_status INTEGER,
            last_error TEXT,
            delivered_at {BIGINT},
            created_at {BIGINT} NOT NULL,
            PRIMARY KEY (event_id, endpoint_id))
        """,
        "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at)",
        "CREATE INDEX webhook_deliveries_by_organisation ON webhook_deliveries (organisation_id, created_at)",
        """
        CREATE TABLE webhook_attempts (
            event_id TEXT NOT NULL,
            endpoint_id TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            started_at {BIGINT} NOT NULL,
            duration_ms {BIGINT} NOT NULL,
            status INTEGER,
            error TEXT,
            PRIMARY KEY (event_id, endpoint_id, attempt))
        """,
    ])
}
