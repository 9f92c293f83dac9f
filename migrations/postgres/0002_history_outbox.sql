-- Write-back: the audit history of changes (Graph's alertHistoryState) and the outbox that
-- delivers each change to every provider holding a copy of the alert.
--
-- One change = one alert_history row + one outbox row per target provider, written in one
-- transaction. Several replicas claim outbox rows with FOR UPDATE SKIP LOCKED.

CREATE TABLE alert_history (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   text        NOT NULL,
    unified_id  text        NOT NULL,
    -- the caller's request id, when given: a retried PATCH is not recorded twice
    request_id  text,
    -- alertHistoryState (user, appId, updatedDateTime and the change)
    entry       jsonb       NOT NULL,
    recorded_at timestamptz NOT NULL,
    CONSTRAINT alert_history_tenant_id_key UNIQUE (tenant_id, id),
    CONSTRAINT alert_history_request_key UNIQUE (tenant_id, request_id)
);

CREATE INDEX alert_history_alert_idx ON alert_history (tenant_id, unified_id, id);

CREATE TABLE outbox (
    id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id         text        NOT NULL,
    history_id        bigint      NOT NULL,
    unified_id        text        NOT NULL,
    provider          text        NOT NULL,
    provider_alert_id text        NOT NULL,
    -- the change to send to this provider
    payload           jsonb       NOT NULL,
    state             text        NOT NULL DEFAULT 'pending'
                                  CHECK (state IN ('pending', 'delivered', 'dead')),
    -- claims so far (a claim counts as an attempt even if the worker then crashes)
    attempts          integer     NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL,
    -- start of the current delivery effort (created_at, or the last re-drive): the
    -- dead-letter age is measured from here
    age_from          timestamptz NOT NULL,
    -- when the row may next be claimed. A claim moves it to the end of the lease, so a
    -- worker that dies mid-delivery releases the row without any cleanup.
    next_attempt_at   timestamptz NOT NULL,
    -- the token of the current claim; only its holder may settle the row
    lease_token       uuid,
    last_error        text,
    updated_at        timestamptz NOT NULL,
    CONSTRAINT outbox_target_key UNIQUE (tenant_id, history_id, provider),
    CONSTRAINT outbox_history_fkey FOREIGN KEY (tenant_id, history_id)
        REFERENCES alert_history (tenant_id, id)
);

CREATE INDEX outbox_due_idx ON outbox (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX outbox_tenant_state_idx ON outbox (tenant_id, state, id);
