//! What a tenant's monitor checks (`anchor monitor`), over any [`ObjectSource`]: the API, a
//! static copy of the bucket, or the bucket served over HTTP.
//!
//! Each run starts from the last checkpoint the monitor verified (its state) and:
//!
//! 1. opens the newest checkpoint with the pinned verifier key and the tenant's origin;
//! 2. **rollback**: a smaller size than the state's is refused; **fork**: the same size with
//!    another root, or a larger size whose consistency proof (from the log's hash tiles) does
//!    not lead from the state's root to the new one, is refused — an operator that shows two
//!    monitors (or one monitor at two times) two histories is caught here;
//! 3. reads every entry of the log and checks that they make the checkpoint's root;
//! 4. **missing receipt**: every logged receipt version must be in the store with the bytes
//!    the log holds (and a valid signature when the JWKS is given), and every period's latest
//!    receipt, and every receipt the caller was shown, must be a logged version;
//! 5. **cut chain**: with the tenant's run-summary chain, every logged receipt's summary must
//!    be a line of it, so a chain whose newest lines were cut no longer passes.
//!
//! A run with no finding returns the new state; one with findings leaves the state as it was
//! (the caller keeps the last good checkpoint, so the evidence is not overwritten).

use std::collections::{BTreeSet, HashSet};

use domain::keys::Jwks;
use domain::note::{Checkpoint, NoteVerifier};
use domain::receipt_log::LogEntry;
use ledger::TenantId;
use ledger::blob::{BlobKey, ReceiptFormat};
use ledger::formats::{Receipt, sha256_hex};
use merkle::TreeSize;
use merkle::hash::Hash;
use merkle::proof::verify_consistency;
use serde::{Deserialize, Serialize};

use crate::error::{ProofsError, Result};
use crate::log::TiledLog;
use crate::source::ObjectSource;

/// What the monitor keeps between runs: the last checkpoint it verified, and the key it
/// pinned on its first run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorState {
    pub format: String,
    pub tenant: String,
    /// The log's verifier key (`name+id+key`), pinned on the first run.
    pub vkey: String,
    pub size: u64,
    /// The root at `size`, hex.
    pub root: String,
    /// The signed checkpoint itself: the evidence to show if the log later contradicts it.
    pub checkpoint: String,
}

impl MonitorState {
    pub const FORMAT: &'static str = "c2c.monitor-state.v1";

    pub fn from_json(bytes: &[u8]) -> Result<MonitorState> {
        let s: MonitorState = serde_json::from_slice(bytes)
            .map_err(|e| ProofsError::Invalid(format!("monitor state: {e}")))?;
        if s.format != Self::FORMAT {
            return Err(ProofsError::Invalid(format!(
                "monitor state: format {:?}, expected {}",
                s.format,
                Self::FORMAT
            )));
        }
        Ok(s)
    }

    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("a monitor state serialises") + "\n"
    }
}

/// What one monitor run is given besides the source.
#[derive(Debug)]
pub struct Watch<'a> {
    pub tenant: &'a TenantId,
    pub verifier: &'a NoteVerifier,
    pub state: Option<&'a MonitorState>,
    /// Check each logged receipt's signature against this key set.
    pub jwks: Option<&'a Jwks>,
    /// The tenant's run-summary chain as JSONL (each line a summary's exact bytes).
    pub chain: Option<&'a [u8]>,
    /// Receipts the tenant was shown elsewhere (files, e-mail): each must be logged.
    pub shown: &'a [Vec<u8>],
}

/// What a monitor run found.
#[derive(Debug)]
pub struct Watched {
    pub checkpoint: Checkpoint,
    /// The state to keep when `findings` is empty.
    pub state: MonitorState,
    /// Entries the state had not seen.
    pub new_entries: u64,
    pub receipts_checked: u64,
    /// Each a sentence naming what is wrong; empty when the log is as it must be.
    pub findings: Vec<String>,
}

/// One monitor run; see the module. `Err` is for what stops the run before a verdict
/// (unreadable source, a checkpoint that does not open, malformed tiles).
pub async fn watch<S: ObjectSource>(source: &S, w: &Watch<'_>) -> Result<Watched> {
    let note = TiledLog::<S>::latest_note(source, w.tenant).await?;
    let cp = TiledLog::<S>::open_note(&note, w.verifier, w.tenant)?;
    let mut findings = Vec::new();
    if let Some(old) = w.state
        && let Some(f) = compare(source, w.tenant, old, &cp).await?
    {
        findings.push(f);
    }
    let log = TiledLog::new(source, w.tenant, &cp);
    let entries = log.entries().await?;
    let receipts_checked = check_receipts(source, w, &entries, &mut findings).await?;
    let new_entries = cp.size - w.state.map_or(0, |s| s.size.min(cp.size));
    let state = MonitorState {
        format: MonitorState::FORMAT.to_owned(),
        tenant: w.tenant.to_string(),
        vkey: w.verifier.to_string(),
        size: cp.size,
        root: cp.root.to_hex(),
        checkpoint: String::from_utf8_lossy(&note).into_owned(),
    };
    Ok(Watched {
        checkpoint: cp,
        state,
        new_entries,
        receipts_checked,
        findings,
    })
}

/// Rollback and fork against the last verified checkpoint.
async fn compare<S: ObjectSource>(
    source: &S,
    tenant: &TenantId,
    old: &MonitorState,
    new: &Checkpoint,
) -> Result<Option<String>> {
    let old_root = Hash::from_hex("monitor state root", &old.root)?;
    if new.size < old.size {
        return Ok(Some(format!(
            "rollback: the log's checkpoint has size {}, but size {} (root {}) was verified \
             before",
            new.size, old.size, old.root
        )));
    }
    if new.size == old.size {
        return Ok((new.root != old_root).then(|| {
            format!(
                "fork: two checkpoints of size {} with different roots ({} verified before, {} \
                 now)",
                new.size,
                old.root,
                new.root.to_hex()
            )
        }));
    }
    let proof = TiledLog::new(source, tenant, new)
        .consistency(old.size)
        .await?;
    Ok(verify_consistency(
        TreeSize(old.size),
        TreeSize(new.size),
        &old_root,
        &new.root,
        &proof,
    )
    .err()
    .map(|e| {
        format!(
            "fork: the checkpoint of size {} does not extend the one of size {} verified before \
             ({e})",
            new.size, old.size
        )
    }))
}

/// Every logged receipt is stored with its logged bytes (and signature, and summary in the
/// chain); every period's latest receipt and every shown receipt is logged. Returns how many
/// receipts were checked.
async fn check_receipts<S: ObjectSource>(
    source: &S,
    w: &Watch<'_>,
    entries: &[LogEntry],
    findings: &mut Vec<String>,
) -> Result<u64> {
    let chain: Option<HashSet<String>> = w.chain.map(|jsonl| {
        jsonl
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(sha256_hex)
            .collect()
    });
    let mut checked = 0;
    for e in entries {
        let key = BlobKey::receipt_version(w.tenant, &e.period, e.version, ReceiptFormat::Json)?;
        if let Some(bytes) = source.get(&key).await? {
            checked += 1;
            if let Some(f) = logged_receipt(&key, &bytes, e, w.jwks, chain.as_ref()) {
                findings.push(f);
            }
        } else {
            findings.push(format!("missing receipt: {key} is logged but not served"));
        }
    }
    let periods: BTreeSet<_> = entries.iter().map(|e| e.period).collect();
    let mut shown: Vec<(String, Vec<u8>)> = Vec::new();
    for p in periods {
        let key = BlobKey::receipt_latest(w.tenant, &p, ReceiptFormat::Json);
        if let Some(bytes) = source.get(&key).await? {
            shown.push((key.to_string(), bytes));
        }
    }
    shown.extend(
        w.shown
            .iter()
            .enumerate()
            .map(|(i, b)| (format!("shown receipt #{}", i + 1), b.clone())),
    );
    let logged: HashSet<(String, u32, [u8; 32])> = entries
        .iter()
        .map(|e| (e.period.to_string(), e.version, e.sha256))
        .collect();
    for (what, bytes) in shown {
        checked += 1;
        if let Some(f) = shown_receipt(&what, &bytes, w.tenant, &logged, entries.len()) {
            findings.push(f);
        }
    }
    Ok(checked)
}

/// What is wrong with a logged receipt version as served, if anything: other bytes than the
/// log's, not a receipt, a bad signature, a summary the chain does not hold.
fn logged_receipt(
    key: &BlobKey,
    bytes: &[u8],
    e: &LogEntry,
    jwks: Option<&Jwks>,
    chain: Option<&HashSet<String>>,
) -> Option<String> {
    if Hash::sha256(bytes).0 != e.sha256 {
        return Some(format!(
            "changed receipt: {key} is not the bytes the log holds for it"
        ));
    }
    let receipt = match Receipt::from_json(bytes) {
        Ok(r) => r,
        Err(err) => return Some(format!("malformed receipt: {key}: {err}")),
    };
    if let Some(jwks) = jwks
        && let Err(err) = receipt.verify_signature(jwks)
    {
        return Some(format!("bad signature: {key}: {err}"));
    }
    chain
        .filter(|c| !c.contains(&receipt.summary_hash))
        .map(|_| {
            format!(
                "cut chain: {key} names run summary {} which the tenant's chain does not hold",
                receipt.summary_hash
            )
        })
}

/// What is wrong with a receipt the tenant was shown, if anything: not a receipt, another
/// tenant's, or not an entry of the log.
fn shown_receipt(
    what: &str,
    bytes: &[u8],
    t: &TenantId,
    logged: &HashSet<(String, u32, [u8; 32])>,
    size: usize,
) -> Option<String> {
    let receipt = match Receipt::from_json(bytes) {
        Ok(r) => r,
        Err(err) => return Some(format!("malformed receipt: {what}: {err}")),
    };
    if receipt.tenant != *t {
        return Some(format!(
            "{what} is a receipt of {}, not {t}",
            receipt.tenant
        ));
    }
    let id = (
        receipt.period.to_string(),
        receipt.version,
        Hash::sha256(bytes).0,
    );
    (!logged.contains(&id)).then(|| {
        format!(
            "receipt not in the log: {what} ({} version {}) is not an entry of the log at size \
             {size}",
            receipt.period, receipt.version
        )
    })
}
