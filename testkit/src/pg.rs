//! A fresh database on the test Postgres server, through `sqlx` (the client the product uses).

use sqlx::Connection as _;

/// The server the tests create their databases on: `LEDGER_TEST_POSTGRES_URL`, default
/// `postgres://postgres@127.0.0.1:5432/test` (trust authentication).
pub fn server() -> String {
    std::env::var("LEDGER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database made for one test (`CREATE DATABASE`, a [`crate::unique`] name) and dropped
/// (`DROP DATABASE … WITH (FORCE)`) when this value drops, from a sync or an async test.
#[derive(Debug)]
pub struct PgDatabase {
    /// `postgres://…/NAME`: the fresh database.
    pub url: String,
    name: String,
    server: String,
}

impl PgDatabase {
    /// Creates the database; `prefix` starts its name (a SQL identifier: lowercase letters,
    /// digits and `_`). `None` after a `SKIPPED` line when no server answers; under `CI=true`
    /// a panic. A server that answers and refuses the `CREATE` is a panic.
    pub async fn create(prefix: &str) -> Option<PgDatabase> {
        let server = server();
        let mut admin = match sqlx::PgConnection::connect(&server).await {
            Ok(c) => c,
            Err(e) => {
                crate::skip("Postgres unavailable", &format!("{server}: {e}"));
                return None;
            }
        };
        let name = crate::unique(prefix);
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name} on {server}: {e}"));
        let _ = admin.close().await;
        let (base, _) = server
            .rsplit_once('/')
            .expect("LEDGER_TEST_POSTGRES_URL ends with /DATABASE");
        let url = format!("{base}/{name}");
        Some(PgDatabase { url, name, server })
    }

    /// [`PgDatabase::create`] for a sync test (on a runtime of its own).
    pub fn create_blocking(prefix: &str) -> Option<PgDatabase> {
        crate::block_on(PgDatabase::create(prefix))
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (server, name) = (&self.server, &self.name);
        let dropped = crate::block_on(async {
            let mut admin = sqlx::PgConnection::connect(server).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await?;
            admin.close().await
        });
        if let Err(e) = dropped {
            eprintln!("could not drop the test database {name} on {server}: {e}");
        }
    }
}
