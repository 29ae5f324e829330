//! The attestation computation (seed 000 §2 and §4) and seed 001's publication rules.
//!
//! ```text
//! eligible_amount = floor(raw_amount × (10000 − haircut_bps) / 10000)   (fresh, eligible assets)
//!                 = 0                                                   (ineligible, stale, missing)
//! coverage_ratio_bps = floor(eligible_reserves_total × 10000 / liabilities.total)
//! fully_backed       = eligible_reserves_total ≥ liabilities.total
//! ```
//!
//! Seed 001's ratio formula is the same with its names: "`reserve_ratio_bps =
//! (usdc_reserve_micro × 10000) / cosr_supply_micro`", validated "to ±1 bps tolerance".
//!
//! Decisions:
//!
//! - **The snapshot used** for an asset is its latest with `observed_at ≤ as_of` (a later
//!   one did not exist at the attested instant). It is **stale** when `as_of − observed_at`
//!   exceeds the asset's window (exactly the window is still fresh). Stale and missing are
//!   reported for eligible assets only; an ineligible asset counts 0 by policy and is neither.
//! - `raw_reserves_total` sums the raw amounts of every snapshot used (stale ones too, as seed
//!   000 reports "the raw last-known in breakdown as stale").
//! - **Zero liabilities are refused**: the ratio would be a division by zero, and an
//!   attestation that nothing is owed proves nothing.
//! - **Liability buckets**, when given, must add up to the total exactly.
//! - **The period's minimum ratio** is submitted by the operator (seed 001's
//!   `min_reserve_ratio_bps`) and must be ≥ 10000 (I3) and not above the period-end ratio
//!   (the minimum over a period that includes its end cannot exceed the end's value).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::asset::{ReserveAsset, Snapshot, ts};
use super::error::{ReserveError, Result};
use super::types::{Amount, AssetId, Bps, Label, SnapshotId, StalenessWindow};

/// 100 % in basis points: seed 001's I3 floor.
pub const FULL_RATIO_BPS: u128 = 10_000;

/// What the operator owes (seed 000: `totalOutstanding`, `outstandingByBucket`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Liabilities {
    pub total: Amount,
    #[serde(default)]
    pub by_bucket: BTreeMap<Label, Amount>,
}

impl Liabilities {
    pub fn check(&self) -> Result<()> {
        if self.total == Amount::ZERO {
            return Err(ReserveError::Request(
                "liabilities.total is 0: the coverage ratio would divide by zero".into(),
            ));
        }
        if !self.by_bucket.is_empty() {
            let mut sum = Amount::ZERO;
            for v in self.by_bucket.values() {
                sum = sum.checked_add(*v, "the sum of liabilities.by_bucket")?;
            }
            if sum != self.total {
                return Err(ReserveError::Request(format!(
                    "liabilities.by_bucket adds up to {sum}, but liabilities.total is {}",
                    self.total
                )));
            }
        }
        Ok(())
    }
}

/// Why an asset counts what it counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LineStatus {
    /// Eligible with a snapshot inside its window: the haircut applies.
    Fresh,
    /// Eligible, latest snapshot older than the window: counts 0.
    Stale,
    /// Eligible, no snapshot at or before the attested instant: counts 0.
    Missing,
    /// Not eligible by policy: counts 0.
    Ineligible,
}

/// One asset of the reserve breakdown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReserveLine {
    pub asset_id: AssetId,
    pub asset_type: Label,
    pub provider: Label,
    pub name: String,
    pub unit: Label,
    pub eligible: bool,
    pub haircut_bps: Bps,
    pub max_age_seconds: StalenessWindow,
    pub snapshot_id: Option<SnapshotId>,
    #[serde(with = "crate::reserve::asset::ts_opt")]
    pub observed_at: Option<DateTime<Utc>>,
    pub raw_amount: Option<Amount>,
    pub status: LineStatus,
    pub eligible_amount: Amount,
}

/// The reserve side and the ratio at one instant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Computation {
    #[serde(with = "ts")]
    pub as_of: DateTime<Utc>,
    pub liabilities: Liabilities,
    /// Ordered by asset id.
    pub reserves: Vec<ReserveLine>,
    pub raw_reserves_total: Amount,
    pub eligible_reserves_total: Amount,
    pub coverage_ratio_bps: Amount,
    pub fully_backed: bool,
    pub snapshot_count_used: u64,
    pub missing: Vec<AssetId>,
    pub stale: Vec<AssetId>,
}

/// `floor(raw × (10000 − haircut) / 10000)`, exact in `u128` because amounts are below 10^34.
pub fn haircut(raw: Amount, haircut_bps: Bps) -> Amount {
    let kept = u128::from(10_000 - haircut_bps.get());
    Amount::new(raw.get() * kept / 10_000).expect("never above raw")
}

/// `floor(eligible × 10000 / liabilities)`; liabilities must be non-zero.
pub fn ratio_bps(eligible: Amount, liabilities: Amount) -> Result<u128> {
    if liabilities == Amount::ZERO {
        return Err(ReserveError::Request(
            "liabilities.total is 0: the coverage ratio would divide by zero".into(),
        ));
    }
    Ok(eligible.get() * FULL_RATIO_BPS / liabilities.get())
}

/// Computes the breakdown of `assets` (deleted ones are left out) from `snapshots` (any
/// order, any number per asset; snapshots of unknown assets are ignored) at `as_of`.
pub fn compute(
    assets: &[ReserveAsset],
    snapshots: &[Snapshot],
    liabilities: Liabilities,
    as_of: DateTime<Utc>,
) -> Result<Computation> {
    liabilities.check()?;
    let latest = latest_snapshots(snapshots, as_of);
    let live = live_assets(assets)?;
    let mut out = Computation {
        as_of,
        liabilities,
        reserves: Vec::with_capacity(live.len()),
        raw_reserves_total: Amount::ZERO,
        eligible_reserves_total: Amount::ZERO,
        coverage_ratio_bps: Amount::ZERO,
        fully_backed: false,
        snapshot_count_used: 0,
        missing: Vec::new(),
        stale: Vec::new(),
    };
    for a in live {
        let row = reserve_line(a, latest.get(&a.id).copied(), as_of);
        match row.status {
            LineStatus::Missing => out.missing.push(a.id.clone()),
            LineStatus::Stale => out.stale.push(a.id.clone()),
            LineStatus::Fresh | LineStatus::Ineligible => {}
        }
        if let Some(raw) = row.raw_amount {
            out.snapshot_count_used += 1;
            out.raw_reserves_total = out
                .raw_reserves_total
                .checked_add(raw, "raw_reserves_total")?;
        }
        out.eligible_reserves_total = out
            .eligible_reserves_total
            .checked_add(row.eligible_amount, "eligible_reserves_total")?;
        out.reserves.push(row);
    }
    let ratio = ratio_bps(out.eligible_reserves_total, out.liabilities.total)?;
    out.coverage_ratio_bps = Amount::new(ratio)?;
    out.fully_backed = out.eligible_reserves_total >= out.liabilities.total;
    Ok(out)
}

/// Per asset, the latest snapshot observed at or before `as_of` (ties broken by snapshot id).
fn latest_snapshots(snapshots: &[Snapshot], as_of: DateTime<Utc>) -> BTreeMap<&AssetId, &Snapshot> {
    let mut latest: BTreeMap<&AssetId, &Snapshot> = BTreeMap::new();
    for s in snapshots.iter().filter(|s| s.observed_at <= as_of) {
        let slot = latest.entry(&s.asset_id).or_insert(s);
        if (s.observed_at, &s.id) > (slot.observed_at, &slot.id) {
            *slot = s;
        }
    }
    latest
}

/// The assets not deleted, in id order; an id named twice is refused.
fn live_assets(assets: &[ReserveAsset]) -> Result<Vec<&ReserveAsset>> {
    let mut live: Vec<&ReserveAsset> = assets.iter().filter(|a| a.deleted_at.is_none()).collect();
    live.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(w) = live.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(ReserveError::invalid(
            "asset list",
            w[0].id.as_str(),
            "names the asset twice",
        ));
    }
    Ok(live)
}

/// One asset's line: its status at `as_of` from its latest snapshot and its policy, and the
/// eligible amount (the haircut raw amount when fresh, else zero).
fn reserve_line(a: &ReserveAsset, snap: Option<&Snapshot>, as_of: DateTime<Utc>) -> ReserveLine {
    let status = match snap {
        _ if !a.eligible => LineStatus::Ineligible,
        None => LineStatus::Missing,
        Some(s) if as_of - s.observed_at > a.max_age_seconds.duration() => LineStatus::Stale,
        Some(_) => LineStatus::Fresh,
    };
    let eligible_amount = match (status, snap) {
        (LineStatus::Fresh, Some(s)) => haircut(s.raw_amount, a.haircut_bps),
        _ => Amount::ZERO,
    };
    ReserveLine {
        asset_id: a.id.clone(),
        asset_type: a.asset_type.clone(),
        provider: a.provider.clone(),
        name: a.name.clone(),
        unit: a.unit.clone(),
        eligible: a.eligible,
        haircut_bps: a.haircut_bps,
        max_age_seconds: a.max_age_seconds,
        snapshot_id: snap.map(|s| s.id.clone()),
        observed_at: snap.map(|s| s.observed_at),
        raw_amount: snap.map(|s| s.raw_amount),
        status,
        eligible_amount,
    }
}

impl Computation {
    /// Recomputes every derived member from the lines' raw amounts, statuses and policies and
    /// requires it to equal what is written: what a verifier runs on a received attestation.
    pub fn check_arithmetic(&self) -> Result<()> {
        self.liabilities.check()?;
        let bad =
            |what: &str, written: &dyn std::fmt::Display, computed: &dyn std::fmt::Display| {
                Err(ReserveError::Format(format!(
                    "{what} is {written}, but the breakdown gives {computed}"
                )))
            };
        let (mut raw, mut eligible, mut used) = (Amount::ZERO, Amount::ZERO, 0u64);
        let (mut missing, mut stale) = (Vec::new(), Vec::new());
        for l in &self.reserves {
            let expect = match (l.status, l.raw_amount) {
                (LineStatus::Fresh, Some(r)) => haircut(r, l.haircut_bps),
                (LineStatus::Fresh, None) => {
                    return Err(ReserveError::Format(format!(
                        "asset {} is fresh without a raw amount",
                        l.asset_id
                    )));
                }
                _ => Amount::ZERO,
            };
            if expect != l.eligible_amount {
                return bad(
                    &format!("eligible_amount of {}", l.asset_id),
                    &l.eligible_amount,
                    &expect,
                );
            }
            if (l.status == LineStatus::Ineligible) == l.eligible {
                return Err(ReserveError::Format(format!(
                    "asset {} has status {:?} with eligible = {}",
                    l.asset_id, l.status, l.eligible
                )));
            }
            match l.status {
                LineStatus::Missing => missing.push(l.asset_id.clone()),
                LineStatus::Stale => stale.push(l.asset_id.clone()),
                LineStatus::Fresh | LineStatus::Ineligible => {}
            }
            if let Some(r) = l.raw_amount {
                used += 1;
                raw = raw.checked_add(r, "raw_reserves_total")?;
            }
            eligible = eligible.checked_add(l.eligible_amount, "eligible_reserves_total")?;
        }
        if raw != self.raw_reserves_total {
            return bad("raw_reserves_total", &self.raw_reserves_total, &raw);
        }
        if eligible != self.eligible_reserves_total {
            return bad(
                "eligible_reserves_total",
                &self.eligible_reserves_total,
                &eligible,
            );
        }
        if used != self.snapshot_count_used {
            return bad("snapshot_count_used", &self.snapshot_count_used, &used);
        }
        if missing != self.missing || stale != self.stale {
            return Err(ReserveError::Format(
                "missing/stale do not list the breakdown's missing/stale assets".into(),
            ));
        }
        let ratio = ratio_bps(eligible, self.liabilities.total)?;
        if ratio != self.coverage_ratio_bps.get() {
            return bad("coverage_ratio_bps", &self.coverage_ratio_bps, &ratio);
        }
        if self.fully_backed != (eligible >= self.liabilities.total) {
            return bad("fully_backed", &self.fully_backed, &!self.fully_backed);
        }
        Ok(())
    }
}

/// The operator's publication parameters that are not computed (seed 001's
/// `reserve_ratio_bps` is optional here: "auto-computes `reserve_ratio_bps` … if omitted").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claims {
    /// The ratio the operator believes holds; checked within ±1 bps of the computed one.
    pub reserve_ratio_bps: Option<u128>,
    /// The minimum ratio observed during the period.
    pub min_reserve_ratio_bps: u128,
}

/// Seed 001's pre-flight: submitted ratio within ±1 bps of the computed one, then I3 on the
/// ratio(s) and the period's minimum, then the minimum not above the period-end ratio.
pub fn check_publication(c: &Computation, claims: Claims) -> Result<()> {
    let computed = c.coverage_ratio_bps.get();
    if let Some(submitted) = claims.reserve_ratio_bps {
        if submitted.abs_diff(computed) > 1 {
            return Err(ReserveError::RatioMismatch {
                submitted,
                computed,
            });
        }
        if submitted < FULL_RATIO_BPS {
            return Err(ReserveError::I3Ratio { ratio: submitted });
        }
    }
    if computed < FULL_RATIO_BPS {
        return Err(ReserveError::I3Ratio { ratio: computed });
    }
    if claims.min_reserve_ratio_bps < FULL_RATIO_BPS {
        return Err(ReserveError::I3MinRatio {
            min: claims.min_reserve_ratio_bps,
        });
    }
    if claims.min_reserve_ratio_bps > computed {
        return Err(ReserveError::Request(format!(
            "min_reserve_ratio_bps={} is above the period-end reserve_ratio_bps={computed}",
            claims.min_reserve_ratio_bps
        )));
    }
    Ok(())
}
