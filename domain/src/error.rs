//! The one error type of the `domain` crate: a value, a key, a signature or a document that is
//! not what it must be. Nothing here is I/O; `ledger::LedgerError` wraps each variant under the
//! same name and message (`From<DomainError>`), so a caller of the store sees one error type.

use thiserror::Error;

pub type Result<T, E = DomainError> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum DomainError {
    /// A value from outside (path, body, file, configuration) that is not what it must be.
    /// `what` names the field; `reason` says what is wrong with it.
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },

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
}

impl DomainError {
    /// [`DomainError::Invalid`], the value cut to 80 characters (an error never carries a
    /// pasted megabyte).
    pub fn invalid(what: &'static str, value: &str, reason: impl Into<String>) -> Self {
        let mut value = value.to_owned();
        if value.len() > 80 {
            let mut cut = 80;
            while !value.is_char_boundary(cut) {
                cut -= 1;
            }
            value.truncate(cut);
            value.push('…');
        }
        DomainError::Invalid {
            what,
            value,
            reason: reason.into(),
        }
    }
}
