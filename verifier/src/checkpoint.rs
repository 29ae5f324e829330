//! A signed checkpoint of a tenant's receipt log (C2SP signed note, Ed25519;
//! `domain::note`, `domain::receipt_log`) against the log's verifier key, and, given an
//! earlier checkpoint the caller trusts, that the log only grew (an RFC 9162 consistency
//! proof, `merkle::proof::verify_consistency`): what `anchor monitor` checks of each new
//! checkpoint before it reads the log, over bytes the caller already has.
//!
//! | check | what | rests on |
//! |---|---|---|
//! | `checkpoint` | a signature by the verifier key over the note's text, the origin `c2c.receipt-log/{tenant}`, a well-formed size and root | the operator's key (the log key derives from it) |
//! | `consistency` | (with a previous size and root) no rollback, no fork at the same size, and the consistency proof from the previous tree to this one | hashes |
//!
//! A note that is not a signed note at all is a `malformed` check; a signature that does not
//! verify, or a note the key did not sign, `failed`. A verifier key, tenant, previous root or
//! proof hash that does not parse is bad input, and so is a larger checkpoint without the
//! proof it needs.

use domain::TenantId;
use domain::note::{Checkpoint, NoteVerifier};
use domain::receipt_log::origin;
use merkle::TreeSize;
use merkle::hash::Hash;
use merkle::proof::verify_consistency;

use crate::input::{Bad, InputError};
use crate::report::{Basis, Check, Report};

/// A checkpoint verified before: its size and root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Previous {
    pub size: u64,
    pub root: Hash,
}

/// What a caller hands in besides the note, as text (the verifier key as the log publishes
/// it in `log/{tenant}/vkey`, hex hashes).
#[derive(Clone, Copy, Debug, Default)]
pub struct Given<'a> {
    pub vkey: &'a str,
    pub tenant: &'a str,
    /// `(size, root hex)` of a checkpoint verified before.
    pub previous: Option<(u64, &'a str)>,
    /// The consistency proof from `previous` to this checkpoint, hex hashes.
    pub consistency: Option<&'a [String]>,
}

fn bad(message: impl Into<String>) -> InputError {
    InputError::new(Bad::Checkpoint, message)
}

/// The parsed inputs: verifier key, tenant, previous checkpoint and proof.
fn inputs(
    g: &Given<'_>,
) -> Result<(NoteVerifier, TenantId, Option<Previous>, Vec<Hash>), InputError> {
    let vkey = NoteVerifier::parse(g.vkey).map_err(|e| bad(format!("verifier key: {e}")))?;
    let tenant =
        TenantId::new(g.tenant).map_err(|e| InputError::new(Bad::Option, e.to_string()))?;
    let previous = g
        .previous
        .map(|(size, root)| {
            Hash::from_hex("previous root", root)
                .map(|root| Previous { size, root })
                .map_err(|e| bad(e.to_string()))
        })
        .transpose()?;
    let proof = g
        .consistency
        .unwrap_or_default()
        .iter()
        .map(|h| Hash::from_hex("consistency proof hash", h).map_err(|e| bad(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((vkey, tenant, previous, proof))
}

/// Every check of a signed checkpoint (see the module), and the checkpoint when it opened.
pub fn check(note: &[u8], given: &Given<'_>) -> Result<(Report, Option<Checkpoint>), InputError> {
    let (vkey, tenant, previous, proof) = inputs(given)?;
    let origin = origin(&tenant);
    let mut report = Report::default();
    if let Err(e) = domain::note::unverified_text(note) {
        report.push(Check::malformed("checkpoint", e.to_string()));
        return Ok((report, None));
    }
    let cp = match vkey.open(note).map(Checkpoint::parse) {
        Err(e) => {
            report.push(Check::failed("checkpoint", e.to_string()));
            return Ok((report, None));
        }
        Ok(Err(e)) => {
            report.push(Check::malformed("checkpoint", e.to_string()));
            return Ok((report, None));
        }
        Ok(Ok(cp)) => cp,
    };
    if cp.origin != origin {
        report.push(Check::failed(
            "checkpoint",
            format!("origin {:?}, expected {origin:?}", cp.origin),
        ));
        return Ok((report, None));
    }
    report.push(
        Check::ok(
            "checkpoint",
            format!(
                "{origin}: size {}, root {}, signed by {} (key ID {:08x})",
                cp.size,
                cp.root.to_hex(),
                vkey.name(),
                vkey.key_id()
            ),
        )
        .resting_on(Basis::OperatorKey),
    );
    if let Some(p) = previous {
        if cp.size > p.size && given.consistency.is_none() {
            return Err(InputError::new(
                Bad::Option,
                format!(
                    "the checkpoint has size {}, larger than the previous {}: the consistency \
                     proof between them is needed",
                    cp.size, p.size
                ),
            ));
        }
        report.push(consistency(&p, &cp, &proof));
    }
    Ok((report, Some(cp)))
}

/// The `consistency` check of `cp` against `p`.
fn consistency(p: &Previous, cp: &Checkpoint, proof: &[Hash]) -> Check {
    if cp.size < p.size {
        return Check::failed(
            "consistency",
            format!(
                "rollback: the checkpoint has size {}, but size {} (root {}) was verified before",
                cp.size,
                p.size,
                p.root.to_hex()
            ),
        );
    }
    match verify_consistency(
        TreeSize(p.size),
        TreeSize(cp.size),
        &p.root,
        &cp.root,
        proof,
    ) {
        Ok(()) => Check::ok(
            "consistency",
            format!(
                "size {} (root {}) extends size {} (root {}), {} proof hash(es)",
                cp.size,
                cp.root.to_hex(),
                p.size,
                p.root.to_hex(),
                proof.len()
            ),
        ),
        Err(e) if cp.size == p.size => Check::failed(
            "consistency",
            format!(
                "fork: two checkpoints of size {} with different roots ({} before, {} now): {e}",
                cp.size,
                p.root.to_hex(),
                cp.root.to_hex()
            ),
        ),
        Err(e) => Check::failed(
            "consistency",
            format!(
                "fork: the checkpoint of size {} does not extend the one of size {} ({e})",
                cp.size, p.size
            ),
        ),
    }
}
