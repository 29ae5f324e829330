//! `anchor ots info` and `anchor ots verify`.

use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::Subcommand;
use sha2::{Digest as _, Sha256};
use stamp::DetachedTimestamp;
use stamp::bitcoin::HeadersFile;
use stamp::verify::{Finding, Verdict, verify_file};

use crate::{Failure, Outcome, read_input, write_stdout};

#[derive(Subcommand, Debug)]
pub enum OtsCmd {
    /// Print the operations and attestations of an .ots file.
    Info {
        /// The .ots file, or `-` for stdin.
        file: PathBuf,
    },
    /// Verify an .ots file: exit 0 verified, 1 not verified (reason), 2 bad input, 3 pending only.
    Verify {
        /// The .ots file.
        file: PathBuf,
        /// The stamped file (its SHA-256 must be the proof's digest).
        #[arg(long, conflicts_with = "digest", required_unless_present = "digest")]
        data: Option<PathBuf>,
        /// The stamped SHA-256 digest, 64 hex (instead of --data).
        #[arg(long)]
        digest: Option<String>,
        /// Block headers: JSON `{"height": "80-byte header hex"}`.
        #[arg(long)]
        headers: Option<PathBuf>,
    },
}

pub fn run(cmd: OtsCmd) -> Outcome {
    match cmd {
        OtsCmd::Info { file } => {
            let ots = load(&file)?;
            Ok(write_stdout(ots.describe().as_bytes())?)
        }
        OtsCmd::Verify {
            file,
            data,
            digest,
            headers,
        } => verify(&file, data, digest, headers),
    }
}

fn load(file: &PathBuf) -> anyhow::Result<DetachedTimestamp> {
    let bytes = read_input(file)?;
    DetachedTimestamp::from_bytes(&bytes)
        .with_context(|| format!("{} is not a valid .ots proof", file.display()))
}

fn verify(
    file: &PathBuf,
    data: Option<PathBuf>,
    digest: Option<String>,
    headers: Option<PathBuf>,
) -> Outcome {
    let ots = load(file)?;
    let want: Vec<u8> = match (data, digest) {
        (Some(path), _) => {
            if ots.file_hash != stamp::Op::Sha256 {
                return Err(Failure::Input(anyhow!(
                    "{} hashes its file with another algorithm than sha256; pass --digest",
                    file.display()
                )));
            }
            Sha256::digest(read_input(&path)?).to_vec()
        }
        (None, Some(hex)) => {
            merkle::hash::decode_hex("--digest", hex.trim()).context("--digest")?
        }
        (None, None) => return Err(Failure::Input(anyhow!("pass --data or --digest"))),
    };
    let headers = match headers {
        Some(path) => HeadersFile::from_json(&read_input(&path)?)
            .with_context(|| format!("{}", path.display()))?,
        None => HeadersFile::default(),
    };
    let (verdict, findings) = verify_file(&ots, &want, &headers)
        .map_err(|e| Failure::Check(anyhow::Error::new(e).context("proof is NOT valid")))?;
    let mut report = String::new();
    for f in &findings {
        let line = match f {
            Finding::Bitcoin {
                height,
                block_hash,
                time,
            } => format!(
                "✓ Bitcoin block {height} ({block_hash}) attests existence as of unix time {time}\n"
            ),
            Finding::NoHeader { height } => {
                format!("✗ Bitcoin block {height}: no header for it (pass --headers)\n")
            }
            Finding::Pending { uri } => format!("… pending at {uri}\n"),
            Finding::Unsupported { what } => format!("- {what}: not checked by this verifier\n"),
            Finding::Failed { reason } => format!("✗ {reason}\n"),
        };
        report.push_str(&line);
    }
    write_stdout(report.as_bytes())?;
    match verdict {
        Verdict::Verified => Ok(()),
        Verdict::PendingOnly => Err(Failure::Pending(anyhow!(
            "only pending attestations; upgrade the proof later"
        ))),
        Verdict::NotVerified => Err(Failure::Check(anyhow!("no attestation could be verified"))),
    }
}
