//! `anchor keys`: ES256 signing keys for receipts and run summaries.
//!
//! `generate` writes three files into a directory: `signing-key.pem` (PKCS#8, mode 0600 from
//! the moment it exists — it is created under that mode in a temporary file and moved into
//! place, and an existing key is never replaced), `signing-key.jwk.json` (the public JWK)
//! and `jwks.json` (a key set holding it, to publish). The key id goes to stdout alone, so
//! `KID=$(anchor keys generate --out DIR)` works; what was written goes to stderr.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use clap::Subcommand;
use ledger::keys::{Jwks, PublicJwk, SigningKey};

use crate::{Failure, Outcome, read_input, write_stdout};

pub const KEY_FILE: &str = "signing-key.pem";
pub const JWK_FILE: &str = "signing-key.jwk.json";
pub const JWKS_FILE: &str = "jwks.json";

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// Make a P-256 signing key in DIR: signing-key.pem (0600), signing-key.jwk.json and
    /// jwks.json; print its key id. Refuses (exit 2) if any of them exists.
    Generate {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Print the published key set (JWKS) from the configured store: every registered key
    /// not retired, or with `--all` the retired ones too (for verifying old chains).
    Jwks {
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        config: crate::ledger_cmd::ConfigArg,
    },
    /// Retire a registered key: it leaves the published JWKS, and stays in `--all`.
    Retire {
        kid: String,
        #[command(flatten)]
        config: crate::ledger_cmd::ConfigArg,
    },
    /// Print the key id and the public JWK of a key: a private key PEM (PKCS#8 or SEC1), a
    /// public key PEM (SPKI) or a JWK.
    Show {
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Print instead the verifier key of this tenant's receipt-log checkpoints (derived
        /// from the private key; what a tenant gives `anchor monitor --vkey`).
        #[arg(long, value_name = "TENANT")]
        log_tenant: Option<String>,
    },
}

pub fn run(cmd: KeysCmd) -> Outcome {
    match cmd {
        KeysCmd::Generate { out } => generate(&out),
        KeysCmd::Show {
            key,
            log_tenant: Some(tenant),
        } => log_vkey(&key, &tenant),
        KeysCmd::Show { key, .. } => show(&key),
        KeysCmd::Jwks { all, config } => with_store(&config, async |store| {
            let jwks = store.jwks(all).await?;
            Ok(format!("{}\n", jwks.to_json_pretty()))
        }),
        KeysCmd::Retire { kid, config } => with_store(&config, async |store| {
            store.retire_key(&kid, chrono::Utc::now()).await?;
            Ok(format!("retired {kid}\n"))
        }),
    }
}

/// Runs `f` against the configured store and prints what it returns; an unknown key or an
/// empty key set is bad input (exit 2).
fn with_store(
    config: &crate::ledger_cmd::ConfigArg,
    f: impl AsyncFnOnce(&ledger::sql::Store) -> ledger::Result<String>,
) -> Outcome {
    let config = config.load()?;
    let text = crate::ots::runtime()?.block_on(async {
        let store = config.open_store().await?;
        let out = f(&store).await;
        store.close().await;
        out
    });
    Ok(write_stdout(text.map_err(anyhow::Error::new)?.as_bytes())?)
}

fn generate(dir: &Path) -> Outcome {
    ledger::private::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    if let Some(existing) = [KEY_FILE, JWK_FILE, JWKS_FILE]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.exists())
    {
        return Err(Failure::Input(anyhow!(
            "{} exists; refusing to overwrite a signing key",
            existing.display()
        )));
    }
    let key = SigningKey::generate();
    let jwk = key.public_jwk();
    let jwks = Jwks::new(vec![jwk.clone()]).map_err(anyhow::Error::new)?;
    // The private key first: if it cannot be placed, nothing public describes a key that
    // does not exist.
    write_new(&dir.join(KEY_FILE), key.to_pkcs8_pem().as_bytes(), 0o600)?;
    write_new(&dir.join(JWK_FILE), jwk.to_json_pretty().as_bytes(), 0o644)?;
    write_new(
        &dir.join(JWKS_FILE),
        jwks.to_json_pretty().as_bytes(),
        0o644,
    )?;
    eprintln!(
        "wrote {KEY_FILE} (0600), {JWK_FILE} and {JWKS_FILE} in {}",
        dir.display()
    );
    Ok(write_stdout(format!("{}\n", key.key_id()).as_bytes())?)
}

/// Writes a new file atomically: a temporary file created with `mode` (so the bytes are
/// never readable by anyone else, not even for a moment), synced, then linked into place
/// only if nothing is there.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".anchor-key-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut tmp = builder
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.persist_noclobber(path)
        .map_err(|e| anyhow!("{}: {}", path.display(), e.error))?;
    Ok(())
}

/// The receipt log's verifier key for `tenant`, from the operator's private key.
fn log_vkey(path: &PathBuf, tenant: &str) -> Outcome {
    let pem = String::from_utf8(read_input(path)?)
        .map_err(|_| anyhow!("{} is not PEM text", path.display()))?;
    let key = SigningKey::from_pem(&pem)
        .map_err(|e| anyhow::Error::new(e).context(format!("{}", path.display())))?;
    let tenant = ledger::TenantId::new(tenant).map_err(anyhow::Error::new)?;
    let signer = proofs::log::signer(&tenant, &key).map_err(anyhow::Error::new)?;
    Ok(write_stdout(format!("{}\n", signer.verifier()).as_bytes())?)
}

fn show(path: &PathBuf) -> Outcome {
    let bytes = read_input(path)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow!("{} is not text (PEM or JSON)", path.display()))?;
    let jwk = if text.contains("PRIVATE KEY-----") {
        SigningKey::from_pem(&text).map(|k| k.public_jwk())
    } else if text.contains("-----BEGIN PUBLIC KEY-----") {
        PublicJwk::from_spki_pem(&text)
    } else {
        serde_json::from_str::<PublicJwk>(&text)
            .map_err(|e| ledger::DomainError::Key(e.to_string()))
    }
    .map_err(|e| anyhow::Error::new(e).context(format!("{}", path.display())))?;
    let out = format!("{}\n{}", jwk.kid(), jwk.to_json_pretty());
    Ok(write_stdout(out.as_bytes())?)
}
