-- The alert index: which provider copies make up one unified alert, per tenant.
--
-- Timestamps are INTEGER microseconds since the Unix epoch (UTC): the same precision as
-- PostgreSQL's timestamptz, and plain integer comparison and arithmetic in SQL.
-- The tenant is the first column of every key: no lookup can cross tenants by accident.
CREATE TABLE alert_index (
    tenant_id         TEXT    NOT NULL,
    provider          TEXT    NOT NULL,
    provider_alert_id TEXT    NOT NULL,
    unified_id        TEXT    NOT NULL,
    fingerprint       TEXT,
    first_seen        INTEGER NOT NULL,
    last_seen         INTEGER NOT NULL,
    CONSTRAINT alert_index_pkey PRIMARY KEY (tenant_id, provider, provider_alert_id)
) WITHOUT ROWID;

-- resolve by unified id, and sources_of
CREATE INDEX alert_index_unified_idx ON alert_index (tenant_id, unified_id);
-- resolve by a provider's own id when the caller does not say which provider
CREATE INDEX alert_index_provider_alert_id_idx ON alert_index (tenant_id, provider_alert_id);
