//! The test Redis server, through the `redis` crate (the client the product uses): a key
//! prefix of the test's own ([`prefix`]), or a whole database of its own ([`RedisDb`]).

use std::time::Duration;

/// The test server: `LEDGER_TEST_REDIS_URL`, default `redis://127.0.0.1:6379/`.
pub fn server() -> String {
    std::env::var("LEDGER_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

/// A key prefix no other test uses (`{unique}:`), for a test that shares database 0.
pub fn prefix(tag: &str) -> String {
    format!("{}:", crate::unique(tag))
}

/// One connection to `url`, answering `PING`.
fn connect(url: &str) -> redis::RedisResult<redis::Connection> {
    let mut con = redis::Client::open(url)?.get_connection_with_timeout(Duration::from_secs(3))?;
    redis::cmd("PING").query::<String>(&mut con)?;
    Ok(con)
}

/// The test server's URL when it answers `PING`; otherwise `None` after a `SKIPPED` line, or
/// a panic under `CI=true`.
pub fn server_or_skip() -> Option<String> {
    let url = server();
    match connect(&url) {
        Ok(_) => Some(url),
        Err(e) => {
            crate::skip("Redis unavailable", &format!("{url}: {e}"));
            None
        }
    }
}

/// A database (1 to 15) of the test server that was empty when this test claimed it with a
/// claim key (`SET … NX EX`), so two tests (or two checkouts) never share one. On drop it
/// deletes the keys this test made there — the ones matching its patterns — and the claim;
/// nothing else is flushed.
#[derive(Debug)]
pub struct RedisDb {
    /// `redis://HOST:PORT/N`.
    pub url: String,
    token: String,
    patterns: Vec<String>,
}

impl RedisDb {
    const CLAIM: &'static str = "testkit:claim";

    /// Claims an empty database; `patterns` are the `KEYS` patterns of what the test will
    /// create there (deleted on drop). `None` after a `SKIPPED` line when no server answers;
    /// under `CI=true` a panic.
    pub fn claim(patterns: &[&str]) -> Option<RedisDb> {
        let base = server();
        let addr = base
            .strip_prefix("redis://")
            .and_then(|r| r.split('/').next())
            .filter(|a| !a.is_empty() && !a.contains('@'))
            .unwrap_or_else(|| panic!("LEDGER_TEST_REDIS_URL {base:?}: want redis://HOST:PORT/"))
            .to_owned();
        let token = crate::unique("claim");
        for db in 1..=15u8 {
            let url = format!("redis://{addr}/{db}");
            let mut con = match connect(&url) {
                Ok(con) => con,
                Err(e) => {
                    crate::skip("Redis unavailable", &format!("{addr}: {e}"));
                    return None;
                }
            };
            let claimed: Option<String> = redis::cmd("SET")
                .arg(Self::CLAIM)
                .arg(&token)
                .arg("NX")
                .arg("EX")
                .arg(900)
                .query(&mut con)
                .unwrap_or_else(|e| panic!("SET {} NX on {url}: {e}", Self::CLAIM));
            if claimed.is_none() {
                continue;
            }
            let size: i64 = redis::cmd("DBSIZE")
                .query(&mut con)
                .unwrap_or_else(|e| panic!("DBSIZE on {url}: {e}"));
            if size == 1 {
                return Some(RedisDb {
                    url,
                    token,
                    patterns: patterns.iter().map(|p| (*p).to_owned()).collect(),
                });
            }
            // Someone else's keys are there: leave them alone, and our claim too.
            let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(Self::CLAIM).query(&mut con);
        }
        panic!("no empty Redis database among 1..15 on {addr}");
    }

    /// `FLUSHDB`: everything in this database is lost (a Redis restarted without persistence,
    /// or flushed by mistake), the claim included, which is set again so the database stays
    /// this test's.
    pub fn flush(&self) {
        let mut con = connect(&self.url).unwrap_or_else(|e| panic!("{}: {e}", self.url));
        redis::cmd("FLUSHDB")
            .query::<String>(&mut con)
            .unwrap_or_else(|e| panic!("FLUSHDB on {}: {e}", self.url));
        redis::cmd("SET")
            .arg(Self::CLAIM)
            .arg(&self.token)
            .arg("EX")
            .arg(900)
            .query::<String>(&mut con)
            .unwrap_or_else(|e| panic!("SET {} on {}: {e}", Self::CLAIM, self.url));
    }

    /// Every key of this database matching `pattern`.
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        let mut con = connect(&self.url).unwrap_or_else(|e| panic!("{}: {e}", self.url));
        redis::cmd("KEYS")
            .arg(pattern)
            .query(&mut con)
            .unwrap_or_else(|e| panic!("KEYS {pattern} on {}: {e}", self.url))
    }
}

impl Drop for RedisDb {
    fn drop(&mut self) {
        let Ok(mut con) = connect(&self.url) else {
            return;
        };
        for pattern in &self.patterns {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(pattern)
                .query(&mut con)
                .unwrap_or_default();
            for key in keys {
                let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(key).query(&mut con);
            }
        }
        let claim: Option<String> = redis::cmd("GET")
            .arg(Self::CLAIM)
            .query(&mut con)
            .unwrap_or_default();
        if claim.as_deref() == Some(self.token.as_str()) {
            let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(Self::CLAIM).query(&mut con);
        }
    }
}
