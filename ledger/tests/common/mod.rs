//! Backends for the contract suites: a fresh SQLite file, a fresh Postgres database, Redis
//! (the fresh databases, key prefixes and the skip rule are `testkit`'s). A backend that is
//! not reachable is skipped with a loud `SKIPPED` line — except under `CI=true`, where it is a
//! failure.
#![allow(dead_code)]

use ledger::sql::Store;
use testkit::pg::PgDatabase;

/// A store on a fresh database, and how to reach that database directly.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    pg: Option<PgDatabase>,
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
            pg: None,
            _dir: Some(dir),
        }
    }

    /// A new database `ledger_test_…` on the Postgres server, migrated; `None` when skipped.
    pub async fn postgres() -> Option<TestDb> {
        let pg = PgDatabase::create("ledger_test").await?;
        let url = pg.url.clone();
        let store = Store::connect(&url).await.unwrap();
        Some(TestDb {
            store,
            url,
            pg: Some(pg),
            _dir: None,
        })
    }

    /// Closes the pool, then drops the Postgres database (as dropping a `TestDb` does).
    pub async fn finish(self) {
        self.store.close().await;
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
