-- Notifications (issue 22): tenants' anchor state changes as events, and webhooks that
-- receive them. An event is written in the same transaction as the state change it reports
-- (a transactional outbox: a crash never loses one nor invents one), once per (tenant, kind,
-- subject): a repeated state change does not repeat its event. Events carry public facts only
-- (ids, statuses, roots), never an incident's detail or a kill switch's reason.
CREATE TABLE events (
    id      BIGSERIAL PRIMARY KEY,
    tenant  TEXT NOT NULL REFERENCES tenants (id),
    kind    TEXT NOT NULL,
    subject TEXT NOT NULL,
    payload TEXT NOT NULL,
    at      BIGINT NOT NULL,
    UNIQUE (tenant, kind, subject)
);
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

-- A tenant's webhook: where its events go, signed with HMAC-SHA256 under `secret` (shown
-- once, at registration). It receives the events after `since_event` (the newest event
-- when it was registered). Deleting keeps the row (`deleted_at`) so deliveries keep their
-- history.
CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL REFERENCES tenants (id),
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    since_event BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    deleted_at  BIGINT
);
CREATE INDEX webhooks_by_tenant ON webhooks (tenant);

-- Delivery of one event to one webhook: no row while pending; `ok` once the receiver
-- answered 2xx; `failed` with the next attempt's time (exponential backoff).
CREATE TABLE webhook_deliveries (
    webhook_id TEXT NOT NULL REFERENCES webhooks (id),
    event_id   BIGINT NOT NULL REFERENCES events (id),
    status     TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    attempts   BIGINT NOT NULL,
    next_at    BIGINT,
    last_error TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (webhook_id, event_id)
);
