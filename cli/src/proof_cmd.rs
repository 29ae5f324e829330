//! `anchor proof`: one manifest's inclusion proof (`c2c.proof.v1`) or per-manifest `.ots`,
//! derived from the period's stored tree in the configured blob store (`proofs::period`).
//!
//! What a tenant downloads before the API exists, and what an operator uses to answer a
//! tenant: the proof checks with `anchor verify proof` or any RFC 9162 verifier, the `.ots`
//! with the OpenTimestamps client (`ots verify -d DIGEST FILE`). Exit 2 for a digest that is
//! not in the period's tree, a period never anchored, or an `.ots` asked of a period without
//! an OTS anchor.
//!
//! `--from URL|DIR` needs no configuration, no API and no credentials: it reads the object
//! layout (a bucket served over plain HTTP, or a copy of it in a directory) and derives the
//! proof from the period's tiles (`proofs::tiles`), a few small objects, never the whole
//! tree. The tree's size and root come from `roots/{t}/{p}.json`; when the bucket holds the
//! period's receipt, they must be the receipt's (exit 1 otherwise), and the proof is verified
//! against that root before it is printed (a damaged tile is exit 1 naming it, never a
//! proof). Bind the result to a signed receipt with `anchor verify proof --receipt`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use clap::Args;
use ledger::blob::{BlobKey, ReceiptFormat};
use ledger::formats::Receipt;
use ledger::{Period, TenantId};
use merkle::ManifestDigest;
use proofs::PeriodProofs;
use proofs::ProofsError;
use proofs::tiles::{DirSource, ObjectSource, TiledTree};

use crate::ledger_cmd::ConfigArg;
use crate::{Failure, Outcome, write_stdout};

/// `--tenant T --period P --digest HEX`: one manifest of an anchored period, as `anchor proof`
/// and `anchor bundle` name it.
#[derive(Args, Debug)]
pub struct ManifestArgs {
    #[arg(long)]
    pub tenant: String,
    /// `2026-11-22`, `2026-W47` or `2026-11`.
    #[arg(long)]
    pub period: String,
    /// The manifest digest (64 hex).
    #[arg(long)]
    pub digest: String,
}

impl ManifestArgs {
    /// The three values, each checked (exit 2 naming the bad one).
    pub fn parse(&self) -> Result<(TenantId, Period, ManifestDigest), Failure> {
        let tenant = TenantId::new(&self.tenant).map_err(input)?;
        let period: Period = self.period.parse().map_err(input)?;
        let digest = ManifestDigest::from_hex(&self.digest).map_err(input)?;
        Ok((tenant, period, digest))
    }
}

#[derive(Args, Debug)]
pub struct ProofArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    /// The per-manifest OpenTimestamps proof instead of the JSON inclusion proof.
    #[arg(long)]
    pub ots: bool,
    /// Write here (create-only) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Read the bucket's object layout from this base URL or directory (a static copy of the
    /// blob store) instead of the configured store: the proof comes from the period's tiles.
    #[arg(long, value_name = "URL|DIR")]
    pub from: Option<String>,
    #[command(flatten)]
    pub config: ConfigArg,
}

fn input(e: impl std::fmt::Display) -> Failure {
    Failure::Input(anyhow!("{e}"))
}

pub fn run(args: &ProofArgs) -> Outcome {
    if let Some(from) = &args.from {
        let bytes = crate::ots::runtime()?.block_on(from_bucket(args, from))?;
        return emit(args, &bytes);
    }
    let (tenant, period, digest) = args.manifest.parse()?;
    let config = args.config.load().map_err(Failure::Input)?;
    let bytes = crate::ots::runtime()?.block_on(async {
        let backends = config.open().await.map_err(anyhow::Error::new)?;
        let stored = PeriodProofs::load(&backends.blobs, &tenant, period)
            .await
            .map_err(|e| match e {
                ProofsError::Invalid(m) => Failure::Input(anyhow!(
                    "{tenant} {period} has no anchored tree to prove from: {m}"
                )),
                e => Failure::Check(e.into()),
            })?;
        let proof = stored.proof(&digest).map_err(input)?;
        if !args.ots {
            return Ok::<_, Failure>(proof.to_json_pretty().into_bytes());
        }
        let file = stored
            .manifest_ots(&digest)
            .map_err(input)?
            .ok_or_else(|| input(format!("{tenant} {period} has no OpenTimestamps anchor")))?;
        Ok(file.to_bytes().map_err(anyhow::Error::new)?)
    })?;
    emit(args, &bytes)
}

fn emit(args: &ProofArgs, bytes: &[u8]) -> Outcome {
    match &args.out {
        Some(path) => crate::ots::write_atomically(path, bytes, false).map_err(Failure::Input),
        None => Ok(write_stdout(bytes)?),
    }
}

/// A bucket's object layout served over plain HTTP(S): `GET {base}/{key}`, 404 is "none".
pub(crate) struct HttpBucket {
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
}

impl ObjectSource for HttpBucket {
    async fn get(&self, key: &BlobKey) -> proofs::Result<Option<Vec<u8>>> {
        let url = format!("{}/{}", self.base, key.as_str());
        crate::verify::api_get(&self.client, &url, None, Duration::from_secs(30))
            .await
            .map_err(|e| ProofsError::Invalid(format!("{e:#}")))
    }
}

async fn from_bucket(args: &ProofArgs, from: &str) -> Result<Vec<u8>, Failure> {
    let (tenant, period, digest) = args.manifest.parse()?;
    if from.starts_with("http://") || from.starts_with("https://") {
        let client = stamp::calendar::http_client(Duration::from_secs(30))
            .map_err(|e| Failure::Input(e.into()))?;
        let bucket = HttpBucket {
            base: from.trim_end_matches('/').to_owned(),
            client,
        };
        prove_from(&bucket, args.ots, &tenant, period, &digest).await
    } else {
        let dir = PathBuf::from(from);
        if !dir.is_dir() {
            return Err(input(format!(
                "--from {from}: not a URL and not a directory"
            )));
        }
        prove_from(&DirSource(dir), args.ots, &tenant, period, &digest).await
    }
}

/// The proof (or per-manifest `.ots`) of `digest` from a bucket's tiles; see the module.
async fn prove_from<S: ObjectSource>(
    bucket: &S,
    ots: bool,
    tenant: &TenantId,
    period: Period,
    digest: &ManifestDigest,
) -> Result<Vec<u8>, Failure> {
    let check = |e: ProofsError| match e {
        ProofsError::NotFound(_) => input(e),
        e => Failure::Check(anyhow!("{e}")),
    };
    let tree = TiledTree::open(bucket, tenant, period)
        .await
        .map_err(check)?;
    let latest = BlobKey::receipt_latest(tenant, &period, ReceiptFormat::Json);
    let receipt = match bucket.get(&latest).await.map_err(check)? {
        Some(bytes) => {
            Some(Receipt::from_json(&bytes).map_err(|e| input(format!("{latest}: {e}")))?)
        }
        None => None,
    };
    if let Some(r) = &receipt
        && (r.root != tree.root() || r.tree_size != tree.size())
    {
        return Err(Failure::Check(anyhow!(
            "{latest} signs root {} over {} manifests, but the tiles' root metadata says {} over {}",
            r.root,
            r.tree_size,
            tree.root(),
            tree.size()
        )));
    }
    let proof = tree.proof(digest).await.map_err(check)?;
    if !ots {
        return Ok(proof.to_json_pretty().into_bytes());
    }
    let root_ots = match &receipt {
        Some(r) => proofs::root_ots_named_by(bucket, r).await.map_err(check)?,
        None => None,
    }
    .ok_or_else(|| input(format!("{tenant} {period} has no OpenTimestamps anchor")))?;
    let file = stamp::manifest::per_manifest_ots(&proof, &root_ots)
        .map_err(|e| Failure::Check(anyhow!("{e}")))?;
    Ok(file.to_bytes().map_err(anyhow::Error::new)?)
}
