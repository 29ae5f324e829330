-- Calendar canaries (issue 17: calendars that accept stamps and never anchor them). Each
-- scheduler cycle may stamp a canary digest through every configured OpenTimestamps calendar
-- and follow it through upgrade and verification (workers/src/canary.rs). One row per canary:
-- `pending` until the calendar's answer carries a Bitcoin attestation; then `confirmed` (the
-- attestation verified against the header source), `unverified` (a Bitcoin attestation and
-- no header source to check it), or `superseded` (a newer canary of the same calendar
-- settled first: the calendar anchors again, it lost this one).
CREATE TABLE calendar_canaries (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    calendar     TEXT NOT NULL,
    digest       BLOB NOT NULL CHECK (length(digest) = 32),
    ots          BLOB NOT NULL,
    status       TEXT NOT NULL
                 CHECK (status IN ('pending', 'confirmed', 'unverified', 'superseded')),
    submitted_at BIGINT NOT NULL,
    checked_at   BIGINT,
    settled_at   BIGINT,
    detail       TEXT
);
CREATE INDEX calendar_canaries_by_calendar ON calendar_canaries (calendar, status, id);

-- The open `calendar-pending` incident of a calendar, at most one; the row goes when the
-- incident is resolved.
CREATE TABLE calendar_incidents (
    calendar    TEXT PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id)
);
