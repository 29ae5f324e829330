//! `anchor reserves verify`: a served reserve attestation against the operator's JWKS, by
//! `domain::reserve::attestation`'s rules, one check per step in the order they run:
//!
//! | check | what | rests on |
//! |---|---|---|
//! | `signature` | `sig` (ES256, `kid` from the JWKS) over `JCS(payload)`, and `payload_hash` | the operator's key |
//! | `format` | strict decoding, the one written form, schema and version | hashes |
//! | `balances` | the balances' format, period, every total and the ratio re-derived, I3, `balance_digest` | hashes |
//! | `anchor` | the embedded run summary (its hash and signature), its root, and the inclusion proof of `balance_digest` | the operator's key |
//!
//! A step that fails ends the report (the later ones rest on it). Bytes that are not JSON
//! are bad input. The CLI prints [`Checked::text`] and exits with the verdict's code, saying
//! [`Checked::failure`] on stderr.

use std::fmt::Write as _;

use domain::formats::RunSummary;
use domain::ids::format_ts;
use domain::keys::Jwks;
use domain::keys::KeyId;
use domain::reserve::ReserveError;
use domain::reserve::attestation::{self, Attestation, Served};
use domain::reserve::types::AssetId;

use crate::input::{Bad, InputError};
use crate::report::{Basis, Check, Report};

/// The report of one attestation, what the CLI prints for it and why it failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    pub report: Report,
    /// `attestation … VALID: …` and `balances … anchored by …` (and the assets counted as 0)
    /// when every check passed; empty otherwise.
    pub text: String,
    /// `reserve attestation is NOT valid: …` when a check failed.
    pub failure: Option<String>,
}

/// The check a failed step is reported as.
fn check_of(e: &ReserveError) -> &'static str {
    match e {
        ReserveError::Signature(_) => "signature",
        ReserveError::Format(_) => "format",
        ReserveError::Binding(_)
        | ReserveError::StaleSummary { .. }
        | ReserveError::Domain(_)
        | ReserveError::Merkle(_) => "anchor",
        _ => "balances",
    }
}

/// Every check of a served attestation (see the module).
pub fn check(served: &[u8], jwks: &Jwks) -> Result<Checked, InputError> {
    let value =
        attestation::parse(served).map_err(|e| InputError::new(Bad::Attestation, e.to_string()))?;
    let mut report = Report::default();
    let failed = |mut report: Report, e: ReserveError| {
        report.push(Check::failed(check_of(&e), e.to_string()));
        Ok(Checked {
            report,
            text: String::new(),
            failure: Some(format!("reserve attestation is NOT valid: {e}")),
        })
    };
    let (kid, hash) = match attestation::check_signature(&value, jwks) {
        Ok(k) => k,
        Err(e) => return failed(report, e),
    };
    report.push(Check::ok(
        "signature",
        format!("ES256 by key {kid} over the canonical payload, payload_hash {hash}"),
    ));
    let served: Served = match attestation::decode(&value) {
        Ok(s) => s,
        Err(e) => return failed(report, e),
    };
    let a = &served.payload.attestation;
    report.push(Check::ok(
        "format",
        format!(
            "{} version {}, attestation {}",
            served.payload.schema, served.payload.version, a.id
        ),
    ));
    if let Err(e) = attestation::check_balances(a) {
        return failed(report, e);
    }
    let c = &a.balances.computation;
    report.push(Check::ok(
        "balances",
        format!(
            "totals and ratio re-derived: coverage {} bps (min {} bps), fully backed: {}; \
             balance digest {}",
            c.coverage_ratio_bps,
            a.balances.min_reserve_ratio_bps,
            c.fully_backed,
            a.balance_digest
        ),
    ));
    let summary = match a.anchor.check(&a.balance_digest, jwks) {
        Ok(s) => s,
        Err(e) => return failed(report, e),
    };
    report.push(
        Check::ok(
            "anchor",
            format!(
                "run summary seq {} of tenant {} period {} signed, root {}, balance digest at \
                 leaf {} of {}",
                summary.seq,
                summary.tenant,
                summary.period,
                a.anchor.root,
                a.anchor.proof.leaf_index,
                a.anchor.proof.tree_size
            ),
        )
        .resting_on(Basis::OperatorKey),
    );
    let text = valid_text(a, &served.kid, &summary);
    Ok(Checked {
        report,
        text,
        failure: None,
    })
}

/// What `anchor reserves verify` prints for a valid attestation.
fn valid_text(a: &Attestation, kid: &KeyId, summary: &RunSummary) -> String {
    let c = &a.balances.computation;
    let mut text = format!(
        "attestation {} VALID: signed by {}, coverage {} bps (min {} bps), fully backed: {}\n",
        a.id, kid, c.coverage_ratio_bps, a.balances.min_reserve_ratio_bps, c.fully_backed
    );
    let _ = writeln!(
        text,
        "balances {} anchored by tenant {} period {} run {} (summary seq {}, {}), root {}",
        a.balance_digest,
        summary.tenant,
        summary.period,
        summary.run_id,
        summary.seq,
        format_ts(summary.ts),
        a.anchor.root
    );
    if !c.missing.is_empty() || !c.stale.is_empty() {
        let _ = writeln!(
            text,
            "counted as 0: missing {:?}, stale {:?}",
            c.missing.iter().map(AssetId::as_str).collect::<Vec<_>>(),
            c.stale.iter().map(AssetId::as_str).collect::<Vec<_>>()
        );
    }
    text
}
