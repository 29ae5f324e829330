//! The one error type of the `ledger` crate.

use thiserror::Error;

pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum LedgerError {
    /// A value from outside (path, body, file, configuration) that is not what it must be.
    /// `what` names the field; `reason` says what is wrong with it.
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },

    /// The configuration cannot be used (unknown scheme, both `X` and `X_FILE`, unreadable file).
    #[error("configuration: {0}")]
    Config(String),

    /// A backend the process needs (database, KV, queue) could not be reached or refused the
    /// connection. `what` names it and its variable, `endpoint` is `host:port` (or a SQLite
    /// path; never credentials, see [`crate::redact`]), `cause` the innermost reason, once.
    #[error("{what} at {endpoint}: {cause}")]
    Unavailable {
        what: &'static str,
        endpoint: String,
        cause: String,
    },

    /// A row the caller named does not exist.
    #[error("{what} {key:?} not found")]
    NotFound { what: &'static str, key: String },

    /// A write that would contradict what is already stored (a different tenant with the same
    /// id, a second different object under a create-only key, a forked chain).
    #[error("conflict on {what} {key:?}: {reason}")]
    Conflict {
        what: &'static str,
        key: String,
        reason: String,
    },

    /// The SQL backend failed.
    #[error("sql: {0}")]
    Sql(#[from] sqlx::Error),

    /// The database has no schema, or not this build's: the message says what to run.
    #[error("{0}")]
    Schema(String),

    /// A migration could not be applied.
    #[error("sql migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// The blob backend failed (I/O on the directory, or an S3 request). `key` is the object.
    #[error("blob {key}: {detail}")]
    Blob { key: String, detail: String },

    /// The Redis backend failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),

    /// A signing or public key that cannot be loaded or used.
    #[error("key: {0}")]
    Key(String),

    /// A signature that does not verify, or a key id the key set does not hold.
    #[error("signature: {0}")]
    Signature(String),

    /// A document (receipt, summary, root metadata, JWKS) that does not have its format.
    #[error("format: {0}")]
    Format(String),

    /// A run-summary chain that breaks one of its rules: `line` is 1-based, `rule` names it.
    #[error("line {line}: {rule}: {detail}")]
    Chain {
        line: usize,
        rule: &'static str,
        detail: String,
    },

    /// Local file-system I/O outside the blob store (reading a key file, writing an export).
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// A domain error keeps its variant's name and message: callers that match
/// `LedgerError::Invalid` or `LedgerError::Format` see the same thing as before `domain` existed.
impl From<domain::DomainError> for LedgerError {
    fn from(e: domain::DomainError) -> Self {
        use domain::DomainError as D;
        match e {
            D::Invalid {
                what,
                value,
                reason,
            } => LedgerError::Invalid {
                what,
                value,
                reason,
            },
            D::Key(s) => LedgerError::Key(s),
            D::Signature(s) => LedgerError::Signature(s),
            D::Format(s) => LedgerError::Format(s),
            D::Chain { line, rule, detail } => LedgerError::Chain { line, rule, detail },
        }
    }
}

impl LedgerError {
    pub(crate) fn invalid(what: &'static str, value: &str, reason: impl Into<String>) -> Self {
        let mut value = value.to_owned();
        if value.len() > 80 {
            let mut cut = 80;
            while !value.is_char_boundary(cut) {
                cut -= 1;
            }
            value.truncate(cut);
            value.push('…');
        }
        LedgerError::Invalid {
            what,
            value,
            reason: reason.into(),
        }
    }
}
