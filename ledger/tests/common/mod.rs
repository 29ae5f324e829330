//! Backends for the contract suites: a fresh SQLite file, a fresh Postgres database, Redis.
//! A backend that is not reachable is skipped with a loud `SKIPPED` line — except under
//! `CI=true`, where it is a failure.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use ledger::sql::Store;
use sqlx::Connection as _;

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A unique suffix for this process and call.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    )
}

pub fn skip_or_fail(what: &str, why: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{what} unavailable and CI=true: refusing to skip ({why})"
    );
    eprintln!("SKIPPED: {what} unavailable ({why})");
}

/// The server Postgres tests create their databases on.
pub fn postgres_base() -> String {
    std::env::var("LEDGER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub fn redis_url() -> String {
    std::env::var("LEDGER_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

/// A store on a fresh database, and how to reach that database directly.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("ledger.sqlite").display());
        let store = Store::connect(&url).await.unwrap();
        TestDb {
            store,
            url,
            pg_name: None,
            _dir: Some(dir),
        }
    }

    /// A new database `ledger_test_…` on the Postgres server, migrated; `None` when skipped.
    pub async fn postgres() -> Option<TestDb> {
        let base = postgres_base();
        let mut admin = match sqlx::PgConnection::connect(&base).await {
            Ok(c) => c,
            Err(e) => {
                skip_or_fail("Postgres", &format!("{base}: {e}"));
                return None;
            }
        };
        let name = unique("ledger_test");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        let (server, _) = base
            .rsplit_once('/')
            .expect("LEDGER_TEST_POSTGRES_URL ends with /DATABASE");
        let url = format!("{server}/{name}");
        let store = Store::connect(&url).await.unwrap();
        Some(TestDb {
            store,
            url,
            pg_name: Some(name),
            _dir: None,
        })
    }

    /// Closes the pool and drops the Postgres database (a failed test leaves it behind).
    pub async fn finish(self) {
        self.store.close().await;
        if let Some(name) = self.pg_name {
            let mut admin = sqlx::PgConnection::connect(&postgres_base()).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await
            .unwrap();
        }
    }
}

/// Runs an async contract case against SQLite and against Postgres, as two tests named
/// `{name}_on_sqlite` and `{name}_on_postgres`.
#[macro_export]
macro_rules! contract {
    ($($name:ident => $case:path;)+) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = $crate::common::TestDb::sqlite().await;
                    $case(&db).await;
                    db.finish().await;
                }
            )+
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(db) = $crate::common::TestDb::postgres().await else { return };
                    $case(&db).await;
                    db.finish().await;
                }
            )+
        }
    };
}
