-- A deferred run (root limit, kill switch `paused`) records when it may next run; the
-- scheduler's reaper leaves it alone until then (issue 26: deferred runs multiplied their jobs).
ALTER TABLE runs ADD COLUMN not_before BIGINT;

-- The fleet this database belongs to: one row, a random id made when the schema is created.
-- Every role reads it at start and names its job queue after it, so a process pointed at
-- another fleet's database cannot take (and drop) this fleet's jobs.
CREATE TABLE fleet (
    singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
    id         TEXT NOT NULL CHECK (length(id) = 32),
    created_at BIGINT NOT NULL
);
INSERT INTO fleet (singleton, id, created_at)
VALUES (1, replace(gen_random_uuid()::text, '-', ''), (extract(epoch FROM now()) * 1000)::bigint);
