//! `anchor reserves`: reserve attestations (reserves/README.md).
//!
//! - `assets add|list|show|update|delete` and `snapshots add|list|latest`: the registry and
//!   its observations, thin over `reserves::sql` (bodies are the JSON documents the API
//!   takes, from a file or `-`).
//! - `publish`: the operator's two-phase publication (`reserves_publish.rs`).
//! - `attestations list|show|latest` and `deliver`: the stored attestations and one delivery
//!   cycle of the webhook outbox.
//! - `verify FILE --jwks K` is the auditor's check of a served attestation: the payload
//!   re-canonicalised (RFC 8785) and its ES256 signature checked with the key `kid` names in
//!   K, `payload_hash`, every total and the ratio re-derived from the breakdown with seed 001's
//!   I3 rule, `balance_digest`, and the embedded run summary (signature, hash) with the
//!   inclusion proof of the balances to the anchored root. Exit 0 valid, 1 a check failed,
//!   2 a file could not be read or the JWKS is malformed.
//!
//! Exit codes of the store commands: 0 done; 2 bad input (including an unknown asset or
//! attestation, an existing id, a deleted asset); 1 the database failed.

use std::path::PathBuf;

use anyhow::{Context as _, anyhow};
use chrono::Utc;
use clap::Subcommand;
use ledger::config::redact_url;
use ledger::keys::Jwks;
use reserves::ReserveError;
use reserves::asset::{AssetPatch, NewAsset, NewSnapshot};
use reserves::sql::{AssetFilter, AttestationFilter, ReserveStore};
use reserves::types::{AssetId, AttestationId, Label};

use crate::ledger_cmd::ConfigArg;
use crate::reserves_exit::classify;
use crate::reserves_publish::PublishArgs;
use crate::{Failure, Outcome, read_input, write_stdout};

#[derive(Subcommand, Debug)]
pub enum ReservesCmd {
    /// The reserve asset registry: add, list, show, update, delete.
    #[command(subcommand)]
    Assets(AssetsCmd),
    /// Balance snapshots (append-only): add, list, latest.
    #[command(subcommand)]
    Snapshots(SnapshotsCmd),
    /// Compute, anchor and publish an attestation (`--dry-run`: print the computation only).
    Publish(Box<PublishArgs>),
    /// Stored attestations: list, show, latest (the exact served JSON).
    #[command(subcommand)]
    Attestations(AttestationsCmd),
    /// One delivery cycle of the webhook outbox (pending and due failed attestations).
    Deliver {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Liabilities every customer can check: the Merkle-sum tree of balances, its root and
    /// total, a customer's proof, and its check.
    #[command(subcommand)]
    Liabilities(crate::liabilities_cmd::LiabilitiesCmd),
    /// Verify a served reserve attestation (`-` reads stdin) against the operator's JWKS.
    Verify {
        file: PathBuf,
        #[arg(long, value_name = "FILE")]
        jwks: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum AssetsCmd {
    /// Register an asset from a JSON document (`{id, asset_type, provider, name, unit,
    /// eligible?, haircut_bps?, max_age_seconds?, provider_metadata?}`; `-` for stdin).
    Add {
        file: PathBuf,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// The registry (live assets unless `--all`).
    List {
        #[arg(long)]
        provider: Option<String>,
        #[arg(long = "type")]
        asset_type: Option<String>,
        #[arg(long)]
        eligible: Option<bool>,
        /// Include soft-deleted assets.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// One asset and its policy history.
    Show {
        id: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Apply a JSON patch (`{name?, eligible?, haircut_bps?, max_age_seconds?,
    /// provider_metadata?}`; `-` for stdin).
    Update {
        id: String,
        file: PathBuf,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Soft-delete: the asset leaves the registry and future computations.
    Delete {
        id: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum SnapshotsCmd {
    /// Record an observation from a JSON document (`{observed_at, raw_amount, amount_unit?,
    /// source, source_ref?, metadata?}`; `-` for stdin).
    Add {
        asset: String,
        file: PathBuf,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// An asset's snapshots, newest first.
    List {
        asset: String,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Every asset's latest snapshot.
    Latest {
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum AttestationsCmd {
    /// Newest period end first: one JSON line per attestation (no payload).
    List {
        /// pending, ok or failed.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long, default_value_t = 0)]
        offset: u32,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// The served JSON of one attestation, byte for byte as signed and stored.
    Show {
        id: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// The served JSON of the latest attestation (pending or ok).
    Latest {
        #[command(flatten)]
        config: ConfigArg,
    },
}

pub fn run(cmd: ReservesCmd) -> Outcome {
    match cmd {
        ReservesCmd::Verify { file, jwks } => verify(&file, &jwks),
        ReservesCmd::Liabilities(cmd) => crate::liabilities_cmd::run(cmd),
        ReservesCmd::Publish(args) => crate::reserves_publish::publish(&args),
        ReservesCmd::Assets(cmd) => assets(cmd),
        ReservesCmd::Snapshots(cmd) => snapshots(cmd),
        ReservesCmd::Attestations(cmd) => attestations(cmd),
        ReservesCmd::Deliver { config } => with_reserves(&config, async |store, _| {
            let publisher =
                reserves::publisher::Publisher::new(std::time::Duration::from_secs(10))?;
            for o in publisher.run_once(store, Utc::now(), 100).await? {
                println_json(&serde_json::json!({
                    "id": o.id, "status": o.status, "errors": o.errors,
                }))?;
            }
            Ok(())
        }),
    }
}

/// Runs `f` against the configured reserves store (the ledger's database), closing it after.
pub fn with_reserves<T>(
    config: &ConfigArg,
    f: impl AsyncFnOnce(&ReserveStore, &ledger::config::Config) -> anyhow::Result<T>,
) -> Result<T, Failure> {
    let config = config.load().map_err(Failure::Input)?;
    let rt = crate::ots::runtime().map_err(Failure::Check)?;
    rt.block_on(async {
        crate::ledger_cmd::ensure_sqlite_dir(&config)?;
        // The ledger's store first: an unreachable database is exit 4 naming host:port, and
        // a fleet's database without `anchor migrate` is refused, as for every other role.
        config.open_store().await?.close().await;
        let store = ReserveStore::connect(&config.database_url)
            .await
            .map_err(|e| {
                anyhow::Error::new(e)
                    .context(format!("opening {}", redact_url(&config.database_url)))
            })?;
        let out = f(&store, &config).await;
        store.close().await;
        out
    })
    .map_err(classify)
}

fn println_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    let line = serde_json::to_string(v).context("serialising")?;
    write_stdout(format!("{line}\n").as_bytes())
}

fn read_json<T: serde::de::DeserializeOwned>(file: &PathBuf, what: &str) -> anyhow::Result<T> {
    let bytes = read_input(file)?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a valid {what} document", file.display()))
}

fn asset_id(s: &str) -> anyhow::Result<AssetId> {
    Ok(AssetId::new(s)?)
}

fn label(s: Option<&str>) -> anyhow::Result<Option<Label>> {
    Ok(s.map(Label::new).transpose()?)
}

fn assets(cmd: AssetsCmd) -> Outcome {
    match cmd {
        AssetsCmd::Add { file, config } => {
            let new: NewAsset = read_json(&file, "reserve asset").map_err(Failure::Input)?;
            with_reserves(&config, async |s, _| {
                println_json(&s.create_asset(new, Utc::now()).await?)
            })
        }
        AssetsCmd::List {
            provider,
            asset_type,
            eligible,
            all,
            config,
        } => {
            let filter = AssetFilter {
                provider: label(provider.as_deref()).map_err(Failure::Input)?,
                asset_type: label(asset_type.as_deref()).map_err(Failure::Input)?,
                eligible,
                include_deleted: all,
            };
            with_reserves(&config, async |s, _| {
                for a in s.assets(&filter).await? {
                    println_json(&a)?;
                }
                Ok(())
            })
        }
        AssetsCmd::Show { id, config } => {
            let id = asset_id(&id).map_err(Failure::Input)?;
            with_reserves(&config, async |s, _| {
                let asset = s.asset(&id).await?;
                let history = s.policy_history(&id).await?;
                println_json(&serde_json::json!({"asset": asset, "policy_history": history}))
            })
        }
        AssetsCmd::Update { id, file, config } => {
            let id = asset_id(&id).map_err(Failure::Input)?;
            let patch: AssetPatch = read_json(&file, "asset patch").map_err(Failure::Input)?;
            if patch.is_empty() {
                return Err(Failure::Input(anyhow!(
                    "{} changes nothing: give at least one of name, eligible, haircut_bps, \
                     max_age_seconds, provider_metadata",
                    file.display()
                )));
            }
            with_reserves(&config, async |s, _| {
                println_json(&s.update_asset(&id, &patch, Utc::now()).await?)
            })
        }
        AssetsCmd::Delete { id, config } => {
            let id = asset_id(&id).map_err(Failure::Input)?;
            with_reserves(&config, async |s, _| {
                println_json(&s.delete_asset(&id, Utc::now()).await?)
            })
        }
    }
}

fn snapshots(cmd: SnapshotsCmd) -> Outcome {
    match cmd {
        SnapshotsCmd::Add {
            asset,
            file,
            config,
        } => {
            let id = asset_id(&asset).map_err(Failure::Input)?;
            let new: NewSnapshot = read_json(&file, "snapshot").map_err(Failure::Input)?;
            with_reserves(&config, async |s, _| {
                println_json(&s.add_snapshot(&id, new, Utc::now()).await?)
            })
        }
        SnapshotsCmd::List {
            asset,
            limit,
            config,
        } => {
            let id = asset_id(&asset).map_err(Failure::Input)?;
            with_reserves(&config, async |s, _| {
                s.asset(&id).await?;
                for snap in s.snapshots(&id, limit).await? {
                    println_json(&snap)?;
                }
                Ok(())
            })
        }
        SnapshotsCmd::Latest { config } => with_reserves(&config, async |s, _| {
            for snap in s.latest_snapshots(Utc::now()).await? {
                println_json(&snap)?;
            }
            Ok(())
        }),
    }
}

fn attestations(cmd: AttestationsCmd) -> Outcome {
    match cmd {
        AttestationsCmd::List {
            status,
            limit,
            offset,
            config,
        } => {
            let filter = AttestationFilter {
                status: status
                    .as_deref()
                    .map(str::parse)
                    .transpose()
                    .map_err(|e: ReserveError| Failure::Input(e.into()))?,
                limit: Some(limit),
                offset: Some(offset),
                ..AttestationFilter::default()
            };
            with_reserves(&config, async |s, _| {
                let (list, _) = s.attestations(&filter).await?;
                for a in list {
                    println_json(&a)?;
                }
                Ok(())
            })
        }
        AttestationsCmd::Show { id, config } => {
            let id = AttestationId::new(&id).map_err(|e| Failure::Input(e.into()))?;
            with_reserves(&config, async |s, _| {
                write_stdout(s.attestation(&id).await?.served_json.as_bytes())
            })
        }
        AttestationsCmd::Latest { config } => with_reserves(&config, async |s, _| {
            write_stdout(s.latest_attestation().await?.served_json.as_bytes())
        }),
    }
}

/// `verifier::attestation`'s checks, printed as the verifier says (exit 1 naming the failed
/// check's rule, 2 for a document that is not JSON or an unusable JWKS).
fn verify(file: &PathBuf, jwks: &PathBuf) -> Outcome {
    let bytes = read_input(file)?;
    let jwks = Jwks::from_json(&read_input(jwks)?)
        .with_context(|| format!("reading the JWKS {}", jwks.display()))?;
    let checked = verifier::attestation::check(&bytes, &jwks)
        .map_err(|e| Failure::Input(anyhow!("{}: {e}", file.display())))?;
    if let Some(failure) = checked.failure {
        return Err(Failure::Check(anyhow!(failure)));
    }
    Ok(write_stdout(checked.text.as_bytes())?)
}
