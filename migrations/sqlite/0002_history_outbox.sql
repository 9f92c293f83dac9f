-- Write-back: the audit history of changes (Graph's alertHistoryState) and the outbox that
-- delivers each change to every provider holding a copy of the alert.
--
-- One change = one alert_history row + one outbox row per target provider, written in one
-- transaction. Timestamps are INTEGER microseconds since the Unix epoch (UTC).

CREATE TABLE alert_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT    NOT NULL,
    unified_id  TEXT    NOT NULL,
    -- the caller's request id, when given: a retried PATCH is not recorded twice
    request_id  TEXT,
    -- alertHistoryState as JSON (user, appId, updatedDateTime and the change)
    entry       TEXT    NOT NULL CHECK (json_valid(entry)),
    recorded_at INTEGER NOT NULL,
    CONSTRAINT alert_history_tenant_id_key UNIQUE (tenant_id, id),
    CONSTRAINT alert_history_request_key UNIQUE (tenant_id, request_id)
);

CREATE INDEX alert_history_alert_idx ON alert_history (tenant_id, unified_id, id);

CREATE TABLE outbox (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id         TEXT    NOT NULL,
    history_id        INTEGER NOT NULL,
    unified_id        TEXT    NOT NULL,
    provider          TEXT    NOT NULL,
    provider_alert_id TEXT    NOT NULL,
    -- the change to send to this provider, as JSON
    payload           TEXT    NOT NULL CHECK (json_valid(payload)),
    state             TEXT    NOT NULL DEFAULT 'pending'
                              CHECK (state IN ('pending', 'delivered', 'dead')),
    -- claims so far (a claim counts as an attempt even if the worker then crashes)
    attempts          INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    -- start of the current delivery effort (created_at, or the last re-drive): the
    -- dead-letter age is measured from here
    age_from          INTEGER NOT NULL,
    -- when the row may next be claimed. A claim moves it to the end of the lease, so a
    -- worker that dies mid-delivery releases the row without any cleanup.
    next_attempt_at   INTEGER NOT NULL,
    -- the token of the current claim; only its holder may settle the row
    lease_token       TEXT,
    last_error        TEXT,
    updated_at        INTEGER NOT NULL,
    CONSTRAINT outbox_target_key UNIQUE (tenant_id, history_id, provider),
    CONSTRAINT outbox_history_fkey FOREIGN KEY (tenant_id, history_id)
        REFERENCES alert_history (tenant_id, id)
);

CREATE INDEX outbox_due_idx ON outbox (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX outbox_tenant_state_idx ON outbox (tenant_id, state, id);
