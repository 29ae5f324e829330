//! The verifier for Node: `verifyProof`, `verifyReceipt`, `verifyBundle`, `verifyChain` and
//! `computeRoot`, each over bytes the caller already has. A thin adapter: every check, every
//! input rule and every printed line is the `verifier` crate's (which `anchor verify` uses
//! too); this crate only converts JS values in and reports out.
//!
//! Bad input (a document that does not parse, a missing artifact, an unknown option) throws a
//! JS `Error` whose `code` is `verifier::input::Bad::code` (`ERR_BAD_RECEIPT`, …); a panic
//! would be a bug, and throws `ERR_INTERNAL` instead of taking the Node process down.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use domain::bundle::Bundle;
use domain::formats::Receipt;
use domain::keys::Jwks;
use merkle::{ManifestDigest, ProofV1, Root};
use napi::bindgen_prelude::{Either, Uint8Array};
use napi_derive::napi;
use verifier::input::{self, Bad, Downloads, InputError};
use verifier::receipt::{HeaderInput, Latest};
use verifier::report;

/// A thrown error: its `code` and message.
type Thrown = napi::Error<String>;

fn thrown(e: InputError) -> Thrown {
    napi::Error::new(e.kind.code().to_owned(), e.message)
}

fn bad(kind: Bad, message: impl Into<String>) -> Thrown {
    thrown(InputError::new(kind, message))
}

/// Runs `f`, turning a panic into a thrown `ERR_INTERNAL` (a panic must never unwind into
/// Node).
fn guarded<T>(f: impl FnOnce() -> Result<T, Thrown>) -> Result<T, Thrown> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(napi::Error::new(
            "ERR_INTERNAL".to_owned(),
            format!("the verifier panicked (a bug): {what}"),
        ))
    })
}

/// The options of every `verify*` function; each reads the ones it needs.
#[napi(object, object_to_js = false)]
#[derive(Default)]
#[allow(missing_debug_implementations)] // napi's Uint8Array has no Debug
pub struct Options {
    /// The operator's JWKS (`jwks.json`). `verifyReceipt`: overrides `artifacts["jwks.json"]`.
    pub jwks: Option<Uint8Array>,
    /// The TSA's CA certificate(s), PEM or one DER certificate (`--ca`).
    pub ca: Option<Uint8Array>,
    /// Bitcoin block headers, JSON `{"height": "80-byte header hex"}` (`--headers`).
    pub headers: Option<Uint8Array>,
    /// How the report names the headers (default `headers.json`).
    pub headers_name: Option<String>,
    /// `bitcoin` (default) or `regtest` (`--regtest`).
    pub network: Option<String>,
    /// `verifyReceipt`: the downloaded files by name: `root.bin`, `root.ots`, `root.tsr`,
    /// `jwks.json`, `chain.jsonl`.
    pub artifacts: Option<HashMap<String, Uint8Array>>,
    /// `verifyReceipt`: the tenant's chain (overrides `artifacts["chain.jsonl"]`).
    pub chain: Option<Uint8Array>,
    /// `verifyProof`: the root the proof must lead to (`--root`).
    pub root: Option<String>,
    /// `verifyProof`: the receipt the proof must belong to (`--receipt`).
    pub receipt: Option<Uint8Array>,
    /// `verifyCheckpoint`: the log's verifier key (`log/{tenant}/vkey`, `name+id+key`).
    pub vkey: Option<String>,
    /// `verifyCheckpoint`: the tenant whose receipt log it is.
    pub tenant: Option<String>,
    /// `verifyCheckpoint`: a checkpoint verified before.
    pub previous: Option<Previous>,
    /// `verifyCheckpoint`: the consistency proof from `previous` to the checkpoint, hex.
    pub consistency: Option<Vec<String>>,
}

/// A checkpoint verified before: its tree size and root (hex).
#[napi(object)]
#[derive(Debug)]
pub struct Previous {
    pub size: i64,
    pub root: String,
}

/// What a passed check rests on.
#[napi(object)]
#[derive(Debug)]
pub struct Basis {
    /// `hashes`, `regtest-work`, `operator-key`, `tsa-ca` or `proof-of-work`.
    pub kind: String,
    /// The words of the report's `[rests on …]`.
    pub phrase: String,
    /// `tsa-ca`, `proof-of-work`: the time the evidence dates the root by.
    pub at: Option<String>,
    /// `proof-of-work`: the block's height.
    pub height: Option<i64>,
    /// `proof-of-work`: how deep the block is, when the header source said.
    pub depth: Option<i64>,
}

/// One check.
#[napi(object)]
#[derive(Debug)]
pub struct Check {
    pub name: String,
    /// `verified`, `failed`, `pending`, `malformed` or `note`.
    pub status: String,
    pub detail: String,
    pub basis: Basis,
}

/// A whole verification.
#[napi(object)]
#[derive(Debug)]
pub struct Report {
    /// `verified`, `failed`, `pending`, `malformed` or `nothing-checked`.
    pub verdict: String,
    /// The CLI's exit code for the verdict: 0, 1, 3 (2 for malformed or nothing checked).
    pub exit_code: i32,
    /// What the CLI says on stderr when it does not exit 0 (`NOT verified: 1 check(s)
    /// failed`, `proof is NOT valid: …`); `verified` otherwise.
    pub message: String,
    pub checks: Vec<Check>,
    /// Exactly what the CLI prints on stdout.
    pub text: String,
}

fn basis(b: &report::Basis) -> Basis {
    let (at, height, depth) = match b {
        report::Basis::TsaCa { at } => (Some(at.clone()), None, None),
        report::Basis::ProofOfWork { at, height, depth } => (
            Some(at.clone()),
            Some(*height as i64),
            depth.map(|d| d as i64),
        ),
        _ => (None, None, None),
    };
    Basis {
        kind: b.kind().to_owned(),
        phrase: b.phrase(),
        at,
        height,
        depth,
    }
}

/// `r` as JS sees it: `text` is what the CLI prints, `message` what it says on failure
/// (`failure`, else the verdict's words).
fn to_js(r: &report::Report, text: String, failure: Option<String>) -> Report {
    let verdict = r.verdict();
    Report {
        verdict: verdict.kind().to_owned(),
        exit_code: verdict.exit_code(),
        message: failure.unwrap_or_else(|| verdict.to_string()),
        checks: r
            .0
            .iter()
            .map(|c| Check {
                name: c.name.clone(),
                status: c.status.word().to_owned(),
                detail: c.detail.clone(),
                basis: basis(&c.basis),
            })
            .collect(),
        text,
    }
}

fn bytes(b: Option<&Uint8Array>) -> Option<&[u8]> {
    b.map(|b| &b[..])
}

/// The trust anchors of the options: the TSA's CA and the header source.
fn trust(o: &Options) -> Result<(stamp::tsp::VerifyOptions, HeaderInput), Thrown> {
    let network =
        input::network_named(o.network.as_deref().unwrap_or("bitcoin")).map_err(thrown)?;
    let tsa = input::tsa_options(bytes(o.ca.as_ref())).map_err(thrown)?;
    let headers = match &o.headers {
        Some(json) => input::headers_file(
            json,
            o.headers_name.as_deref().unwrap_or("headers.json"),
            network,
            None,
        )
        .map_err(thrown)?,
        None => HeaderInput::None(network),
    };
    Ok((tsa, headers))
}

fn jwks(b: &[u8]) -> Result<Jwks, Thrown> {
    Jwks::from_json(b).map_err(|e| bad(Bad::Jwks, format!("the JWKS is not a usable JWK Set: {e}")))
}

fn receipt(b: &[u8]) -> Result<Receipt, Thrown> {
    Receipt::from_json(b).map_err(|e| {
        bad(
            Bad::Receipt,
            format!("not a well-formed c2c.receipt.v1: {e}"),
        )
    })
}

/// `anchor verify bundle`: every check of a `c2c.bundle.v1`. Options: `ca`, `headers`,
/// `network`.
#[napi]
pub fn verify_bundle(bundle: Uint8Array, options: Option<Options>) -> Result<Report, Thrown> {
    guarded(|| {
        let o = options.unwrap_or_default();
        let bundle = Bundle::from_json(&bundle)
            .map_err(|e| bad(Bad::Bundle, format!("not a usable bundle: {e}")))?;
        let (tsa, headers) = trust(&o)?;
        let r = verifier::bundle::check(&bundle, &tsa, &headers);
        Ok(to_js(&r, r.lines(), None))
    })
}

/// `anchor verify receipt` offline: every check of a receipt against the files downloaded
/// beside it. Options: `artifacts`, `jwks`, `chain`, `ca`, `headers`, `network`.
#[napi]
pub fn verify_receipt(
    receipt_json: Uint8Array,
    options: Option<Options>,
) -> Result<Report, Thrown> {
    guarded(|| {
        let o = options.unwrap_or_default();
        let receipt = receipt(&receipt_json)?;
        let empty = HashMap::new();
        let artifacts = o.artifacts.as_ref().unwrap_or(&empty);
        let files = Downloads::gather(&receipt, |needed| {
            let given = match needed.name {
                "jwks.json" => o.jwks.as_ref(),
                "chain.jsonl" => o.chain.as_ref(),
                _ => None,
            };
            given
                .or_else(|| artifacts.get(needed.name))
                .map(|b| b.to_vec())
                .ok_or_else(|| thrown(needed.missing(needed.name)))
        })?;
        let (tsa, headers) = trust(&o)?;
        let mut r = files.check(&receipt, &tsa, &headers).map_err(thrown)?;
        r.push(verifier::receipt::version_note(&receipt, Latest::Offline));
        Ok(to_js(&r, r.lines(), None))
    })
}

/// `anchor verify proof`: a `c2c.proof.v1` against `root`, or bound to `receipt` (and its
/// signature, with `jwks`).
#[napi]
pub fn verify_proof(proof: Uint8Array, options: Option<Options>) -> Result<Report, Thrown> {
    guarded(|| {
        let o = options.unwrap_or_default();
        let proof = ProofV1::from_json(&proof)
            .map_err(|e| bad(Bad::Proof, format!("not a well-formed c2c.proof.v1: {e}")))?;
        let root: Option<Root> = o
            .root
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e| bad(Bad::Option, format!("root is not a c2c root string: {e}")))?;
        let receipt = o.receipt.as_ref().map(|b| receipt(b)).transpose()?;
        let jwks = o.jwks.as_ref().map(|b| jwks(b)).transpose()?;
        let r = verifier::proof::check(&proof, root.as_ref(), receipt.as_ref(), jwks.as_ref());
        let failure =
            r.0.iter()
                .find(|c| c.status == report::Status::Failed)
                .map(|c| c.detail.clone());
        Ok(to_js(&r, verifier::proof::stdout(&r), failure))
    })
}

/// `anchor ledger verify`: a run-summary chain (JSONL) against `options.jwks`.
#[napi]
pub fn verify_chain(chain: Uint8Array, options: Option<Options>) -> Result<Report, Thrown> {
    guarded(|| {
        let o = options.unwrap_or_default();
        let keys = o
            .jwks
            .as_ref()
            .ok_or_else(|| bad(Bad::Jwks, "verifyChain needs options.jwks"))?;
        let r = verifier::chain::check(&chain, &jwks(keys)?).map_err(thrown)?;
        let failure =
            r.0.iter()
                .find(|c| c.status == report::Status::Failed)
                .map(|c| format!("the chain is NOT valid: {}", c.detail));
        Ok(to_js(&r, verifier::chain::stdout(&r), failure))
    })
}

/// `anchor reserves verify`: a served reserve attestation against `options.jwks`.
#[napi]
pub fn verify_attestation(
    attestation: Uint8Array,
    options: Option<Options>,
) -> Result<Report, Thrown> {
    guarded(|| {
        let o = options.unwrap_or_default();
        let keys = o
            .jwks
            .as_ref()
            .ok_or_else(|| bad(Bad::Jwks, "verifyAttestation needs options.jwks"))?;
        let c = verifier::attestation::check(&attestation, &jwks(keys)?).map_err(thrown)?;
        Ok(to_js(&c.report, c.text, c.failure))
    })
}

/// A signed receipt-log checkpoint against `options.vkey` and `options.tenant`, and its
/// consistency with `options.previous` (through `options.consistency`).
#[napi]
pub fn verify_checkpoint(note: Uint8Array, options: Option<Options>) -> Result<Report, Thrown> {
    guarded(|| {
        let o = options.unwrap_or_default();
        let vkey = o
            .vkey
            .as_deref()
            .ok_or_else(|| bad(Bad::Option, "verifyCheckpoint needs options.vkey"))?;
        let tenant = o
            .tenant
            .as_deref()
            .ok_or_else(|| bad(Bad::Option, "verifyCheckpoint needs options.tenant"))?;
        let previous = o
            .previous
            .as_ref()
            .map(|p| {
                u64::try_from(p.size)
                    .map(|size| (size, p.root.as_str()))
                    .map_err(|_| bad(Bad::Option, "previous.size is negative"))
            })
            .transpose()?;
        let given = verifier::checkpoint::Given {
            vkey,
            tenant,
            previous,
            consistency: o.consistency.as_deref(),
        };
        let (r, _) = verifier::checkpoint::check(&note, &given).map_err(thrown)?;
        Ok(to_js(&r, r.lines(), None))
    })
}

/// `anchor proof --from`'s proof, one step at a time: `needs()` names the bucket objects to
/// read, `give(key, bytes | null)` hands each back, `proof()` is the verified
/// `c2c.proof.v1` text once nothing is needed (`index.js`'s `proofFromTiles` drives it).
#[napi]
#[derive(Debug)]
pub struct TileProof {
    inner: verifier::tiles::ProofFromTiles,
}

#[napi]
impl TileProof {
    #[napi(constructor)]
    pub fn new(tenant: String, period: String, digest: String) -> Result<TileProof, Thrown> {
        guarded(|| {
            Ok(TileProof {
                inner: verifier::tiles::ProofFromTiles::new(&tenant, &period, &digest)
                    .map_err(thrown)?,
            })
        })
    }

    /// The keys to read now; empty once the proof is ready.
    #[napi]
    pub fn needs(&self) -> Vec<String> {
        self.inner.needs()
    }

    /// The bytes of `key`, or `null` when the bucket has no such object.
    #[napi]
    pub fn give(&mut self, key: String, bytes: Option<Uint8Array>) -> Result<(), Thrown> {
        guarded(|| {
            self.inner
                .give(&key, bytes.map(|b| b.to_vec()))
                .map_err(thrown)
        })
    }

    /// The proof as `anchor proof --from` prints it, or `null` while objects are needed.
    #[napi]
    pub fn proof(&self) -> Option<String> {
        self.inner.proof().map(ProofV1::to_json_pretty)
    }
}

/// `anchor tree root` over a list of digests.
#[napi(object)]
#[derive(Debug)]
pub struct TreeRoot {
    /// The c2c root string.
    pub root: String,
    /// The number of distinct digests.
    pub tree_size: i64,
    /// Exactly the line `anchor tree root` prints.
    pub text: String,
}

/// The RFC 9162 root over the distinct `digests` in sorted order, as `anchor tree root`
/// computes it: each a 64-hex-digit string or 32 bytes.
#[napi]
pub fn compute_root(digests: Vec<Either<String, Uint8Array>>) -> Result<TreeRoot, Thrown> {
    guarded(|| {
        let mut all = digests
            .iter()
            .enumerate()
            .map(|(i, d)| match d {
                Either::A(hex) => ManifestDigest::from_hex(hex)
                    .map(|d| d.0)
                    .map_err(|e| bad(Bad::Digests, format!("digest {i}: {e}"))),
                Either::B(raw) => <[u8; 32]>::try_from(&raw[..]).map_err(|_| {
                    bad(
                        Bad::Digests,
                        format!(
                            "digest {i}: {} bytes, not the 32 of a SHA-256 digest",
                            raw.len()
                        ),
                    )
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        // As `anchor tree root`: the distinct digests, sorted.
        all.sort_unstable();
        all.dedup();
        if all.is_empty() {
            return Err(bad(Bad::Digests, "no digests"));
        }
        let root = merkle::stream::par_root_of_sorted_digests(&all, 1)
            .map_err(|e| bad(Bad::Digests, e.to_string()))?;
        let tree = merkle::TreeRoot::c2c(root, all.len() as u64);
        Ok(TreeRoot {
            root: tree.root.to_string(),
            tree_size: tree.tree_size as i64,
            text: tree.to_line(),
        })
    })
}
