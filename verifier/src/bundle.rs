//! The checks of a `c2c.bundle.v1` (`domain::bundle`), pure over its bytes: first what only a
//! bundle has, then every check of [`crate::receipt`] with the bundle's summary in place of
//! the chain.
//!
//! | name           | what is checked |
//! |----------------|-----------------|
//! | `receipt`, `jwks` | the members parse (else malformed, exit 2) |
//! | `proof`        | the `c2c.proof.v1` is for the bundle's digest, tenant, period and tree size, and its RFC 9162 audit path leads to the receipt's root |
//! | `manifest.ots` | the per-manifest `.ots` stamps the manifest digest, its operations are exactly the c2c leaf path (`hexlify`, prepend the leaf prefix, prepend `00`, `sha256`, then per level prepend/append a 32-byte sibling, prepend `01`, `sha256`) up to `root.bin`, then `sha256` to SHA-256(root.bin), and from there it is the bundle's `root.ots` (whose attestations the `ots` check verifies) |

use domain::bundle::Bundle;
use domain::formats::Receipt;
use domain::keys::Jwks;
use merkle::ProofV1;
use stamp::tsp::VerifyOptions;
use stamp::{DetachedTimestamp, Entry, Op, Timestamp};

use crate::receipt::{self, Evidence, HeaderInput, SummaryInput};
use crate::report::{Check, Report};

/// Every check of a bundle.
pub fn check(bundle: &Bundle, tsa: &VerifyOptions, headers: &HeaderInput) -> Report {
    let mut report = Report::default();
    let receipt = match Receipt::from_json(&bundle.receipt) {
        Ok(r) => r,
        Err(e) => {
            report.push(Check::malformed("receipt", e.to_string()));
            return report;
        }
    };
    let jwks = match Jwks::from_json(&bundle.jwks) {
        Ok(j) => j,
        Err(e) => {
            report.push(Check::malformed("jwks", e.to_string()));
            return report;
        }
    };
    report.push(proof(bundle, &receipt));
    if let Some(check) = manifest_ots(bundle) {
        report.push(check);
    }
    let rest = receipt::check(&Evidence {
        receipt: &receipt,
        jwks: &jwks,
        root_bin: &bundle.root_bin,
        root_ots: bundle.root_ots.as_deref(),
        root_tsr: bundle.root_tsr.as_deref(),
        summary: SummaryInput::Summary(&bundle.summary),
        tsa,
        headers,
    });
    report.0.extend(rest.0);
    report.push(Check::note(
        "version",
        format!(
            "checked receipt version {}, the latest when the bundle was made; a newer version \
             may supersede it since (anchor verify receipt --api asks)",
            receipt.version
        ),
    ));
    report
}

fn proof(bundle: &Bundle, r: &Receipt) -> Check {
    let p = match ProofV1::from_json(&bundle.proof) {
        Ok(p) => p,
        Err(e) => return Check::malformed("proof", e.to_string()),
    };
    if bundle.tenant != r.tenant || bundle.period != r.period {
        return Check::failed(
            "proof",
            format!(
                "the bundle is for {} {}, its receipt for {} {}",
                bundle.tenant, bundle.period, r.tenant, r.period
            ),
        );
    }
    let period = r.period.to_string();
    if p.digest != bundle.digest
        || p.tenant.as_deref().is_some_and(|t| t != r.tenant.as_str())
        || p.period.as_deref().is_some_and(|x| x != period)
    {
        return Check::failed(
            "proof",
            format!(
                "the proof is of {} in {:?} {:?}, the bundle names {} in {} {}",
                p.digest, p.tenant, p.period, bundle.digest, r.tenant, r.period
            ),
        );
    }
    if p.tree_size != r.tree_size {
        return Check::failed(
            "proof",
            format!(
                "a proof in a tree of {} leaves, the receipt's tree has {}",
                p.tree_size, r.tree_size
            ),
        );
    }
    match p.verify(Some(&r.root)) {
        Ok(()) => Check::ok(
            "proof",
            format!(
                "digest {} is leaf {} of {} under the receipt's root (RFC 9162, {} audit hashes)",
                p.digest,
                p.leaf_index,
                p.tree_size,
                p.audit_path.len()
            ),
        ),
        Err(e) => Check::failed("proof", e.to_string()),
    }
}

/// `None` when the bundle has no OTS anchor (no `manifest_ots` and no `root_ots`).
fn manifest_ots(bundle: &Bundle) -> Option<Check> {
    let name = "manifest.ots";
    let (bytes, root_ots) = match (&bundle.manifest_ots, &bundle.root_ots) {
        (None, None) => return None,
        (Some(m), Some(r)) => (m, r),
        (Some(_), None) => {
            return Some(Check::malformed(name, "present without the root's .ots"));
        }
        (None, Some(_)) => {
            return Some(Check::malformed(name, "missing beside the root's .ots"));
        }
    };
    let file = match DetachedTimestamp::from_bytes(bytes) {
        Ok(f) => f,
        Err(e) => return Some(Check::malformed(name, e.to_string())),
    };
    let Ok(root_file) = DetachedTimestamp::from_bytes(root_ots) else {
        // The `ots` check reports root.ots itself.
        return Some(Check::failed(name, "the root's .ots does not parse"));
    };
    Some(match leaf_path(&file, &bundle.digest.0, &bundle.root_bin) {
        Err(e) => Check::failed(name, e),
        Ok((_, end)) if *end != root_file.timestamp => Check::failed(
            name,
            "after SHA-256(root.bin) it is not the bundle's root .ots",
        ),
        Ok((levels, _)) => Check::ok(
            name,
            format!(
                "stamps digest {}, its leaf path ({levels} levels) ends at \
                     SHA-256(root.bin), then the root's .ots",
                bundle.digest
            ),
        ),
    })
}

/// The one operation under `node`, which `want` must accept.
fn only_op<'a>(
    node: &'a Timestamp,
    what: &str,
    want: impl Fn(&Op) -> bool,
) -> Result<&'a Timestamp, String> {
    match node.entries.as_slice() {
        [Entry::Op(op, next)] if want(op) => Ok(next),
        _ => Err(format!(
            "where the leaf path has {what}, the .ots has something else"
        )),
    }
}

/// Follows the c2c leaf path from `digest` to SHA-256(`root_bin`); the number of tree
/// levels and the timestamp at SHA-256(root.bin).
fn leaf_path<'a>(
    file: &'a DetachedTimestamp,
    digest: &[u8; 32],
    root_bin: &[u8],
) -> Result<(usize, &'a Timestamp), String> {
    if file.file_hash != Op::Sha256 || file.digest() != digest {
        return Err(format!(
            "it stamps {}, not the manifest digest {}",
            merkle::hash::encode_hex(file.digest()),
            merkle::hash::encode_hex(digest)
        ));
    }
    let mut node = only_op(&file.timestamp, "hexlify", |op| *op == Op::Hexlify)?;
    node = only_op(node, "the leaf prefix", |op| {
        *op == Op::Prepend(merkle::hash::LEAF_PREFIX.to_vec())
    })?;
    node = only_op(node, "prepend 00", |op| *op == Op::Prepend(vec![0]))?;
    node = only_op(node, "sha256", |op| *op == Op::Sha256)?;
    // RFC 9162 trees of at most 2^64 leaves have at most 64 levels.
    for levels in 0..=64 {
        if node.msg == root_bin {
            let end = only_op(node, "sha256 of root.bin", |op| *op == Op::Sha256)?;
            return Ok((levels, end));
        }
        let sibling = |op: &Op| matches!(op, Op::Prepend(s) | Op::Append(s) if s.len() == 32);
        node = only_op(node, "a 32-byte sibling", sibling)?;
        node = only_op(node, "prepend 01", |op| *op == Op::Prepend(vec![1]))?;
        node = only_op(node, "sha256", |op| *op == Op::Sha256)?;
    }
    Err("the path does not reach root.bin within 64 levels".into())
}
