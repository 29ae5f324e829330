-- The per-tenant receipt log (issue 19): one row per receipt version a tenant was shown, in
-- the order they were published. Row `idx` is leaf `idx` of the tenant's RFC 9162 log tree
-- (domain::receipt_log); the tiles and signed checkpoints in the blob store are derived from
-- these rows, so a crash between a receipt and its log entry is repaired by the next append.
-- Append-only: a log entry, once there, is never changed or removed.
CREATE TABLE receipt_log (
    tenant    TEXT NOT NULL REFERENCES tenants (id),
    idx       BIGINT NOT NULL CHECK (idx >= 0),
    period    TEXT NOT NULL,
    version   BIGINT NOT NULL CHECK (version >= 1),
    entry     BLOB NOT NULL,
    logged_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, idx),
    UNIQUE (tenant, period, version)
);
CREATE TRIGGER receipt_log_no_update BEFORE UPDATE ON receipt_log
BEGIN SELECT RAISE(ABORT, 'receipt_log is append-only'); END;
CREATE TRIGGER receipt_log_no_delete BEFORE DELETE ON receipt_log
BEGIN SELECT RAISE(ABORT, 'receipt_log is append-only'); END;
