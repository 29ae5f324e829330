-- Ledger Anchors system of record, Postgres flavour. Kept column-for-column identical to
-- ../sqlite/0001_init.sql; instants are BIGINT Unix milliseconds (UTC) on both backends,
-- days are days since 1970-01-01, money is integer micro-USD.

CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;

CREATE TABLE tenants (
    id                     TEXT PRIMARY KEY,
    plan                   TEXT NOT NULL CHECK (plan IN ('starter', 'pro', 'enterprise')),
    consent                TEXT NOT NULL DEFAULT 'opted_out' CHECK (consent IN ('opted_in', 'opted_out')),
    visibility             TEXT NOT NULL DEFAULT 'private' CHECK (visibility IN ('public', 'private')),
    token_hash             BYTEA NOT NULL CHECK (octet_length(token_hash) = 32),
    max_roots_per_period   BIGINT NOT NULL CHECK (max_roots_per_period >= 0),
    cost_ceiling_micro_usd BIGINT NOT NULL CHECK (cost_ceiling_micro_usd >= 0),
    status                 TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'disabled')),
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL
);

CREATE TABLE consent_log (
    id         BIGSERIAL PRIMARY KEY,
    tenant     TEXT NOT NULL REFERENCES tenants (id),
    action     TEXT NOT NULL CHECK (action IN ('opt_in', 'opt_out')),
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
    signer     TEXT NOT NULL,
    reason     TEXT NOT NULL,
    at         BIGINT NOT NULL
);
CREATE INDEX consent_log_tenant ON consent_log (tenant, id);
CREATE TRIGGER consent_log_append_only BEFORE UPDATE OR DELETE ON consent_log
FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

-- One row per (tenant, UTC day, digest): the day is the finest cadence, so every period is a
-- union of days and a tree reads DISTINCT digests over its days.
CREATE TABLE manifests (
    tenant      TEXT NOT NULL,
    day         BIGINT NOT NULL,
    digest      BYTEA NOT NULL CHECK (octet_length(digest) = 32),
    received_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, day, digest)
);

CREATE TABLE runs (
    id                       TEXT PRIMARY KEY,
    tenant                   TEXT NOT NULL REFERENCES tenants (id),
    cadence                  TEXT NOT NULL CHECK (cadence IN ('daily', 'weekly', 'monthly')),
    period                   TEXT NOT NULL,
    run_trigger                TEXT NOT NULL,
    status                   TEXT NOT NULL,
    root                     BYTEA CHECK (root IS NULL OR octet_length(root) = 32),
    tree_size                BIGINT,
    estimated_cost_micro_usd BIGINT NOT NULL DEFAULT 0,
    errors                   TEXT NOT NULL DEFAULT '[]',
    attempt                  BIGINT NOT NULL DEFAULT 0,
    created_at               BIGINT NOT NULL,
    started_at               BIGINT,
    finished_at              BIGINT,
    UNIQUE (tenant, cadence, period)
);
CREATE INDEX runs_status ON runs (status, tenant);

CREATE TABLE anchors (
    run_id          TEXT NOT NULL REFERENCES runs (id),
    kind            TEXT NOT NULL CHECK (kind IN ('ots', 'tsa')),
    status          TEXT NOT NULL,
    details         TEXT NOT NULL DEFAULT '{}',
    artifact_key    TEXT,
    artifact_sha256 BYTEA CHECK (artifact_sha256 IS NULL OR octet_length(artifact_sha256) = 32),
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (run_id, kind)
);

-- The hash-chained run-summary ledger: exact bytes per (tenant, seq). The primary key is the
-- last line of defence against a fork; the append path also serialises writers per tenant.
CREATE TABLE run_summaries (
    tenant    TEXT NOT NULL REFERENCES tenants (id),
    seq       BIGINT NOT NULL CHECK (seq >= 1),
    bytes     BYTEA NOT NULL,
    hash      BYTEA NOT NULL CHECK (octet_length(hash) = 32),
    prev      TEXT NOT NULL,
    ts        BIGINT NOT NULL,
    signature TEXT NOT NULL,
    key_id    TEXT NOT NULL,
    run_id    TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
);
CREATE TRIGGER run_summaries_append_only BEFORE UPDATE OR DELETE ON run_summaries
FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

CREATE TABLE backfills (
    id                     TEXT PRIMARY KEY,
    tenant                 TEXT NOT NULL REFERENCES tenants (id),
    from_day               BIGINT NOT NULL,
    to_day                 BIGINT NOT NULL,
    manifests_per_hour     BIGINT NOT NULL CHECK (manifests_per_hour > 0),
    cost_ceiling_micro_usd BIGINT NOT NULL CHECK (cost_ceiling_micro_usd >= 0),
    status                 TEXT NOT NULL,
    periods_total          BIGINT NOT NULL DEFAULT 0,
    periods_done           BIGINT NOT NULL DEFAULT 0,
    manifests_done         BIGINT NOT NULL DEFAULT 0,
    cost_spent_micro_usd   BIGINT NOT NULL DEFAULT 0,
    reason                 TEXT,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL
);

-- scope is 'global' or 'tenant:{id}'.
CREATE TABLE kill_switch (
    scope      TEXT PRIMARY KEY,
    mode       TEXT NOT NULL CHECK (mode IN ('normal', 'tsa-only', 'paused')),
    reason     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE kill_switch_history (
    id     BIGSERIAL PRIMARY KEY,
    scope  TEXT NOT NULL,
    mode   TEXT NOT NULL CHECK (mode IN ('normal', 'tsa-only', 'paused')),
    reason TEXT NOT NULL,
    actor  TEXT NOT NULL,
    at     BIGINT NOT NULL
);
CREATE TRIGGER kill_switch_history_append_only BEFORE UPDATE OR DELETE ON kill_switch_history
FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

CREATE TABLE incidents (
    id          BIGSERIAL PRIMARY KEY,
    tenant      TEXT,
    run_id      TEXT,
    kind        TEXT NOT NULL,
    detail      TEXT NOT NULL,
    opened_at   BIGINT NOT NULL,
    resolved_at BIGINT,
    resolution  TEXT
);
CREATE INDEX incidents_open ON incidents (resolved_at, id);

CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY,
    jwk        TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

CREATE TABLE kv (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    expires_at BIGINT
);
