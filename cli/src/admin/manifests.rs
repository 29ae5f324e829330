//! `anchor manifests add`: a tenant's digests (or manifests) from a file, all or nothing.

use std::path::PathBuf;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use ledger::TenantId;
use merkle::ManifestDigest;
use serde_json::json;

use super::{print_json, with_store};
use crate::ledger_cmd::ConfigArg;
use crate::{Outcome, read_input};

/// Digests per `insert_manifests` call (one transaction each).
const BATCH: usize = 50_000;

#[derive(Subcommand, Debug)]
pub enum ManifestsCmd {
    /// Store a tenant's manifest digests. FILE (`-` for stdin) holds 64-hex digests one per
    /// line (blank lines and `#` comments allowed), a JSON array of manifest objects and/or
    /// 64-hex digest strings, or one JSON manifest object. Manifests are canonicalised here
    /// (RFC 8785) and only their digests are stored. A bad line or element stores nothing.
    Add {
        #[arg(long)]
        tenant: TenantId,
        file: PathBuf,
        /// When the manifests were received (RFC 3339, any offset; default now). Its UTC day
        /// decides the periods they belong to.
        #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
        received_at: Option<DateTime<Utc>>,
        #[command(flatten)]
        config: ConfigArg,
    },
}

pub fn run(cmd: ManifestsCmd) -> Outcome {
    let ManifestsCmd::Add {
        tenant,
        file,
        received_at,
        config,
    } = cmd;
    let bytes = read_input(&file)?;
    let digests = parse_digests(&bytes).with_context(|| file.display().to_string())?;
    let received_at = received_at.unwrap_or_else(Utc::now);
    let (accepted, duplicate) = with_store(&config, async |s| {
        // An unknown or disabled tenant is refused before anything is written.
        let t = s.tenant(&tenant).await?;
        service::manifests::accepts(&t)?;
        let (mut accepted, mut duplicate) = (0u64, 0u64);
        for batch in digests.chunks(BATCH) {
            let n = service::manifests::submit(s, &t, batch, received_at, Utc::now()).await?;
            accepted += n.accepted;
            duplicate += n.duplicate;
        }
        Ok((accepted, duplicate))
    })?;
    let days: Vec<String> = if digests.is_empty() {
        Vec::new()
    } else {
        vec![received_at.date_naive().to_string()]
    };
    print_json(&json!({"accepted": accepted, "duplicate": duplicate, "days": days}))
}

fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{s:?} is not an RFC 3339 time like 2026-11-20T09:00:00Z: {e}"))
}

/// Every digest of the input, in file order, or the first error naming its line or index.
pub(crate) fn parse_digests(bytes: &[u8]) -> anyhow::Result<Vec<ManifestDigest>> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    match bytes.trim_ascii_start().first() {
        Some(b'[') => Ok(merkle::batch::array_digests(bytes)?),
        Some(b'{') => Ok(vec![
            merkle::canon::manifest_digest(bytes).context("manifest")?,
        ]),
        _ => bytes
            .split(|&b| b == b'\n')
            .enumerate()
            .filter_map(|(i, line)| {
                let line = line.trim_ascii();
                (!line.is_empty() && !line.starts_with(b"#")).then_some((i + 1, line))
            })
            .map(|(n, line)| {
                ManifestDigest::from_hex_bytes(line)
                    .with_context(|| format!("line {n}: not a 64-hex digest"))
            })
            .collect(),
    }
}

/// A manifest object's digest, or a 64-hex digest string's value.
#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862";
    const D2: &str = "7e8059f495589fcd981232cc11d00b00da3802c01d688fa1cf1f6bed6e5bb33c";

    fn hexes(input: &str) -> Vec<String> {
        parse_digests(input.as_bytes())
            .unwrap()
            .iter()
            .map(ManifestDigest::to_hex)
            .collect()
    }

    fn error(input: &str) -> String {
        format!("{:#}", parse_digests(input.as_bytes()).unwrap_err())
    }

    #[test]
    fn the_first_non_space_byte_picks_lines_arrays_or_one_manifest() {
        assert_eq!(
            hexes(&format!("# two\n\n  {D1}\r\n{}\n", D2.to_uppercase())),
            [D1, D2]
        );
        assert_eq!(hexes(&format!(" [\"{D1}\" ,\n\"{D2}\"]\n")), [D1, D2]);
        let m = r#"{"b": [1, "]", {"c": "\"}"}], "a": 2.50}"#;
        let d = merkle::canon::manifest_digest(m.as_bytes())
            .unwrap()
            .to_hex();
        assert_eq!(hexes(&format!("[{m}, \"{D1}\"]")), [d.clone(), D1.into()]);
        assert_eq!(hexes(&format!("\n{m}\n")), [d]);
        assert!(hexes("[ ]").is_empty());
        assert!(hexes("").is_empty());
    }

    #[test]
    fn errors_name_the_line_or_the_array_index() {
        assert!(
            error(&format!("{D1}\n\n{D1}x\n")).starts_with("line 3: "),
            "{}",
            error(&format!("{D1}\n{D1}x\n"))
        );
        assert!(error(&format!("[\"{D1}\",\n 7]")).starts_with("batch: array index 1 (line 2): "));
        assert!(error(r#"[{"a":1}, {"a":1,"a":2}]"#).contains("array index 1"));
        assert!(error(r#"[{"n": 9007199254740993}]"#).contains("array index 0"));
        assert!(error(&format!("[\"{D1}\",]")).starts_with("batch: not valid JSON"));
        assert!(error(r#"{"a":1,"a":2}"#).starts_with("manifest"));
    }
}
