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
//! - retries are ours, not apalis's: a transient failure re-enqueues the job with a delay and
//!   a new idempotency key (see `handler`), so backoff survives a worker restart.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use apalis_redis::RedisStorage;
use apalis_sqlite::SqliteStorage;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use crate::error::{Result, WorkerError};
use crate::job::Job;

/// The queue name used on every backend.
pub const QUEUE: &str = "ledger-anchors-jobs";

/// Where the queue lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueTarget {
    /// A SQLite file of its own.
    Sqlite(std::path::PathBuf),
    /// A Redis URL.
    Redis(String),
}

/// A handle to push jobs; cheap to clone. Each variant keeps a connection of its own for
/// [`Queue::ping`].
#[derive(Clone)]
pub enum Queue {
    Sqlite(SqliteStorage<Job>, sqlx::SqlitePool),
    Redis(RedisStorage<Job>, apalis_redis::ConnectionManager),
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Queue::Sqlite(..) => "Queue::Sqlite",
            Queue::Redis(..) => "Queue::Redis",
        })
    }
}

fn queue_err(e: impl std::fmt::Display) -> WorkerError {
    WorkerError::Queue(e.to_string())
}

impl Queue {
    /// How often idle workers look for due jobs.
    pub const POLL: Duration = Duration::from_millis(200);

    /// Opens (and on SQLite creates and migrates) the queue.
    pub async fn open(target: &QueueTarget) -> Result<Queue> {
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
                let config = apalis_sqlite::Config::default()
                    .queue(QUEUE)
                    .heartbeat_interval(Duration::from_secs(5))
                    .missed_heartbeats(6);
                Ok(Queue::Sqlite(
                    SqliteStorage::new(&pool).with_config(config),
                    pool,
                ))
            }
            QueueTarget::Redis(url) => {
                let conn = apalis_redis::connect(url.as_str())
                    .await
                    .map_err(|e| queue_err(format!("connecting to Redis: {e}")))?;
                let config = apalis_redis::Config::default()
                    .queue(QUEUE)
                    .heartbeat_interval(Duration::from_secs(5))
                    .missed_heartbeats(6);
                Ok(Queue::Redis(
                    RedisStorage::new(conn.clone()).with_config(config),
                    conn,
                ))
            }
        }
    }

    /// Enqueues `job` to run after `delay`, once per [`Job::key`].
    pub async fn push(&self, job: Job, delay: Duration) -> Result<()> {
        let key = job.key();
        let kind = job.kind();
        let task = TaskBuilder::new(job)
            .idempotency_key(&key)
            .run_after(delay)
            .build();
        let pushed = match self.clone() {
            Queue::Sqlite(mut s, _) => s.push_task(task).await.map_err(queue_err),
            Queue::Redis(mut r, _) => r.push_task(task).await.map_err(queue_err),
        };
        match pushed {
            Ok(()) => {
                metrics::counter!("jobs_enqueued_total", "kind" => kind).increment(1);
                tracing::debug!(job = %key, delay_ms = delay.as_millis() as u64, "enqueued");
                Ok(())
            }
            // The same key was pushed before: that is the idempotency we asked for.
            Err(WorkerError::Queue(m)) if is_duplicate(&m) => {
                tracing::debug!(job = %key, "already enqueued");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Answers when the queue's database does (`/readyz`).
    pub async fn ping(&self) -> Result<()> {
        match self {
            Queue::Sqlite(_, pool) => sqlx::query("SELECT 1")
                .execute(pool)
                .await
                .map(drop)
                .map_err(queue_err),
            Queue::Redis(_, conn) => {
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

/// Runs a pool of `concurrency` workers on `queue` until `shutdown` resolves.
pub async fn run_workers<F>(
    queue: Queue,
    ctx: Arc<crate::ctx::Ctx>,
    name: &str,
    concurrency: usize,
    shutdown: F,
) -> Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let signal = async move {
        shutdown.await;
        Ok::<(), std::io::Error>(())
    };
    let concurrency = concurrency.max(1);
    match queue {
        Queue::Sqlite(s, _) => WorkerBuilder::new(name)
            .backend(s.poll_with_interval(Queue::POLL))
            .data(ctx)
            .concurrency(concurrency)
            .parallelize(tokio::spawn)
            .build(crate::handler::handle)
            .run_until(signal)
            .await
            .map_err(queue_err),
        Queue::Redis(r, _) => {
            // Fetch no more jobs than this process runs at once: a worker that fetched ten
            // while running two would sit on eight that an idle worker could run.
            let config = r.get_config().clone().batch_size(concurrency);
            WorkerBuilder::new(name)
                .backend(r.with_config(config).poll_with_interval(Queue::POLL))
                .data(ctx)
                .concurrency(concurrency)
                .parallelize(tokio::spawn)
                .build(crate::handler::handle)
                .run_until(signal)
                .await
                .map_err(queue_err)
        }
    }
}
