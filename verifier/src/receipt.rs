//! The checks of one receipt, as pure functions over bytes already read (`mod.rs` does the
//! reading and fetching). Each check gives one [`Check`]:
//!
//! | name              | what is checked |
//! |-------------------|-----------------|
//! | `signature`       | the receipt's ES256 signature against the JWKS key its `kid` names |
//! | `root.bin`        | `root.bin` is exactly the 32 bytes of the receipt's `root` |
//! | `artifact FILE`   | the SHA-256 of `root.ots` / `root.tsr` is the one the receipt lists for that anchor |
//! | `ots`             | the `.ots` stamps SHA-256(root.bin); when the receipt says `confirmed`, its Bitcoin attestation checks against the block header at the receipt's height, whose hash and time are the receipt's; when `pending`, it waits at calendars (pending) |
//! | `tsa`             | the `.tsr` is granted, its imprint is SHA-256(root.bin), its CMS signature verifies, the signer has the critical timeStamping EKU and chains to `--ca` at genTime, and its genTime is the receipt's (to the millisecond the receipt records) |
//! | `chain`           | (receipt) the tenant's chain verifies (`domain::chain::verify_jsonl`: seq, prev links, times, tenant, signatures) |
//! | `summary`         | the run summary whose SHA-256 is the receipt's `summary_hash` is there (a line of the chain, or the bundle's summary with a valid signature) and records the receipt's tenant, period, run and root |
//!
//! Decisions: `c2c.receipt.v1` names no TSA policy, so any policy is accepted and the token's
//! is printed. A TSA anchor verified without `--ca` fails (the chain is part of the claim).
//! A receipt that says `confirmed` fails when no header source was given, with that reason. An
//! anchor the receipt records as `skipped` (OpenTimestamps off or unreachable at anchoring;
//! a catch-up stamps it later) is pending; one recorded as `failed` fails.

use domain::formats::{AnchorEntry, Receipt, RunSummary, sha256_hex};
use domain::ids::format_ts;
use domain::keys::Jwks;
use domain::{AnchorKind, AnchorStatus};
use sha2::{Digest as _, Sha256};
use stamp::DetachedTimestamp;
use stamp::bitcoin::{HeaderSource as _, HeadersFile, Network};
use stamp::tsp::{HashAlg, MessageImprint, TimeStampResponse, VerifyOptions};
use stamp::verify::{Finding, verify_file};

use crate::report::{Basis, Check, Report};

/// Where block headers come from, as the edge resolved it.
#[derive(Debug)]
pub enum HeaderInput {
    /// No `--headers`, `--esplora` or `--bitcoind`; the chain receipts must name.
    None(Network),
    /// Headers (read from a file, or fetched for exactly the heights the proofs name) and a
    /// description of where they came from.
    Source {
        headers: HeadersFile,
        name: String,
        /// The height of the source's best block, when it said (remote sources): how deep a
        /// confirmation is, in the source's word.
        tip: Option<u64>,
    },
    /// The remote source could not be asked: the reason, and the chain it was asked about.
    Unreachable(String, Network),
}

impl HeaderInput {
    /// The chain this verifier checks: receipts must name it and headers meet its rules.
    pub fn network(&self) -> Network {
        match self {
            HeaderInput::None(n) | HeaderInput::Unreachable(_, n) => *n,
            HeaderInput::Source { headers, .. } => headers.network(),
        }
    }
}

/// The run summary to look the receipt's `summary_hash` up in.
#[derive(Clone, Copy, Debug)]
pub enum SummaryInput<'a> {
    /// The tenant's whole chain (JSONL): it must verify and hold the summary.
    Chain(&'a [u8]),
    /// One summary's exact bytes (a bundle): its hash and signature are checked.
    Summary(&'a [u8]),
}

/// What a receipt is checked against.
#[derive(Debug)]
pub struct Evidence<'a> {
    pub receipt: &'a Receipt,
    pub jwks: &'a Jwks,
    pub root_bin: &'a [u8],
    pub root_ots: Option<&'a [u8]>,
    pub root_tsr: Option<&'a [u8]>,
    pub summary: SummaryInput<'a>,
    pub tsa: &'a VerifyOptions,
    pub headers: &'a HeaderInput,
}

/// Every check of the module documentation, in its order.
pub fn check(ev: &Evidence<'_>) -> Report {
    let r = ev.receipt;
    let mut report = Report::default();
    report.push(match r.verify_signature(ev.jwks) {
        Ok(()) => Check::ok(
            "signature",
            format!(
                "ES256 by key {} over receipt version {} of {} {}",
                r.kid, r.version, r.tenant, r.period
            ),
        ),
        Err(e) => Check::failed("signature", e.to_string()),
    });
    report.push(root_bin(r, ev.root_bin));
    for entry in &r.anchors {
        let (file, bytes) = match entry.kind {
            AnchorKind::Ots => ("root.ots", ev.root_ots),
            AnchorKind::Tsa => ("root.tsr", ev.root_tsr),
        };
        let name = entry.kind.to_string();
        match entry.status {
            AnchorStatus::Failed => {
                report.push(Check::failed(
                    name,
                    "the receipt records this anchor as failed",
                ));
                continue;
            }
            AnchorStatus::Skipped => {
                report.push(Check::pending(
                    name,
                    "the receipt records this anchor as skipped at anchoring; a catch-up run \
                     stamps the root later and publishes a new receipt version",
                ));
                continue;
            }
            AnchorStatus::Pending | AnchorStatus::Confirmed => {}
        }
        let Some(bytes) = bytes else {
            report.push(Check::malformed(name, format!("{file} was not supplied")));
            continue;
        };
        if let Some(artifact) = &entry.artifact {
            let got = sha256_hex(bytes);
            report.push(if got == artifact.sha256 {
                Check::ok(
                    format!("artifact {file}"),
                    format!("SHA-256 {got}, as the receipt lists for {}", artifact.key),
                )
            } else {
                Check::failed(
                    format!("artifact {file}"),
                    format!(
                        "SHA-256 {got}, but the receipt lists {} for {}",
                        artifact.sha256, artifact.key
                    ),
                )
            });
        }
        report.push(match entry.kind {
            AnchorKind::Ots => ots(entry, bytes, ev.root_bin, ev.headers),
            AnchorKind::Tsa => tsa(entry, bytes, ev.root_bin, ev.tsa),
        });
    }
    match ev.summary {
        SummaryInput::Chain(chain) => {
            report.push(chain_check(r, chain, ev.jwks));
            report.push(summary_in_chain(r, chain));
        }
        SummaryInput::Summary(bytes) => report.push(summary_alone(r, bytes, ev.jwks)),
    }
    report
}

fn root_bin(r: &Receipt, bytes: &[u8]) -> Check {
    if bytes == r.root.0.0 {
        Check::ok(
            "root.bin",
            format!("the 32 bytes are the receipt's root {}", r.root),
        )
    } else if bytes.len() == 32 {
        Check::failed(
            "root.bin",
            format!(
                "holds {}, the receipt's root is {}",
                merkle::hash::encode_hex(bytes),
                r.root
            ),
        )
    } else {
        Check::failed(
            "root.bin",
            format!("holds {} bytes, not the 32 of a root", bytes.len()),
        )
    }
}

/// The OTS check of one anchor against `root.ots`.
pub fn ots(entry: &AnchorEntry, bytes: &[u8], root_bin: &[u8], headers: &HeaderInput) -> Check {
    let file = match DetachedTimestamp::from_bytes(bytes) {
        Ok(f) => f,
        Err(e) => return Check::malformed("ots", format!("root.ots: {e}")),
    };
    let want: [u8; 32] = Sha256::digest(root_bin).into();
    let empty = HeadersFile::default();
    let (source, source_name) = match headers {
        HeaderInput::Source { headers, name, .. } => (headers, name.as_str()),
        HeaderInput::None(_) | HeaderInput::Unreachable(..) => (&empty, ""),
    };
    let findings = match verify_file(&file, &want, source) {
        Ok((_, findings)) => findings,
        Err(e) => {
            return Check::failed(
                "ots",
                format!("root.ots does not stamp SHA-256(root.bin): {e}"),
            );
        }
    };
    let regtest = if headers.network() == Network::Regtest {
        " (regtest headers, as --regtest asked: regtest work proves nothing about time)"
    } else {
        ""
    };
    let failures: Vec<&str> = findings
        .iter()
        .filter_map(|f| match f {
            Finding::Failed { reason } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    match (&entry.status, &entry.bitcoin) {
        (AnchorStatus::Confirmed, Some(b)) => {
            ots_confirmed(b, &findings, &failures, headers, source_name, regtest)
        }
        _ => ots_unconfirmed(&findings, &failures, headers, regtest),
    }
}

/// A receipt that says confirmed in block `b`: the `.ots` must show it, checked against a
/// header.
fn ots_confirmed(
    b: &domain::formats::Bitcoin,
    findings: &[Finding],
    failures: &[&str],
    headers: &HeaderInput,
    source_name: &str,
    regtest: &str,
) -> Check {
    let network_note = match network_check(b, headers.network()) {
        Ok(note) => note,
        Err(check) => return check,
    };
    if let Some(failed) = no_headers(b, headers) {
        return failed;
    }
    for f in findings {
        match f {
            Finding::Bitcoin {
                height,
                block_hash,
                time,
                txid,
            } if *height == b.height && (b.txid.is_none() || *txid == b.txid) => {
                let header_time = i64::from(*time);
                if *block_hash != b.block_hash || header_time != b.time.timestamp() {
                    return Check::failed(
                        "ots",
                        format!(
                            "block {height} is {block_hash} at unix time {time}, the \
                             receipt says {} at {}",
                            b.block_hash,
                            format_ts(b.time)
                        ),
                    );
                }
                let through = match &b.txid {
                    Some(t) => format!(" through transaction {t}"),
                    None => String::new(),
                };
                let basis = work_basis(headers, *height, format_ts(b.time));
                return Check::ok(
                    "ots",
                    format!(
                        "root.ots stamps SHA-256(root.bin){through} into Bitcoin block \
                         {height} ({block_hash}, {}), as the receipt says{regtest}{network_note}",
                        format_ts(b.time)
                    ),
                )
                .resting_on(basis);
            }
            Finding::NoHeader { height } if *height == b.height => {
                return Check::failed(
                    "ots",
                    format!("no header for block {height} in {source_name}"),
                );
            }
            _ => {}
        }
    }
    not_there(b, findings, failures)
}

/// A failed check when there are no headers to check block `b` against: none were given, or
/// the source could not be reached.
fn no_headers(b: &domain::formats::Bitcoin, headers: &HeaderInput) -> Option<Check> {
    match headers {
        HeaderInput::None(_) => Some(Check::failed(
            "ots",
            format!(
                "the receipt says confirmed in Bitcoin block {}, but no header source \
                 was given to check it (pass --headers FILE, --esplora URL or \
                 --bitcoind URL)",
                b.height
            ),
        )),
        HeaderInput::Unreachable(why, _) => Some(Check::failed(
            "ots",
            format!("could not fetch the header of block {}: {why}", b.height),
        )),
        HeaderInput::Source { .. } => None,
    }
}

/// Why no attestation of the `.ots` confirms block `b` as the receipt says: another
/// transaction, no attestation there, or the verifier's own failures.
fn not_there(b: &domain::formats::Bitcoin, findings: &[Finding], failures: &[&str]) -> Check {
    let other_tx = findings.iter().find_map(|f| match f {
        Finding::Bitcoin { height, txid, .. } if *height == b.height => Some(txid),
        _ => None,
    });
    Check::failed(
        "ots",
        if let (Some(found), Some(said)) = (other_tx, &b.txid) {
            format!(
                "root.ots reaches block {} through transaction {}, the receipt says {said}",
                b.height,
                found
                    .as_deref()
                    .unwrap_or("(none: no transaction on the path)")
            )
        } else if failures.is_empty() {
            format!(
                "the receipt says Bitcoin block {}, but root.ots has no attestation there",
                b.height
            )
        } else {
            format!("block {}: {}", b.height, failures.join("; "))
        },
    )
}

/// What a verified Bitcoin attestation in block `height` (time `at`) rests on: regtest work,
/// or Bitcoin proof of work as deep as the source's tip says.
fn work_basis(headers: &HeaderInput, height: u64, at: String) -> Basis {
    if headers.network() == Network::Regtest {
        return Basis::RegtestWork;
    }
    let depth = match headers {
        HeaderInput::Source { tip: Some(tip), .. } => tip.checked_sub(height).map(|d| d + 1),
        _ => None,
    };
    Basis::ProofOfWork { at, height, depth }
}

/// The receipt's chain against the verifier's: a note for the `✓` line (empty, or that the
/// receipt predates its network field), or the failed check when they differ.
fn network_check(b: &domain::formats::Bitcoin, verifier: Network) -> Result<String, Check> {
    match b.network {
        Some(n) if n.name() == verifier.name() => Ok(String::new()),
        Some(n) => Err(Check::failed(
            "ots",
            format!(
                "the receipt names a block on the {} network, and this verifier checks {}{}",
                n.name(),
                verifier.name(),
                if verifier == Network::Regtest {
                    ""
                } else {
                    " (a regtest receipt verifies only with --regtest, and proves nothing about \
                     time)"
                }
            ),
        )),
        None => Ok(format!(
            "; the receipt predates its network field, checked as {}",
            verifier.name()
        )),
    }
}

/// A receipt that says pending: pending unless the `.ots` already verifies (or fails).
fn ots_unconfirmed(
    findings: &[Finding],
    failures: &[&str],
    headers: &HeaderInput,
    regtest: &str,
) -> Check {
    if !failures.is_empty() {
        return Check::failed("ots", failures.join("; "));
    }
    if let Some(Finding::Bitcoin {
        height,
        block_hash,
        time,
        ..
    }) = stamp::verify::earliest_bitcoin(findings)
    {
        let at = chrono::DateTime::from_timestamp(i64::from(*time), 0)
            .map_or_else(|| time.to_string(), format_ts);
        return Check::ok(
            "ots",
            format!(
                "the receipt says pending, and root.ots already stamps SHA-256(root.bin) \
                 into Bitcoin block {height} ({block_hash}){regtest}"
            ),
        )
        .resting_on(work_basis(headers, *height, at));
    }
    let calendars: Vec<&str> = findings
        .iter()
        .filter_map(|f| match f {
            Finding::Pending { uri } => Some(uri.as_str()),
            _ => None,
        })
        .collect();
    Check::pending(
        "ots",
        format!(
            "root.ots stamps SHA-256(root.bin) and waits at {}; not yet in Bitcoin",
            if calendars.is_empty() {
                "no calendar".to_owned()
            } else {
                calendars.join(", ")
            }
        ),
    )
}

/// The RFC 3161 check of one anchor against `root.tsr`.
pub fn tsa(entry: &AnchorEntry, bytes: &[u8], root_bin: &[u8], opts: &VerifyOptions) -> Check {
    let response = match TimeStampResponse::from_der(bytes) {
        Ok(r) => r,
        Err(e) => return Check::malformed("tsa", format!("root.tsr: {e}")),
    };
    let token = match stamp::tsp::granted_token(&response, opts) {
        Ok(t) => t,
        Err(e) => return Check::failed("tsa", e.to_string()),
    };
    let imprint = MessageImprint::of_data(HashAlg::Sha256, root_bin);
    let verified = match stamp::tsp::verify_token(token, &imprint, None, opts) {
        Ok(v) => v,
        Err(e) => return Check::failed("tsa", e.to_string()),
    };
    if !verified.trusted {
        return Check::failed(
            "tsa",
            "imprint, signature and EKU verify, but the certificate chain was not checked: pass \
             --ca with the TSA's CA certificate",
        );
    }
    let gen_time = format_ts(verified.info.gen_time);
    let claimed = entry.gen_time.map(format_ts);
    if claimed.as_deref() != Some(gen_time.as_str()) {
        return Check::failed(
            "tsa",
            format!(
                "the token's genTime is {gen_time}, the receipt says {}",
                claimed.as_deref().unwrap_or("none")
            ),
        );
    }
    Check::ok(
        "tsa",
        format!(
            "RFC 3161 token over SHA-256(root.bin), genTime {} (as the receipt says), policy {}, \
             chain {}",
            stamp::tsp::format_time(verified.info.gen_time),
            verified.info.policy,
            verified.path.join(" → ")
        ),
    )
    .resting_on(Basis::TsaCa { at: gen_time })
}

fn chain_check(r: &Receipt, chain: &[u8], jwks: &Jwks) -> Check {
    match domain::chain::verify_jsonl(chain, jwks) {
        Ok(c) if c.tenant != r.tenant => Check::failed(
            "chain",
            format!(
                "the chain is tenant {}'s, the receipt {}'s",
                c.tenant, r.tenant
            ),
        ),
        Ok(c) => Check::ok(
            "chain",
            format!(
                "tenant {}: {} summaries, links, times and signatures valid, head {}",
                c.tenant, c.lines, c.head_hash
            ),
        ),
        Err(e) => Check::failed("chain", e.to_string()),
    }
}

/// The facts a summary must share with the receipt that names it.
fn same_run(s: &RunSummary, r: &Receipt) -> Result<(), String> {
    if s.tenant != r.tenant || s.period != r.period {
        return Err(format!(
            "it records {} {}, the receipt {} {}",
            s.tenant, s.period, r.tenant, r.period
        ));
    }
    if s.run_id != r.run_id {
        return Err(format!(
            "it records run {}, the receipt {}",
            s.run_id, r.run_id
        ));
    }
    if s.root != Some(r.root) {
        return Err(format!(
            "it records root {}, the receipt {}",
            s.root.map_or_else(|| "none".to_owned(), |x| x.to_string()),
            r.root
        ));
    }
    Ok(())
}

fn summary_in_chain(r: &Receipt, chain: &[u8]) -> Check {
    let body = chain.strip_suffix(b"\n").unwrap_or(chain);
    let found = body
        .split(|&b| b == b'\n')
        .enumerate()
        .find(|(_, line)| sha256_hex(line) == r.summary_hash);
    let Some((i, line)) = found else {
        return Check::failed(
            "summary",
            format!(
                "no line of the chain has SHA-256 {}, the summary the receipt names",
                r.summary_hash
            ),
        );
    };
    match RunSummary::from_bytes(line)
        .map_err(|e| e.to_string())
        .and_then(|s| {
            same_run(&s, r)?;
            Ok(s)
        }) {
        Ok(s) => Check::ok(
            "summary",
            format!(
                "line {} of the chain (seq {}, run {}) has SHA-256 {}, the receipt's summary_hash",
                i + 1,
                s.seq,
                s.run_id,
                r.summary_hash
            ),
        ),
        Err(e) => Check::failed("summary", format!("line {}: {e}", i + 1)),
    }
}

fn summary_alone(r: &Receipt, bytes: &[u8], jwks: &Jwks) -> Check {
    let hash = sha256_hex(bytes);
    if hash != r.summary_hash {
        return Check::failed(
            "summary",
            format!(
                "its SHA-256 is {hash}, the receipt names {}",
                r.summary_hash
            ),
        );
    }
    let s = match RunSummary::from_bytes(bytes) {
        Ok(s) => s,
        Err(e) => return Check::malformed("summary", e.to_string()),
    };
    if let Err(e) = s.verify_signature(jwks) {
        return Check::failed("summary", e.to_string());
    }
    if let Err(e) = same_run(&s, r) {
        return Check::failed("summary", e);
    }
    Check::ok(
        "summary",
        format!(
            "seq {} of {}'s chain, ES256 by key {}, SHA-256 {} as the receipt names, run {}",
            s.seq, s.tenant, s.kid, hash, s.run_id
        ),
    )
}

/// What is known of newer versions of a checked receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Latest {
    /// Nothing: the receipt was checked offline.
    Offline,
    /// The API was asked for the period's latest receipt: its version, or `None` when it did
    /// not say.
    AtApi(Option<u32>),
}

/// The closing `note version` line of `anchor verify receipt`: which version was checked,
/// and whether a newer one supersedes it.
pub fn version_note(receipt: &Receipt, latest: Latest) -> Check {
    let checked = receipt.version;
    Check::note(
        "version",
        match latest {
            Latest::Offline => format!(
                "checked receipt version {checked}; whether a newer version supersedes it is \
                 not known offline (verify with --api to ask)"
            ),
            Latest::AtApi(Some(l)) if l > checked => format!(
                "checked receipt version {checked}, which version {l} at the API supersedes: \
                 verify the latest for the newest evidence"
            ),
            Latest::AtApi(Some(_)) => {
                format!("checked receipt version {checked}, the latest at the API")
            }
            Latest::AtApi(None) => {
                format!("checked receipt version {checked}; the API did not say which is latest")
            }
        },
    )
}
