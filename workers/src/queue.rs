//! The job queue: apalis on SQLite (embedded, its own file) or on Redis (the fleet).
//!
//! Decisions (see DEPENDENCIES.md's apalis pitfalls):
//! - one queue, named [`QUEUE`], carrying every [`Job`] kind; the handler dispatches. One
//!   worker pool then serves every kind with one concurrency limit, which is what an operator
//!   sizes.
//! - every backend polls on an interval ([`Queue::poll`]) so an idle worker picks up a new job
//!   within that interval instead of waiting for a 30 s heartbeat.
//! - the SQLite queue lives in its own file (`Config::queue_path()`): apalis sets
//!   `synchronous=OFF` on it, which must never touch the system of record. Losing a queued job
//!   to a power cut is harmless, because the scheduler's tick re-enqueues every run the
//!   system of record still shows as queued or stalled (see `tick`).
//! - retries are ours, not apalis's: a transient failure re-enqueues the job with a delay
//!   (see `handler`), so backoff survives a worker restart.
//! - **a job is in the queue at most once** (issue 26: deferred runs once multiplied their
//!   own jobs without bound). Each job has a stable key per run and purpose ([`Job::key`]),
//!   used as apalis's idempotency key: a push while the key is held is a no-op. The
//!   delivery that holds the key releases it when it finishes ([`Queue::release`], a
//!   compare-and-delete on its own task id, so a stale duplicate never frees another's key)
//!   and only then pushes its follow-up (the same job later: deferred, retried, still
//!   pending). Nothing else ever pushes a job that is already queued, and any duplicate left
//!   from older builds collapses at its next delivery.
//! - **bounded retention**: apalis keeps every finished job (data, metadata, result, and the
//!   done/dead sets in Redis; rows in SQLite) for ever. [`Queue::trim`] deletes finished jobs
//!   older than [`RETAIN_DONE`] and dead ones older than [`RETAIN_DEAD`], at most
//!   [`TRIM_BATCH`] per call; the scheduler's tick calls it.
//! - **one fleet per queue name**: the queue is named `ledger-anchors-jobs:{fleet id}` (the id
//!   the fleet's database was created with, `fleet` table), so a process pointed at another
//!   fleet's database listens on another queue and cannot take this fleet's jobs.
//! - **dead letters**: a job that cannot be done here (its run does not exist in this
//!   database) is never acknowledged as done: it is recorded with the reason in the queue's
//!   dead-letter set ([`Queue::dead_letter`], `queue_dead_letters_total`), which `anchor queue
//!   status` lists.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use apalis_redis::RedisStorage;
use apalis_sqlite::SqliteStorage;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use crate::error::{Result, WorkerError};
use crate::job::Job;

/// The queue's base name; the queue is named `{QUEUE}:{fleet id}` ([`Queue::name`]).
pub const QUEUE: &str = "ledger-anchors-jobs";

/// Finished jobs are kept this long (for `anchor queue status` and debugging), then trimmed.
pub const RETAIN_DONE: Duration = Duration::from_hours(1);
/// Dead jobs (killed, or out of attempts) and dead letters are kept this long.
pub const RETAIN_DEAD: Duration = Duration::from_hours(24 * 7);
/// At most this many finished jobs are examined per [`Queue::trim`] call and state.
pub const TRIM_BATCH: usize = 2_000;
/// At most this many dead letters are kept; past it new ones are logged and counted only.
pub const MAX_DEAD_LETTERS: usize = 10_000;

/// How long a Redis idempotency key (a queued job's key) lives at most.
pub const IDEMPOTENCY_TTL: Duration = RETAIN_DEAD;

/// Where the queue lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueTarget {
    /// A SQLite file of its own.
    Sqlite(std::path::PathBuf),
    /// A Redis URL.
    Redis(String),
}

/// A handle to push jobs; cheap to clone. Each variant keeps a connection of its own for
/// [`Queue::ping`], [`Queue::release`], [`Queue::trim`] and [`Queue::stats`].
#[derive(Clone)]
pub enum Queue {
    Sqlite(SqliteStorage<Job>, sqlx::SqlitePool, Arc<str>),
    Redis(RedisStorage<Job>, apalis_redis::ConnectionManager, Arc<str>),
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Queue::Sqlite(.., name) => write!(f, "Queue::Sqlite({name})"),
            Queue::Redis(.., name) => write!(f, "Queue::Redis({name})"),
        }
    }
}

pub(crate) fn queue_err(e: impl std::fmt::Display) -> WorkerError {
    WorkerError::Queue(e.to_string())
}

/// How many jobs the queue holds, by state.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct QueueStats {
    /// The queue's name (`ledger-anchors-jobs:{fleet}`).
    pub queue: String,
    /// Due now, waiting for a worker.
    pub pending: u64,
    /// Due later (delayed, retry backoff).
    pub scheduled: u64,
    /// Taken by a worker.
    pub running: u64,
    /// Finished, kept until trimmed.
    pub done: u64,
    /// Killed or out of attempts, kept until trimmed.
    pub dead: u64,
    /// Jobs that could not be done here, with their reasons ([`Queue::dead_letters`]).
    pub dead_letters: u64,
    /// Every job record stored (all states).
    pub stored: u64,
}

/// A job that could not be done in this fleet, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeadLetter {
    pub task_id: String,
    pub job: Job,
    pub reason: String,
    /// Unix seconds.
    pub at: i64,
}

/// Compare-and-delete of an idempotency key: only the delivery that holds it frees it.
const REDIS_RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Trims finished jobs of one state set (done or dead): a resumable SSCAN (cursor kept in
/// KEYS[5]) over at most ARGV[2] members; those finished at or before ARGV[1] (Unix s) lose
/// their data, metadata, result, set membership, and their idempotency key if it still
/// names them.
const REDIS_TRIM: &str = r"
local cursor = redis.call('GET', KEYS[5]) or '0'
local res = redis.call('SSCAN', KEYS[1], cursor, 'COUNT', ARGV[2])
redis.call('SET', KEYS[5], res[1])
local cutoff = tonumber(ARGV[1])
local n = 0
for _, id in ipairs(res[2]) do
  local meta = KEYS[3] .. ':' .. id
  local done_at = tonumber(redis.call('HGET', meta, 'done_at') or '0') or 0
  if done_at <= cutoff then
    local idem = redis.call('HGET', meta, 'idempotency_key')
    if idem and #idem > 0 then
      local k = KEYS[4] .. ':' .. idem
      if redis.call('GET', k) == id then
        redis.call('DEL', k)
      end
    end
    redis.call('HDEL', KEYS[2], id)
    redis.call('HDEL', KEYS[3] .. ':result', id)
    redis.call('DEL', meta)
    redis.call('SREM', KEYS[1], id)
    n = n + 1
  end
end
return n
";

/// Dead letters of a SQLite queue live in the queue's own file.
const SQLITE_DEAD_LETTERS: &str = "CREATE TABLE IF NOT EXISTS LedgerDeadLetters (\
     task_id TEXT PRIMARY KEY, queue TEXT NOT NULL, job TEXT NOT NULL, reason TEXT NOT NULL, \
     at INTEGER NOT NULL)";

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl Queue {
    /// How often idle workers look for due jobs.
    pub const POLL: Duration = Duration::from_millis(200);

    /// The queue name of `fleet`.
    pub fn name_for(fleet: &str) -> String {
        format!("{QUEUE}:{fleet}")
    }

    /// Opens (and on SQLite creates and migrates) the queue of `fleet` (the id in the fleet's
    /// database, [`ledger::sql::Store::fleet_id`]).
    pub async fn open(target: &QueueTarget, fleet: &str) -> Result<Queue> {
        let name: Arc<str> = Queue::name_for(fleet).into();
        match target {
            QueueTarget::Sqlite(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        WorkerError::Config(format!("queue directory {}: {e}", dir.display()))
                    })?;
                }
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .busy_timeout(Duration::from_secs(30));
                let pool = SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(options)
                    .await
                    .map_err(|e| queue_err(format!("opening {}: {e}", path.display())))?;
                SqliteStorage::setup(&pool)
                    .await
                    .map_err(|e| queue_err(format!("migrating {}: {e}", path.display())))?;
                sqlx::query(SQLITE_DEAD_LETTERS)
                    .execute(&pool)
                    .await
                    .map_err(|e| queue_err(format!("migrating {}: {e}", path.display())))?;
                let config = apalis_sqlite::Config::default()
                    .queue(&*name)
                    .heartbeat_interval(Duration::from_secs(5))
                    .missed_heartbeats(6);
                Ok(Queue::Sqlite(
                    SqliteStorage::new(&pool).with_config(config),
                    pool,
                    name,
                ))
            }
            QueueTarget::Redis(url) => {
                let conn = apalis_redis::connect(url.as_str()).await.map_err(|e| {
                    queue_err(format!(
                        "connecting to Redis at {}: {e}",
                        ledger::config::redact_url(url)
                    ))
                })?;
                // apalis-redis 1.0.0 passes a missing TTL to its push script as "0", which then
                // runs `EXPIRE key 0` and deletes every idempotency key as it is made: without
                // an explicit TTL no push is ever deduplicated. The TTL outlives any delay we
                // schedule (at most hours); a key that does expire with its job still queued
                // allows one duplicate, which collapses at delivery (see `release`).
                let config = apalis_redis::Config::default()
                    .queue(&*name)
                    .heartbeat_interval(Duration::from_secs(5))
                    .missed_heartbeats(6)
                    .idempotency_ttl(Some(IDEMPOTENCY_TTL));
                Ok(Queue::Redis(
                    RedisStorage::new(conn.clone()).with_config(config),
                    conn,
                    name,
                ))
            }
        }
    }

    /// The queue's name: `ledger-anchors-jobs:{fleet}`.
    pub fn name(&self) -> &str {
        match self {
            Queue::Sqlite(.., n) | Queue::Redis(.., n) => n,
        }
    }

    /// Enqueues `job` to run after `delay`, unless a job with the same [`Job::key`] is
    /// already in the queue (then nothing happens: that one will do the work).
    pub async fn push(&self, job: Job, delay: Duration) -> Result<()> {
        let key = job.key();
        let kind = job.kind();
        let task = TaskBuilder::new(job)
            .idempotency_key(&key)
            .run_after(delay)
            .build();
        let pushed = match self.clone() {
            Queue::Sqlite(mut s, ..) => s.push_task(task).await.map_err(queue_err),
            Queue::Redis(mut r, ..) => r.push_task(task).await.map_err(queue_err),
        };
        match pushed {
            Ok(()) => {
                metrics::counter!("jobs_enqueued_total", "kind" => kind).increment(1);
                tracing::debug!(job = %key, delay_ms = delay.as_millis() as u64, "enqueued");
                Ok(())
            }
            // The same key is held: that is the at-most-once we asked for.
            Err(WorkerError::Queue(m)) if is_duplicate(&m) => {
                tracing::debug!(job = %key, "already enqueued");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Frees `key` if the delivery `task_id` still holds it, so the job can be pushed again
    /// (its follow-up, or a later push by the scheduler). Returns whether it was held.
    pub async fn release(&self, key: &str, task_id: &str) -> Result<bool> {
        match self {
            Queue::Sqlite(_, pool, name) => Ok(sqlx::query(
                "UPDATE Jobs SET idempotency_key = NULL \
                 WHERE id = ?1 AND job_type = ?2 AND idempotency_key = ?3",
            )
            .bind(task_id)
            .bind(&**name)
            .bind(key)
            .execute(pool)
            .await
            .map_err(queue_err)?
            .rows_affected()
                == 1),
            Queue::Redis(storage, conn, _) => {
                let idem = format!("{}:{key}", storage.get_config().idempotency_key_set());
                let mut c = conn.clone();
                let n: i64 = redis::Script::new(REDIS_RELEASE)
                    .key(idem)
                    .arg(task_id)
                    .invoke_async(&mut c)
                    .await
                    .map_err(queue_err)?;
                Ok(n == 1)
            }
        }
    }

    /// Records that delivery `task_id` of `job` cannot be done here, and why. Kept
    /// [`RETAIN_DEAD`], at most [`MAX_DEAD_LETTERS`].
    pub async fn dead_letter(&self, task_id: &str, job: &Job, reason: &str) -> Result<()> {
        metrics::counter!("queue_dead_letters_total", "kind" => job.kind()).increment(1);
        tracing::error!(job = %job.key(), task_id, reason, "dead letter");
        let letter = DeadLetter {
            task_id: task_id.to_owned(),
            job: job.clone(),
            reason: reason.to_owned(),
            at: unix_now(),
        };
        let json = serde_json::to_string(&letter).expect("a dead letter serialises");
        match self {
            Queue::Sqlite(_, pool, name) => {
                sqlx::query(
                    "INSERT INTO LedgerDeadLetters (task_id, queue, job, reason, at) \
                     SELECT ?1, ?2, ?3, ?4, ?5 \
                     WHERE (SELECT COUNT(*) FROM LedgerDeadLetters WHERE queue = ?2) < ?6 \
                     ON CONFLICT (task_id) DO NOTHING",
                )
                .bind(task_id)
                .bind(&**name)
                .bind(serde_json::to_string(job).expect("a job serialises"))
                .bind(reason)
                .bind(letter.at)
                .bind(i64::try_from(MAX_DEAD_LETTERS).unwrap_or(i64::MAX))
                .execute(pool)
                .await
                .map_err(queue_err)?;
            }
            Queue::Redis(_, conn, name) => {
                let mut c = conn.clone();
                let key = format!("{name}:dead-letters");
                let n: u64 = redis::cmd("HLEN")
                    .arg(&key)
                    .query_async(&mut c)
                    .await
                    .map_err(queue_err)?;
                if usize::try_from(n).unwrap_or(usize::MAX) < MAX_DEAD_LETTERS {
                    redis::cmd("HSET")
                        .arg(&key)
                        .arg(task_id)
                        .arg(json)
                        .query_async::<()>(&mut c)
                        .await
                        .map_err(queue_err)?;
                }
            }
        }
        Ok(())
    }

    /// The dead letters, oldest first.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>> {
        let mut out = match self {
            Queue::Sqlite(_, pool, name) => {
                let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
                    "SELECT task_id, job, reason, at FROM LedgerDeadLetters WHERE queue = ?1",
                )
                .bind(&**name)
                .fetch_all(pool)
                .await
                .map_err(queue_err)?;
                rows.into_iter()
                    .map(|(task_id, job, reason, at)| {
                        Ok(DeadLetter {
                            task_id,
                            job: serde_json::from_str(&job).map_err(queue_err)?,
                            reason,
                            at,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?
            }
            Queue::Redis(_, conn, name) => {
                let mut c = conn.clone();
                let values: Vec<String> = redis::cmd("HVALS")
                    .arg(format!("{name}:dead-letters"))
                    .query_async(&mut c)
                    .await
                    .map_err(queue_err)?;
                values
                    .iter()
                    .map(|v| serde_json::from_str(v).map_err(queue_err))
                    .collect::<Result<Vec<_>>>()?
            }
        };
        out.sort_by_key(|d| (d.at, d.task_id.clone()));
        Ok(out)
    }

    /// Deletes finished jobs older than [`RETAIN_DONE`], dead ones and dead letters older
    /// than [`RETAIN_DEAD`] (at most [`TRIM_BATCH`] examined per state); returns how many
    /// records went.
    pub async fn trim(&self) -> Result<u64> {
        self.trim_older_than(RETAIN_DONE, RETAIN_DEAD).await
    }

    /// [`Queue::trim`] with explicit retentions (tests).
    pub async fn trim_older_than(&self, done: Duration, dead: Duration) -> Result<u64> {
        let now = unix_now();
        let batch = i64::try_from(TRIM_BATCH).unwrap_or(i64::MAX);
        match self {
            Queue::Sqlite(_, pool, name) => {
                let jobs = sqlx::query(
                    "DELETE FROM Jobs WHERE rowid IN (SELECT rowid FROM Jobs WHERE job_type = ?1 \
                     AND ((status = 'Done' AND done_at <= ?2) \
                       OR (status IN ('Killed', 'Failed') AND attempts >= max_attempts \
                           AND done_at <= ?3) \
                       OR (status = 'Killed' AND done_at <= ?3)) \
                     LIMIT ?4)",
                )
                .bind(&**name)
                .bind(now - secs(done))
                .bind(now - secs(dead))
                .bind(batch)
                .execute(pool)
                .await
                .map_err(queue_err)?
                .rows_affected();
                let letters =
                    sqlx::query("DELETE FROM LedgerDeadLetters WHERE queue = ?1 AND at <= ?2")
                        .bind(&**name)
                        .bind(now - secs(dead))
                        .execute(pool)
                        .await
                        .map_err(queue_err)?
                        .rows_affected();
                Ok(jobs + letters)
            }
            Queue::Redis(storage, conn, name) => {
                let config = storage.get_config();
                let mut c = conn.clone();
                let mut n = 0u64;
                for (set, retain, state) in [
                    (config.done_jobs_set(), done, "done"),
                    (config.dead_jobs_set(), dead, "dead"),
                ] {
                    let trimmed: u64 = redis::Script::new(REDIS_TRIM)
                        .key(&set)
                        .key(config.job_data_hash())
                        .key(config.job_meta_hash())
                        .key(config.idempotency_key_set())
                        .key(format!("{name}:trim-cursor:{state}"))
                        .arg(now - secs(retain))
                        .arg(batch)
                        .invoke_async(&mut c)
                        .await
                        .map_err(queue_err)?;
                    n += trimmed;
                }
                // Dead letters past their retention.
                let key = format!("{name}:dead-letters");
                let values: Vec<(String, String)> = redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async(&mut c)
                    .await
                    .map_err(queue_err)?;
                for (task, json) in values {
                    let old = serde_json::from_str::<DeadLetter>(&json)
                        .map_or(true, |d| d.at <= now - secs(dead));
                    if old {
                        redis::cmd("HDEL")
                            .arg(&key)
                            .arg(&task)
                            .query_async::<()>(&mut c)
                            .await
                            .map_err(queue_err)?;
                        n += 1;
                    }
                }
                Ok(n)
            }
        }
    }

    /// How many jobs the queue holds, by state (`anchor queue status`, the `queue_jobs`
    /// gauges, and the soak tests' bound).
    pub async fn stats(&self) -> Result<QueueStats> {
        let mut st = QueueStats {
            queue: self.name().to_owned(),
            ..QueueStats::default()
        };
        match self {
            Queue::Sqlite(_, pool, name) => {
                let now = unix_now();
                let rows: Vec<(String, bool, i64)> = sqlx::query_as(
                    "SELECT status, run_at > ?2, COUNT(*) FROM Jobs WHERE job_type = ?1 \
                     GROUP BY status, run_at > ?2",
                )
                .bind(&**name)
                .bind(now)
                .fetch_all(pool)
                .await
                .map_err(queue_err)?;
                for (status, later, n) in rows {
                    let n = u64::try_from(n).unwrap_or(0);
                    st.stored += n;
                    match status.as_str() {
                        "Pending" if later => st.scheduled += n,
                        "Pending" => st.pending += n,
                        "Done" => st.done += n,
                        "Killed" => st.dead += n,
                        "Failed" => st.scheduled += n,
                        _ => st.running += n,
                    }
                }
                let letters: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM LedgerDeadLetters WHERE queue = ?1")
                        .bind(&**name)
                        .fetch_one(pool)
                        .await
                        .map_err(queue_err)?;
                st.dead_letters = u64::try_from(letters).unwrap_or(0);
            }
            Queue::Redis(storage, conn, name) => {
                let config = storage.get_config();
                let mut c = conn.clone();
                let (stored, pending, scheduled, done, dead, letters): (
                    u64,
                    u64,
                    u64,
                    u64,
                    u64,
                    u64,
                ) = redis::pipe()
                    .cmd("HLEN")
                    .arg(config.job_data_hash())
                    .cmd("LLEN")
                    .arg(config.active_jobs_list())
                    .cmd("ZCARD")
                    .arg(config.scheduled_jobs_set())
                    .cmd("SCARD")
                    .arg(config.done_jobs_set())
                    .cmd("SCARD")
                    .arg(config.dead_jobs_set())
                    .cmd("HLEN")
                    .arg(format!("{name}:dead-letters"))
                    .query_async(&mut c)
                    .await
                    .map_err(queue_err)?;
                st.stored = stored;
                st.pending = pending;
                st.scheduled = scheduled;
                st.done = done;
                st.dead = dead;
                st.running = stored.saturating_sub(pending + scheduled + done + dead);
                st.dead_letters = letters;
            }
        }
        Ok(st)
    }

    /// Answers when the queue's database does (`/readyz`).
    pub async fn ping(&self) -> Result<()> {
        match self {
            Queue::Sqlite(_, pool, _) => sqlx::query("SELECT 1")
                .execute(pool)
                .await
                .map(drop)
                .map_err(queue_err),
            Queue::Redis(_, conn, _) => {
                let mut c = conn.clone();
                redis::cmd("PING")
                    .query_async::<String>(&mut c)
                    .await
                    .map(drop)
                    .map_err(queue_err)
            }
        }
    }
}

fn is_duplicate(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("unique") || m.contains("idempoten") || m.contains("duplicate")
}

/// The workers' queue is the service layer's run queue: the API and the scheduler process
/// enqueue rollups through this port (`service::runs`) without knowing the job runner.
impl service::RunQueue for Queue {
    fn enqueue_rollup<'a>(&'a self, run: &'a str, via: &'a str) -> service::runs::QueueFuture<'a> {
        Box::pin(async move {
            self.push(
                Job::Rollup {
                    run: run.to_owned(),
                    via: via.to_owned(),
                },
                Duration::ZERO,
            )
            .await
            .map_err(|e| e.to_string())
        })
    }

    fn ping(&self) -> service::runs::QueueFuture<'_> {
        Box::pin(async move { Queue::ping(self).await.map_err(|e| e.to_string()) })
    }
}
