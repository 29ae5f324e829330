//! Loading the operator's ES256 signing key from the environment or a file (the I/O half);
//! the key itself, key ids, JWKs and JWKS are [`domain::keys`], re-exported here.

use std::ffi::OsString;

pub use domain::keys::*;

use crate::error::{LedgerError, Result};

/// The signing key named by the environment: `VAR` holds the PEM text, or `VAR_FILE` names
/// a file holding it (the container-secrets convention). `Ok(None)` when neither is set;
/// an empty value counts as unset, so `VAR=` in an env file does not shadow `VAR_FILE`.
/// Both set is a configuration error naming both, rather than a silent preference.
pub fn load(var: &str) -> Result<Option<SigningKey>> {
    load_with(var, |name| std::env::var_os(name))
}

/// [`load`] with the environment passed in (tests, or a configuration layer
/// that has already read it).
pub fn load_with(
    var: &str,
    lookup: impl Fn(&str) -> Option<OsString>,
) -> Result<Option<SigningKey>> {
    let file_var = format!("{var}_FILE");
    let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
    match (get(var), get(&file_var)) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(LedgerError::Config(format!(
            "both {var} and {file_var} are set; set only one"
        ))),
        (Some(pem), None) => {
            let pem = pem
                .into_string()
                .map_err(|_| LedgerError::Config(format!("{var} is not UTF-8 PEM text")))?;
            SigningKey::from_pem(&pem)
                .map(Some)
                .map_err(|e| LedgerError::Config(format!("{var}: {e}")))
        }
        (None, Some(path)) => {
            let display = path.to_string_lossy().into_owned();
            let pem = std::fs::read_to_string(&path).map_err(|source| LedgerError::Io {
                path: display.clone(),
                source,
            })?;
            SigningKey::from_pem(&pem)
                .map(Some)
                .map_err(|e| LedgerError::Config(format!("{file_var} ({display}): {e}")))
        }
    }
}
