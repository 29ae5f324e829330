//! The reserve asset registry (seed 000 §1A) and snapshots (§1B), with pack-to-unit
//! normalisation at ingestion (§3).
//!
//! Decisions:
//!
//! - **Policy fields fail closed.** `haircut_bps` defaults to 10000 (counts nothing) and
//!   `eligible` to `false` for an asset created without them: registering an asset never adds
//!   reserves by accident; an operator states the haircut. Invalid haircuts are refused at the
//!   edge rather than "treated as 10000" (seed 000): the operator learns about the typo.
//! - **Pack normalisation.** Seed 000 stores "usable credits remaining, normalized to
//!   single-credit units (not packs)", using `provider_metadata.credits_per_unit`. A snapshot
//!   submitted with `"amount_unit": "pack"` is multiplied by that integer at ingestion and
//!   records `packs` and `credits_per_unit` in its metadata; `"pack"` for an asset whose
//!   metadata has no positive integer `credits_per_unit` is refused. `"unit"` (the default)
//!   stores the amount as given.
//! - `observed_at` may not be after `fetched_at`: a balance cannot be observed in the future of
//!   the moment it was recorded.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::{ReserveError, Result};
use super::types::{Amount, AssetId, Bps, Label, SnapshotId, StalenessWindow};

/// A registered reserve asset (a row of the registry).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReserveAsset {
    pub id: AssetId,
    pub asset_type: Label,
    pub provider: Label,
    pub name: String,
    pub unit: Label,
    pub eligible: bool,
    pub haircut_bps: Bps,
    pub max_age_seconds: StalenessWindow,
    pub provider_metadata: Map<String, Value>,
    #[serde(with = "ts")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "ts")]
    pub updated_at: DateTime<Utc>,
    #[serde(with = "ts_opt", default)]
    pub deleted_at: Option<DateTime<Utc>>,
}

/// What an operator submits to register an asset.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAsset {
    pub id: AssetId,
    pub asset_type: Label,
    pub provider: Label,
    pub name: String,
    pub unit: Label,
    #[serde(default)]
    pub eligible: bool,
    #[serde(default)]
    pub haircut_bps: Bps,
    #[serde(default)]
    pub max_age_seconds: StalenessWindow,
    #[serde(default)]
    pub provider_metadata: Map<String, Value>,
}

/// A partial update (seed 000: "Update `is_eligible`, `haircut_bps`, `max_age_seconds`,
/// metadata, name"). Absent members keep their value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetPatch {
    pub name: Option<String>,
    pub eligible: Option<bool>,
    pub haircut_bps: Option<Bps>,
    pub max_age_seconds: Option<StalenessWindow>,
    pub provider_metadata: Option<Map<String, Value>>,
}

pub(crate) fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ReserveError::invalid(
            "asset name",
            name,
            "must be 1 to 200 characters without control characters",
        ));
    }
    Ok(())
}

impl NewAsset {
    pub fn check(&self) -> Result<()> {
        check_name(&self.name)?;
        credits_per_unit(&self.provider_metadata)?;
        Ok(())
    }

    pub fn into_asset(self, now: DateTime<Utc>) -> Result<ReserveAsset> {
        self.check()?;
        Ok(ReserveAsset {
            id: self.id,
            asset_type: self.asset_type,
            provider: self.provider,
            name: self.name,
            unit: self.unit,
            eligible: self.eligible,
            haircut_bps: self.haircut_bps,
            max_age_seconds: self.max_age_seconds,
            provider_metadata: self.provider_metadata,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        })
    }
}

impl AssetPatch {
    pub fn is_empty(&self) -> bool {
        self == &AssetPatch::default()
    }

    /// Whether the patch changes a policy field (eligibility, haircut, staleness window):
    /// what the policy history records.
    pub fn changes_policy(&self, asset: &ReserveAsset) -> bool {
        self.eligible.is_some_and(|v| v != asset.eligible)
            || self.haircut_bps.is_some_and(|v| v != asset.haircut_bps)
            || self
                .max_age_seconds
                .is_some_and(|v| v != asset.max_age_seconds)
    }

    /// The asset with the patch applied (validated), `updated_at` set to `now`.
    pub fn apply(&self, asset: &ReserveAsset, now: DateTime<Utc>) -> Result<ReserveAsset> {
        let mut out = asset.clone();
        if let Some(name) = &self.name {
            check_name(name)?;
            out.name.clone_from(name);
        }
        if let Some(m) = &self.provider_metadata {
            credits_per_unit(m)?;
            out.provider_metadata.clone_from(m);
        }
        out.eligible = self.eligible.unwrap_or(out.eligible);
        out.haircut_bps = self.haircut_bps.unwrap_or(out.haircut_bps);
        out.max_age_seconds = self.max_age_seconds.unwrap_or(out.max_age_seconds);
        out.updated_at = now;
        Ok(out)
    }
}

/// The asset's `credits_per_unit` (seed 000: Gemini "k credits" → 1000, FAL ".5k" → 500):
/// `None` when absent, an error when present but not a positive integer.
pub fn credits_per_unit(metadata: &Map<String, Value>) -> Result<Option<u64>> {
    match metadata.get("credits_per_unit") {
        None => Ok(None),
        Some(v) => v.as_u64().filter(|n| *n > 0).map(Some).ok_or_else(|| {
            ReserveError::invalid(
                "provider_metadata.credits_per_unit",
                v.to_string(),
                "must be a positive integer",
            )
        }),
    }
}

/// One observation of an asset's balance (append-only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub id: SnapshotId,
    pub asset_id: AssetId,
    /// When the balance was true.
    #[serde(with = "ts")]
    pub observed_at: DateTime<Utc>,
    /// When it was recorded.
    #[serde(with = "ts")]
    pub fetched_at: DateTime<Utc>,
    /// In the asset's unit (packs already normalised).
    pub raw_amount: Amount,
    /// `manual`, `api`, `import`, …
    pub source: Label,
    pub source_ref: Option<String>,
    pub metadata: Map<String, Value>,
}

/// What the amount of a [`NewSnapshot`] counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AmountUnit {
    /// The asset's unit (single credits).
    #[default]
    Unit,
    /// Provider packs: multiplied by `provider_metadata.credits_per_unit`.
    Pack,
}

/// What a submitter sends to record a snapshot (seed 000: `{ observedAt, rawAmount, source,
/// sourceRef?, snapshotMetadata? }`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSnapshot {
    #[serde(with = "ts")]
    pub observed_at: DateTime<Utc>,
    pub raw_amount: Amount,
    #[serde(default)]
    pub amount_unit: AmountUnit,
    pub source: Label,
    #[serde(default)]
    pub source_ref: Option<String>,
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

impl NewSnapshot {
    /// Validates and normalises the observation of `asset`, recorded at `fetched_at`.
    pub fn ingest(self, asset: &ReserveAsset, fetched_at: DateTime<Utc>) -> Result<Snapshot> {
        if asset.deleted_at.is_some() {
            return Err(ReserveError::Conflict {
                what: "reserve asset",
                key: asset.id.to_string(),
                reason: "the asset is deleted; it takes no snapshots".into(),
            });
        }
        if self.observed_at > fetched_at {
            return Err(ReserveError::invalid(
                "observed_at",
                crate::ids::format_ts(self.observed_at),
                format!(
                    "is after fetched_at {}: a balance cannot be observed in the future",
                    crate::ids::format_ts(fetched_at)
                ),
            ));
        }
        if let Some(r) = &self.source_ref
            && (r.is_empty() || r.len() > 256 || r.chars().any(char::is_control))
        {
            return Err(ReserveError::invalid(
                "source_ref",
                r.as_str(),
                "must be 1 to 256 bytes without control characters",
            ));
        }
        let mut metadata = self.metadata;
        let raw_amount = match self.amount_unit {
            AmountUnit::Unit => self.raw_amount,
            AmountUnit::Pack => {
                let per = credits_per_unit(&asset.provider_metadata)?.ok_or_else(|| {
                    ReserveError::invalid(
                        "amount_unit",
                        "pack",
                        format!(
                            "asset {} has no provider_metadata.credits_per_unit to convert packs",
                            asset.id
                        ),
                    )
                })?;
                let credits = self
                    .raw_amount
                    .get()
                    .checked_mul(u128::from(per))
                    .ok_or_else(|| ReserveError::Overflow("packs × credits_per_unit".into()))?;
                metadata.insert("packs".into(), Value::String(self.raw_amount.to_string()));
                metadata.insert("credits_per_unit".into(), Value::from(per));
                Amount::new(credits)?
            }
        };
        Ok(Snapshot {
            id: SnapshotId::generate(),
            asset_id: asset.id.clone(),
            observed_at: self.observed_at,
            fetched_at,
            raw_amount,
            source: self.source,
            source_ref: self.source_ref,
            metadata,
        })
    }
}

/// Timestamps as [`crate::ids::format_ts`] writes them and [`crate::ids::parse_ts`] reads them.
pub mod ts {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::ids::format_ts(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        crate::ids::parse_ts(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

pub mod ts_opt {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::ref_option, reason = "serde's `with` passes a reference")]
    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&crate::ids::format_ts(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| crate::ids::parse_ts(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}
