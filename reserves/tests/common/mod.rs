//! Seed 000's fixtures (Gemini and FAL compute credits, a stale snapshot, a missing one) and
//! an anchored run to bind attestations to.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone as _, Utc};
use ledger::formats::{Counts, Coverage, RunSummary, SignedSummary, SummaryBody, Toggles};
use ledger::keys::{Jwks, SigningKey};
use ledger::{Cadence, KillMode, Period, Plan, TenantId, Trigger};
use merkle::leaf::HexHash;
use merkle::proof::plan_inclusion;
use merkle::{DigestTreeBuilder, LeafIndex, ManifestDigest, Parameters, ProofV1, Root, TreeSize};
use reserves::asset::{NewAsset, NewSnapshot, ReserveAsset, Snapshot};
use reserves::compute::{Computation, Liabilities, compute};
use serde::Deserialize;
use std::collections::HashMap;

pub const ASSETS: &str = include_str!("../fixtures/reserve_assets.json");
pub const SNAPSHOTS: &str = include_str!("../fixtures/reserve_snapshots.json");

pub fn ts(s: &str) -> DateTime<Utc> {
    ledger::ids::parse_ts(s).unwrap()
}

/// The instant the fixtures are attested at.
pub fn as_of() -> DateTime<Utc> {
    ts("2026-11-23T09:00:00.000Z")
}

pub fn created() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

pub fn new_assets() -> Vec<NewAsset> {
    serde_json::from_str(ASSETS).unwrap()
}

pub fn assets() -> Vec<ReserveAsset> {
    new_assets()
        .into_iter()
        .map(|a| a.into_asset(created()).unwrap())
        .collect()
}

#[derive(Deserialize)]
pub struct SnapshotFixture {
    pub asset_id: String,
    pub fetched_at: String,
    pub snapshot: serde_json::Value,
}

pub fn snapshot_fixtures() -> Vec<SnapshotFixture> {
    serde_json::from_str(SNAPSHOTS).unwrap()
}

pub fn new_snapshot(f: &SnapshotFixture) -> NewSnapshot {
    serde_json::from_value(f.snapshot.clone()).unwrap()
}

pub fn snapshots(assets: &[ReserveAsset]) -> Vec<Snapshot> {
    snapshot_fixtures()
        .iter()
        .map(|f| {
            let asset = assets.iter().find(|a| a.id.as_str() == f.asset_id).unwrap();
            new_snapshot(f).ingest(asset, ts(&f.fetched_at)).unwrap()
        })
        .collect()
}

pub fn liabilities(total: u128, buckets: &[(&str, u128)]) -> Liabilities {
    Liabilities {
        total: reserves::types::Amount::new(total).unwrap(),
        by_bucket: buckets
            .iter()
            .map(|(k, v)| {
                (
                    k.parse().unwrap(),
                    reserves::types::Amount::new(*v).unwrap(),
                )
            })
            .collect(),
    }
}

pub fn fixture_computation() -> Computation {
    let a = assets();
    let s = snapshots(&a);
    compute(
        &a,
        &s,
        liabilities(5000, &[("fal", 2000), ("gemini", 3000)]),
        as_of(),
    )
    .unwrap()
}

/// The reserves ledger tenant of the tests.
pub fn tenant() -> TenantId {
    TenantId::new("reserves-co").unwrap()
}

/// A daily run of the reserves tenant that anchored `digest` among other manifests: the
/// signed summary, and the inclusion proof of `digest`.
pub fn anchored(
    digest: ManifestDigest,
    key: &SigningKey,
    ts: DateTime<Utc>,
) -> (SignedSummary, ProofV1) {
    let period = Period::containing(Cadence::Daily, as_of());
    let mut digests: Vec<[u8; 32]> = (0..6u8)
        .map(|i| merkle::Hash::sha256(&[i]).0)
        .chain(std::iter::once(digest.0))
        .collect();
    digests.sort_unstable();
    let mut nodes = HashMap::new();
    let mut b = DigestTreeBuilder::with_sink(|id, h: &merkle::Hash| {
        nodes.insert(id, *h);
    });
    for d in &digests {
        b.push(d).unwrap();
    }
    let root = b.root();
    let _ = b.into_sink();
    let index = digests.iter().position(|d| *d == digest.0).unwrap() as u64;
    let size = digests.len() as u64;
    let path = plan_inclusion(LeafIndex(index), TreeSize(size))
        .unwrap()
        .assemble(|id| nodes.get(&id).copied())
        .unwrap();
    let proof = ProofV1 {
        format: ProofV1::FORMAT.into(),
        tenant: Some(tenant().to_string()),
        period: Some(period.to_string()),
        digest,
        leaf_index: index,
        tree_size: size,
        root: Root(root),
        audit_path: path.into_iter().map(HexHash).collect(),
        parameters: Parameters::c2c(),
    };
    let body = SummaryBody {
        tenant: tenant(),
        period,
        cadence: Cadence::Daily,
        run_id: format!("{}-{period}", tenant()),
        trigger: Trigger::Scheduled,
        root: Some(Root(root)),
        tree_size: size,
        anchors: vec![],
        counts: Counts {
            manifests: size,
            proofs: size,
        },
        coverage: Coverage {
            sampled: size,
            verified: size,
        },
        estimated_cost_micro_usd: 0,
        errors: vec![],
        toggles: Toggles {
            plan: Plan::Enterprise,
            kill_switch: KillMode::Normal,
        },
    };
    let summary = RunSummary::sign(body, 1, ledger::formats::GENESIS, ts, key).unwrap();
    (summary, proof)
}

pub fn jwks(key: &SigningKey) -> Jwks {
    Jwks::new(vec![key.public_jwk()]).unwrap()
}

/// A signed attestation of the fixtures' reserves at `end` (a one-day period), anchored by a
/// summary 16 hours later and issued an hour after that.
pub fn signed_at(key: &SigningKey, end: DateTime<Utc>) -> reserves::attestation::SignedAttestation {
    use chrono::Duration;
    use reserves::attestation::{
        AnchorBinding, Attestation, AttestedPeriod, Balances, SignedAttestation,
    };
    let a = assets();
    let s = snapshots(&a);
    let c = compute(
        &a,
        &s,
        liabilities(5000, &[("fal", 2000), ("gemini", 3000)]),
        end,
    )
    .unwrap();
    let period = AttestedPeriod::new(end - Duration::days(1), end).unwrap();
    let claims = reserves::compute::Claims {
        reserve_ratio_bps: None,
        min_reserve_ratio_bps: 10_500,
    };
    let b = Balances::new(period, c, claims).unwrap();
    let summary_ts = end + Duration::hours(16);
    let (summary, proof) = anchored(b.digest(), key, summary_ts);
    let binding = AnchorBinding::new(&summary.bytes, proof).unwrap();
    let att = Attestation::new(
        reserves::types::AttestationId::generate(),
        summary_ts + Duration::hours(1),
        b,
        binding,
        &jwks(key),
        Duration::hours(36),
    )
    .unwrap();
    SignedAttestation::sign(att, key)
}
