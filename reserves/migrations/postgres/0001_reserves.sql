-- Reserve attestations (seeds 000, 001), Postgres flavour. Column-for-column identical to
-- ../sqlite/0001_reserves.sql; instants are BIGINT Unix milliseconds (UTC), amounts are
-- decimal integer strings, booleans are 0/1.

CREATE FUNCTION reserves_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;

CREATE TABLE reserve_assets (
    id                TEXT PRIMARY KEY,
    asset_type        TEXT NOT NULL,
    provider          TEXT NOT NULL,
    name              TEXT NOT NULL,
    unit              TEXT NOT NULL,
    eligible          BIGINT NOT NULL DEFAULT 0 CHECK (eligible IN (0, 1)),
    haircut_bps       BIGINT NOT NULL DEFAULT 10000 CHECK (haircut_bps BETWEEN 0 AND 10000),
    max_age_seconds   BIGINT NOT NULL DEFAULT 86400 CHECK (max_age_seconds > 0),
    provider_metadata TEXT NOT NULL DEFAULT '{}',
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    deleted_at        BIGINT
);
CREATE INDEX reserve_assets_provider ON reserve_assets (provider);
CREATE INDEX reserve_assets_type ON reserve_assets (asset_type);

-- Every policy state an asset has had (create, each change of eligibility, haircut or window,
-- delete): append-only.
CREATE TABLE reserve_asset_policy_history (
    id              BIGSERIAL PRIMARY KEY,
    asset_id        TEXT NOT NULL REFERENCES reserve_assets (id),
    change          TEXT NOT NULL CHECK (change IN ('create', 'update', 'delete')),
    eligible        BIGINT NOT NULL CHECK (eligible IN (0, 1)),
    haircut_bps     BIGINT NOT NULL CHECK (haircut_bps BETWEEN 0 AND 10000),
    max_age_seconds BIGINT NOT NULL CHECK (max_age_seconds > 0),
    at              BIGINT NOT NULL
);
CREATE INDEX reserve_asset_policy_history_asset ON reserve_asset_policy_history (asset_id, id);
CREATE TRIGGER reserve_asset_policy_history_append_only BEFORE UPDATE OR DELETE ON reserve_asset_policy_history
FOR EACH ROW EXECUTE FUNCTION reserves_append_only();

CREATE TABLE reserve_asset_snapshots (
    id          TEXT PRIMARY KEY,
    asset_id    TEXT NOT NULL REFERENCES reserve_assets (id),
    observed_at BIGINT NOT NULL,
    fetched_at  BIGINT NOT NULL,
    raw_amount  TEXT NOT NULL,
    source      TEXT NOT NULL,
    source_ref  TEXT,
    metadata    TEXT NOT NULL DEFAULT '{}',
    CHECK (observed_at <= fetched_at)
);
CREATE INDEX reserve_asset_snapshots_latest ON reserve_asset_snapshots (asset_id, observed_at DESC, id DESC);
CREATE TRIGGER reserve_asset_snapshots_append_only BEFORE UPDATE OR DELETE ON reserve_asset_snapshots
FOR EACH ROW EXECUTE FUNCTION reserves_append_only();

-- What was signed and served, byte for byte; only the publication state changes.
-- status: 0 pending, 1 ok (delivered), 2 failed (to be retried) — seed 001's broadcast_status.
CREATE TABLE reserve_attestations (
    id                 TEXT PRIMARY KEY,
    period_start       BIGINT NOT NULL,
    period_end         BIGINT NOT NULL,
    issued_at          BIGINT NOT NULL,
    coverage_ratio_bps TEXT NOT NULL,
    fully_backed       BIGINT NOT NULL CHECK (fully_backed IN (0, 1)),
    balance_digest     TEXT NOT NULL,
    payload_canonical  BYTEA NOT NULL,
    payload_hash       TEXT NOT NULL,
    signature          TEXT NOT NULL,
    signature_alg      TEXT NOT NULL,
    key_id             TEXT NOT NULL,
    served_json        TEXT NOT NULL,
    status             BIGINT NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2)),
    attempts           BIGINT NOT NULL DEFAULT 0,
    next_attempt_at    BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    CHECK (period_end > period_start),
    CHECK (issued_at >= period_start)
);
CREATE INDEX reserve_attestations_period_end ON reserve_attestations (period_end DESC);
CREATE INDEX reserve_attestations_payload_hash ON reserve_attestations (payload_hash);
CREATE INDEX reserve_attestations_due ON reserve_attestations (status, next_attempt_at);
CREATE FUNCTION reserve_attestations_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'reserve_attestations is append-only';
    END IF;
    IF (NEW.id, NEW.period_start, NEW.period_end, NEW.issued_at, NEW.coverage_ratio_bps,
        NEW.fully_backed, NEW.balance_digest, NEW.payload_canonical, NEW.payload_hash,
        NEW.signature, NEW.signature_alg, NEW.key_id, NEW.served_json)
       IS DISTINCT FROM
       (OLD.id, OLD.period_start, OLD.period_end, OLD.issued_at, OLD.coverage_ratio_bps,
        OLD.fully_backed, OLD.balance_digest, OLD.payload_canonical, OLD.payload_hash,
        OLD.signature, OLD.signature_alg, OLD.key_id, OLD.served_json) THEN
        RAISE EXCEPTION 'reserve_attestations: what was signed never changes';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER reserve_attestations_signed_bytes_fixed BEFORE UPDATE OR DELETE ON reserve_attestations
FOR EACH ROW EXECUTE FUNCTION reserve_attestations_fixed();

-- The outbox: one row per (attestation, webhook), status 'pending' | 'ok' | 'failed'.
CREATE TABLE reserve_deliveries (
    attestation_id TEXT NOT NULL REFERENCES reserve_attestations (id),
    webhook        TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ok', 'failed')),
    attempts       BIGINT NOT NULL DEFAULT 0,
    last_error     TEXT,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (attestation_id, webhook)
);
