-- The alert index: which provider copies make up one unified alert, per tenant.
--
-- The tenant is the first column of every key: no lookup can cross tenants by accident.
CREATE TABLE alert_index (
    tenant_id         text        NOT NULL,
    provider          text        NOT NULL,
    provider_alert_id text        NOT NULL,
    unified_id        text        NOT NULL,
    fingerprint       text,
    first_seen        timestamptz NOT NULL,
    last_seen         timestamptz NOT NULL,
    CONSTRAINT alert_index_pkey PRIMARY KEY (tenant_id, provider, provider_alert_id)
);

-- resolve by unified id, and sources_of
CREATE INDEX alert_index_unified_idx ON alert_index (tenant_id, unified_id);
-- resolve by a provider's own id when the caller does not say which provider
CREATE INDEX alert_index_provider_alert_id_idx ON alert_index (tenant_id, provider_alert_id);
