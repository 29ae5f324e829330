//! `anchor demo`: a fresh data directory, the dev TSA and calendars, one tenant per plan,
//! sample manifests over past periods, every due rollup through the real scheduler and
//! workers; then one block mined on each dev calendar (a local regtest chain, whose headers go
//! to `DATA/dev-headers.json`) and the workers' upgrade job run at once for every run whose
//! OTS anchor is pending, so every OTS anchor ends confirmed in a regtest block; then every
//! receipt and a sample of proofs verified (each Bitcoin attestation against
//! `dev-headers.json` on regtest, each `.tsr` by `openssl ts -verify` when openssl is
//! installed), and a table of the runs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ledger::blob::{BlobKey, ReceiptFormat, RootArtifact};
use ledger::formats::Receipt;
use ledger::sql::{ConsentAction, ConsentEntry, NewTenant, RunFilter, RunStatus, Visibility};
use ledger::{Plan, TenantId};
use merkle::ManifestDigest;
use proofs::PeriodProofs;
use scheduler_process::scheduler_loop;
use stamp::bitcoin::{HeadersFile, Network};
use stamp::dev::DevServices;
use stamp::tsp::{Certificate, VerifyOptions};
use verifier::{Evidence, HeaderInput, SummaryInput, Verdict};
use workers::Ctx;
use workers::service::{shutdown_pair, wait_until_idle, worker_pool};

use crate::edge::{config_of, open_ctx, start_dev_services};
use crate::error::{FleetError, Result, io};

/// The sample manifests of the demo: small JSON documents, canonicalised like a tenant's.
fn sample_digest(tenant: &str, i: u32) -> ManifestDigest {
    let json = format!(
        r#"{{"tenant":"{tenant}","artifact":"build-{i}.tar.gz","size":{}}}"#,
        1000 + i
    );
    merkle::canon::manifest_digest(json.as_bytes()).expect("valid JSON")
}

/// Runs the demo in `data` (a new or empty directory) with `manifests` sample manifests per
/// tenant; returns the table of the runs, every one verified.
pub async fn demo(data: &Path, manifests: u32) -> Result<String> {
    if data.exists() && std::fs::read_dir(data).map_or(true, |mut d| d.next().is_some()) {
        return Err(FleetError::NotEmpty(data.to_path_buf()));
    }
    let dev = start_dev_services(data).await?;
    let mut overrides = vec![
        ("LEDGER_DATA_DIR", data.display().to_string()),
        ("LEDGER_TICK", "1s".to_owned()),
        ("LEDGER_RUN_LEASE", "60s".to_owned()),
    ];
    overrides.extend(dev.vars());
    // The demo's data never mixes with a configured fleet: only its own variables count.
    let config = config_of(&overrides)?;
    let ctx = Arc::new(open_ctx(&config, true).await?);
    seed_tenants(&ctx, manifests).await?;
    eprintln!(
        "demo: 3 tenants × {manifests} manifests in {}; dev TSA {}; dev calendars {}",
        data.display(),
        dev.tsa_url,
        dev.calendars.join(", ")
    );
    run_until_idle(&ctx).await?;
    let headers = confirm_on_dev_chain(&ctx, &dev, data).await?;
    verify_all(&ctx, data, &dev.ca_file, &headers).await
}

/// The demo's three tenants, one per plan, created 40 days ago and opted in, with `manifests`
/// sample manifests each spread over the 35 days before today.
async fn seed_tenants(ctx: &Ctx, manifests: u32) -> Result<()> {
    let now = Utc::now();
    let created = now - chrono::Duration::days(40);
    for (name, plan) in [
        ("starter-co", Plan::Starter),
        ("pro-co", Plan::Pro),
        ("enterprise-co", Plan::Enterprise),
    ] {
        let id = TenantId::new(name)?;
        ctx.store
            .create_tenant(
                &NewTenant {
                    id: id.clone(),
                    plan,
                    token_hash: ledger::sql::hash_token(&ledger::sql::new_token()),
                    max_roots_per_period: 100,
                    cost_ceiling_micro_usd: 50_000_000,
                },
                created,
            )
            .await?;
        ctx.store
            .record_consent(
                &id,
                &ConsentEntry {
                    action: ConsentAction::OptIn,
                    visibility: Visibility::Public,
                    signer: "demo".into(),
                    reason: "anchor demo".into(),
                    at: created,
                },
            )
            .await?;
        // Spread over the 35 days before today.
        let mut by_day: BTreeMap<i64, Vec<ManifestDigest>> = BTreeMap::new();
        for i in 0..manifests {
            by_day
                .entry(1 + i64::from(i % 35))
                .or_default()
                .push(sample_digest(name, i));
        }
        for (days_ago, digests) in by_day {
            let at = now - chrono::Duration::days(days_ago);
            ctx.store.insert_manifests(&id, &digests, at).await?;
        }
    }
    Ok(())
}

/// Runs the real scheduler loop and a pool of four workers until no run is queued or running
/// (at most 10 minutes).
async fn run_until_idle(ctx: &Arc<Ctx>) -> Result<()> {
    let (trigger, shutdown) = shutdown_pair();
    let sched = tokio::spawn(scheduler_loop(ctx.clone(), shutdown.clone()));
    // The pool runs in this task (apalis's parallel executor future is not 'static-general
    // enough for tokio::spawn); the driver stops it once the fleet is idle.
    let pool = worker_pool(ctx.clone(), 4, shutdown.clone());
    let drive = async {
        // Let the first tick create the runs, then wait for the workers to drain them.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let idle = wait_until_idle(ctx, Duration::from_mins(10)).await;
        trigger.fire();
        idle
    };
    let (pooled, idle) = tokio::join!(pool, drive);
    pooled?;
    let idle = idle?;
    let _ = sched.await;
    if !idle {
        return Err(FleetError::Check(
            "runs still queued or running after 10 minutes".into(),
        ));
    }
    Ok(())
}

/// File name, in the demo's data directory, of the dev chain's headers (a `HeadersFile`).
pub const DEV_HEADERS: &str = "dev-headers.json";

/// Mines one block on each dev calendar, writes the chain's headers to `data/`[`DEV_HEADERS`],
/// and runs the workers' upgrade job now for every run still waiting on its OTS anchor (the
/// job returns at once for the others). Returns the headers as read back from the file,
/// checked against regtest's floor.
async fn confirm_on_dev_chain(ctx: &Ctx, dev: &DevServices, data: &Path) -> Result<HeadersFile> {
    let blocks = dev.mine();
    let path = data.join(DEV_HEADERS);
    std::fs::write(&path, dev.headers().to_json())
        .map_err(io(format!("writing {}", path.display())))?;
    let heights: Vec<String> = blocks.iter().map(|b| b.height.to_string()).collect();
    eprintln!(
        "demo: mined block(s) {} on a local regtest chain (the dev calendars'; regtest work is no proof of time), headers in {}",
        heights.join(", "),
        path.display()
    );
    let runs = workers::ctx::anchored_runs(ctx).await?;
    for run in &runs {
        // The demo confirms in-process; a pending proof's follow-up is the queue's business.
        workers::upgrade::job(ctx, &run.id, 0).await?;
    }
    let bytes = std::fs::read(&path).map_err(io(format!("reading {}", path.display())))?;
    let headers = HeadersFile::from_json(&bytes)
        .map_err(|e| FleetError::Check(format!("reading {}: {e}", path.display())))?;
    Ok(headers.on_network(Network::Regtest))
}

/// Checks that `file` stamps `digest` and that one of its Bitcoin attestations verifies
/// against `headers` as exactly the block `btc` names.
fn check_bitcoin(
    file: &stamp::DetachedTimestamp,
    digest: &[u8],
    headers: &HeadersFile,
    btc: &ledger::formats::Bitcoin,
) -> Result<(), String> {
    let (_, findings) =
        stamp::verify::verify_file(file, digest, headers).map_err(|e| e.to_string())?;
    let named = findings.iter().any(|f| {
        matches!(f, stamp::verify::Finding::Bitcoin { height, block_hash, time, txid }
            if *height == btc.height
                && *block_hash == btc.block_hash
                && i64::from(*time) == btc.time.timestamp()
                && (btc.txid.is_none() || *txid == btc.txid))
    });
    if named {
        Ok(())
    } else {
        Err(format!(
            "no attestation verifies as block {} {}: {findings:?}",
            btc.height, btc.block_hash
        ))
    }
}

/// The stored artifacts of a receipt, as a tenant would download them: `root.bin`, the root
/// `.ots` it names, and the `.tsr`.
struct StoredEvidence {
    bin: Vec<u8>,
    ots: Option<Vec<u8>>,
    tsr: Option<Vec<u8>>,
}

async fn stored_evidence(ctx: &Ctx, receipt: &Receipt) -> Result<StoredEvidence> {
    let (t, p) = (&receipt.tenant, &receipt.period);
    let root_bin = ctx
        .blobs
        .get(&BlobKey::root_artifact(t, p, RootArtifact::Bin))
        .await?
        .unwrap_or_default();
    let root_ots = match proofs::named_root_ots(receipt)? {
        Some(key) => ctx.blobs.get(&key).await?,
        None => None,
    };
    let root_tsr = ctx
        .blobs
        .get(&BlobKey::root_artifact(t, p, RootArtifact::Tsr))
        .await?;
    Ok(StoredEvidence {
        bin: root_bin,
        ots: root_ots,
        tsr: root_tsr,
    })
}

/// Verifies every anchored run's receipt (every check of `anchor verify receipt`, through the
/// `verifier` library), a sample of its manifests' proofs and, when installed, its `.tsr` with
/// `openssl ts -verify`; returns the table.
async fn verify_all(
    ctx: &Ctx,
    data: &Path,
    ca_file: &Path,
    headers: &HeadersFile,
) -> Result<String> {
    let jwks = ctx.store.jwks(true).await?;
    let tsa = trusting(ca_file)?;
    let header_input = HeaderInput::Source {
        headers: headers.clone(),
        name: DEV_HEADERS.to_owned(),
        tip: None,
    };
    let runs = all_runs(ctx).await?;
    let openssl = which("openssl");
    let blobs = data.join("blobs");
    let mut table = format!(
        "{:<16} {:<11} {:<9} {:>6}  {:<22} {}\n",
        "tenant", "period", "status", "leaves", "anchors", "receipt"
    );
    let mut failures = Vec::new();
    let mut verified = 0;
    let mut chains: BTreeMap<TenantId, Vec<u8>> = BTreeMap::new();
    for run in runs.iter().rev() {
        if !matches!(run.status, RunStatus::Anchored | RunStatus::Complete) {
            failures.push(format!("{}: {} {:?}", run.id, run.status, run.errors));
            continue;
        }
        let (key, receipt) = latest_receipt(ctx, run).await?;
        // Every check `anchor verify receipt` makes, by the same library.
        let chain = tenant_chain(ctx, &mut chains, &run.tenant).await?;
        let report = check_receipt(ctx, &receipt, chain, &jwks, &tsa, &header_input).await?;
        if report.verdict() != Verdict::Verified {
            failures.push(format!(
                "{}: {}\n{}",
                run.id,
                report.verdict(),
                report.lines()
            ));
        }
        failures.extend(check_sample(ctx, run, &receipt, headers).await?);
        if openssl
            && receipt
                .anchors
                .iter()
                .any(|a| a.kind == ledger::AnchorKind::Tsa)
        {
            failures.extend(openssl_ts_verify(run, &blobs, ca_file)?);
        }
        verified += 1;
        table.push_str(&table_row(run, &receipt, &blobs.join(key.as_str())));
    }
    let _ = writeln!(
        table,
        "\n{verified} receipts verified (signature, root.bin, sampled proofs, Bitcoin attestations against {DEV_HEADERS} on regtest{}); artifacts under {}",
        if openssl {
            ", openssl ts -verify"
        } else {
            "; openssl not installed, .tsr not checked by it"
        },
        blobs.display()
    );
    if failures.is_empty() && verified > 0 {
        Ok(table)
    } else {
        Err(FleetError::Check(format!(
            "{table}\nfailures:\n{}",
            failures.join("\n")
        )))
    }
}

/// The latest JSON receipt of `run`'s period, and its key.
async fn latest_receipt(ctx: &Ctx, run: &ledger::sql::Run) -> Result<(BlobKey, Receipt)> {
    let key = BlobKey::receipt_latest(&run.tenant, &run.period, ReceiptFormat::Json);
    let bytes = ctx
        .blobs
        .get(&key)
        .await?
        .ok_or_else(|| FleetError::Check(format!("{key} missing")))?;
    Ok((key, Receipt::from_json(&bytes)?))
}

/// `tenant`'s exported run-summary chain, exported once per tenant (not once per run) and kept
/// in `chains`.
async fn tenant_chain<'a>(
    ctx: &Ctx,
    chains: &'a mut BTreeMap<TenantId, Vec<u8>>,
    tenant: &TenantId,
) -> Result<&'a [u8]> {
    if !chains.contains_key(tenant) {
        let chain = ctx.store.export_jsonl(tenant).await?;
        chains.insert(tenant.clone(), chain);
    }
    Ok(&chains[tenant])
}

/// Every run of the fleet, newest first.
async fn all_runs(ctx: &Ctx) -> ledger::Result<Vec<ledger::sql::Run>> {
    ctx.store
        .runs(&RunFilter {
            tenant: None,
            status: None,
            limit: Some(100_000),
        })
        .await
}

/// One line of the demo's table: tenant, period, status, leaves, anchors, receipt path.
fn table_row(run: &ledger::sql::Run, receipt: &Receipt, path: &Path) -> String {
    let anchors: Vec<String> = receipt
        .anchors
        .iter()
        .map(|a| format!("{}:{}", a.kind, a.status))
        .collect();
    format!(
        "{:<16} {:<11} {:<9} {:>6}  {:<22} {}\n",
        run.tenant.as_str(),
        run.period.to_string(),
        run.status.as_str(),
        receipt.tree_size,
        anchors.join(","),
        path.display()
    )
}

/// TSA verification options trusting the CA certificates in `ca_file`.
fn trusting(ca_file: &Path) -> Result<VerifyOptions> {
    let pem = std::fs::read(ca_file).map_err(io(format!("reading {}", ca_file.display())))?;
    Ok(VerifyOptions {
        trusted: Certificate::from_file_bytes(&pem)
            .map_err(|e| FleetError::Check(format!("{}: {e}", ca_file.display())))?,
        ..VerifyOptions::default()
    })
}

/// Every check of `anchor verify receipt` on a stored receipt, with its artifacts read from
/// the blob store and the tenant's exported `chain`.
async fn check_receipt(
    ctx: &Ctx,
    receipt: &Receipt,
    chain: &[u8],
    jwks: &ledger::keys::Jwks,
    tsa: &VerifyOptions,
    headers: &HeaderInput,
) -> Result<verifier::Report> {
    let evidence = stored_evidence(ctx, receipt).await?;
    Ok(verifier::receipt::check(&Evidence {
        receipt,
        jwks,
        root_bin: &evidence.bin,
        root_ots: evidence.ots.as_deref(),
        root_tsr: evidence.tsr.as_deref(),
        summary: SummaryInput::Chain(chain),
        tsa,
        headers,
    }))
}

/// A sample of a run's manifests (every fifth of its digests): each one's inclusion proof in
/// the receipt's root, and its `.ots` as the receipt's Bitcoin block; returns what failed.
async fn check_sample(
    ctx: &Ctx,
    run: &ledger::sql::Run,
    receipt: &Receipt,
    headers: &HeadersFile,
) -> Result<Vec<String>> {
    let mut failures = Vec::new();
    let bitcoin = receipt
        .anchors
        .iter()
        .find(|a| a.kind == ledger::AnchorKind::Ots)
        .and_then(|a| a.bitcoin.as_ref());
    let digests = ctx.store.period_digests(&run.tenant, run.period).await?;
    // Proofs are derived from the stored tree, as the API and `anchor proof` serve them.
    let stored = PeriodProofs::load(&ctx.blobs, &run.tenant, run.period)
        .await
        .map_err(|e| FleetError::Check(format!("{}: {e}", run.id)))?;
    for d in digests.iter().step_by((digests.len() / 5).max(1)) {
        let checked = stored
            .proof(d)
            .and_then(|proof| {
                proof.verify(Some(&receipt.root))?;
                stored.manifest_ots(d)
            })
            .map_err(|e| e.to_string())
            .and_then(|ots| match (ots, bitcoin) {
                (Some(ots), Some(btc)) => check_bitcoin(&ots, &d.0, headers, btc),
                _ => Ok(()),
            });
        if let Err(e) = checked {
            failures.push(format!("{}: proof of {d}: {e}", run.id));
        }
    }
    Ok(failures)
}

/// `openssl ts -verify` of the run's `.tsr` against `root.bin` and the dev CA (an independent
/// implementation of RFC 3161); returns what it refused.
fn openssl_ts_verify(
    run: &ledger::sql::Run,
    blobs: &Path,
    ca_file: &Path,
) -> Result<Option<String>> {
    let tsr = BlobKey::root_artifact(&run.tenant, &run.period, RootArtifact::Tsr);
    let out = std::process::Command::new("openssl")
        .args(["ts", "-verify", "-data"])
        .arg(
            blobs
                .join(BlobKey::root_artifact(&run.tenant, &run.period, RootArtifact::Bin).as_str()),
        )
        .arg("-in")
        .arg(blobs.join(tsr.as_str()))
        .arg("-CAfile")
        .arg(ca_file)
        .output()
        .map_err(io("running openssl ts -verify"))?;
    Ok((!out.status.success()).then(|| {
        format!(
            "{}: openssl ts -verify: {}",
            run.id,
            String::from_utf8_lossy(&out.stderr).trim()
        )
    }))
}

fn which(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}
