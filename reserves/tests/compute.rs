//! The attestation computation on seed 000's fixtures, and seed 001's publication rules with
//! its catalogued messages.

mod common;

use common::*;
use proptest::prelude::*;
use reserves::asset::{AmountUnit, AssetPatch, NewSnapshot};
use reserves::compute::{Claims, LineStatus, check_publication, compute, haircut, ratio_bps};
use reserves::error::RuleError as ReserveError;
use reserves::types::{Amount, Bps};

#[test]
fn seed_000_fixtures_give_gemini_fresh_fal_stale_and_the_manual_asset_missing() {
    let c = fixture_computation();
    let ids: Vec<_> = c.reserves.iter().map(|l| l.asset_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "ras_compute_fal_halfk",
            "ras_compute_gemini_k",
            "ras_manual_credit"
        ]
    );

    let fal = &c.reserves[0];
    assert_eq!(fal.status, LineStatus::Stale);
    assert_eq!(
        fal.raw_amount,
        Some(Amount::new(12_500).unwrap()),
        "25 packs of 500"
    );
    assert_eq!(fal.eligible_amount, Amount::ZERO);

    let gemini = &c.reserves[1];
    assert_eq!(gemini.status, LineStatus::Fresh);
    assert_eq!(
        gemini.raw_amount,
        Some(Amount::new(12_000).unwrap()),
        "the latest snapshot, 12 packs of 1000"
    );
    assert_eq!(
        gemini.eligible_amount,
        Amount::new(6_000).unwrap(),
        "50 % haircut"
    );

    let manual = &c.reserves[2];
    assert_eq!(manual.status, LineStatus::Missing);
    assert_eq!(manual.snapshot_id, None);
    assert_eq!(manual.eligible_amount, Amount::ZERO);

    assert_eq!(
        c.missing
            .iter()
            .map(reserves::types::AssetId::as_str)
            .collect::<Vec<_>>(),
        ["ras_manual_credit"]
    );
    assert_eq!(
        c.stale
            .iter()
            .map(reserves::types::AssetId::as_str)
            .collect::<Vec<_>>(),
        ["ras_compute_fal_halfk"]
    );
    assert_eq!(c.raw_reserves_total.get(), 24_500);
    assert_eq!(c.eligible_reserves_total.get(), 6_000);
    assert_eq!(c.snapshot_count_used, 2);
    assert_eq!(c.coverage_ratio_bps.get(), 12_000);
    assert!(c.fully_backed);
    c.check_arithmetic().unwrap();
}

#[test]
fn pack_snapshots_are_normalised_to_credits_and_keep_the_packs_in_their_metadata() {
    let a = assets();
    let s = snapshots(&a);
    let gemini = &s[1];
    assert_eq!(gemini.raw_amount.get(), 12_000);
    assert_eq!(gemini.metadata["packs"], "12");
    assert_eq!(gemini.metadata["credits_per_unit"], 1000);
    assert_eq!(gemini.source_ref.as_deref(), Some("console-export-1123"));
}

#[test]
fn packs_for_an_asset_without_credits_per_unit_are_refused_naming_the_asset() {
    let a = assets();
    let manual = &a[2];
    let snap = NewSnapshot {
        observed_at: as_of(),
        raw_amount: Amount::new(3).unwrap(),
        amount_unit: AmountUnit::Pack,
        source: "manual".parse().unwrap(),
        source_ref: None,
        metadata: serde_json::Map::new(),
    };
    let err = snap
        .clone()
        .ingest(manual, as_of())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ras_manual_credit") && err.contains("credits_per_unit"),
        "{err}"
    );
    let units = NewSnapshot {
        amount_unit: AmountUnit::Unit,
        ..snap.clone()
    };
    assert_eq!(units.ingest(manual, as_of()).unwrap().raw_amount.get(), 3);
    let err = snap
        .ingest(&a[0], as_of() - chrono::Duration::seconds(1))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("observed_at") && err.contains("future"),
        "{err}"
    );
}

#[test]
fn a_new_asset_without_policy_fails_closed_and_bad_metadata_is_refused() {
    let a: reserves::asset::NewAsset = serde_json::from_str(
        r#"{"id":"ras_x","asset_type":"fiat_cash","provider":"bank","name":"Cash","unit":"usd_cent"}"#,
    )
    .unwrap();
    let a = a.into_asset(created()).unwrap();
    assert!(!a.eligible);
    assert_eq!(a.haircut_bps, Bps::FULL);
    assert_eq!(a.max_age_seconds.secs(), 86_400);
    let bad: reserves::asset::NewAsset = serde_json::from_str(
        r#"{"id":"ras_y","asset_type":"x","provider":"x","name":"Y","unit":"x","provider_metadata":{"credits_per_unit":-5}}"#,
    )
    .unwrap();
    let err = bad.into_asset(created()).unwrap_err().to_string();
    assert!(err.contains("credits_per_unit"), "{err}");
    let err = serde_json::from_str::<reserves::asset::NewAsset>(
        r#"{"id":"ras_z","asset_type":"x","provider":"x","name":"Z","unit":"x","haircut_bps":10001}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("haircut_bps"), "{err}");
}

#[test]
fn an_ineligible_asset_counts_zero_and_is_neither_stale_nor_missing() {
    let mut a = assets();
    assert_eq!(a[0].id.as_str(), "ras_compute_gemini_k");
    a[0] = AssetPatch {
        eligible: Some(false),
        ..AssetPatch::default()
    }
    .apply(&a[0], as_of())
    .unwrap();
    let s = snapshots(&assets());
    let c = compute(&a, &s, liabilities(5000, &[]), as_of()).unwrap();
    assert_eq!(c.reserves[1].status, LineStatus::Ineligible);
    assert_eq!(c.eligible_reserves_total, Amount::ZERO);
    assert!(!c.fully_backed);
    assert_eq!(c.coverage_ratio_bps, Amount::ZERO);
    assert_eq!(c.missing.len(), 1);
    assert_eq!(c.stale.len(), 1);
}

#[test]
fn deleted_assets_are_left_out_and_later_snapshots_than_as_of_are_not_used() {
    let mut a = assets();
    a[2].deleted_at = Some(as_of());
    let s = snapshots(&assets());
    let earlier = ts("2026-11-22T08:30:00.000Z");
    let c = compute(&a, &s, liabilities(1000, &[]), earlier).unwrap();
    assert_eq!(c.reserves.len(), 2);
    assert!(c.missing.is_empty());
    // At 11-22 08:30 the 11-22 08:00 snapshot (10 packs) is the latest; 11-23's is not yet.
    assert_eq!(c.reserves[1].raw_amount.unwrap().get(), 10_000);
    assert_eq!(c.reserves[1].status, LineStatus::Fresh);
    assert_eq!(c.eligible_reserves_total.get(), 5_000);
}

#[test]
fn a_snapshot_exactly_at_the_window_is_fresh_and_one_second_later_stale() {
    let a = assets();
    let s = snapshots(&a);
    let gemini_obs = ts("2026-11-23T08:00:00.000Z");
    let edge = gemini_obs + chrono::Duration::seconds(86_400);
    let c = compute(&a, &s, liabilities(1, &[]), edge).unwrap();
    assert_eq!(c.reserves[1].status, LineStatus::Fresh);
    let c = compute(
        &a,
        &s,
        liabilities(1, &[]),
        edge + chrono::Duration::seconds(1),
    )
    .unwrap();
    assert_eq!(c.reserves[1].status, LineStatus::Stale);
}

#[test]
fn eligible_amounts_are_floored() {
    assert_eq!(
        haircut(Amount::new(12_345).unwrap(), Bps::new(5000).unwrap()).get(),
        6_172
    );
    assert_eq!(
        haircut(Amount::new(12_345).unwrap(), Bps::new(7000).unwrap()).get(),
        3_703
    );
    assert_eq!(
        haircut(Amount::new(9_999).unwrap(), Bps::new(1).unwrap()).get(),
        9_998
    );
    assert_eq!(haircut(Amount::MAX, Bps::ZERO), Amount::MAX);
    assert_eq!(haircut(Amount::MAX, Bps::FULL), Amount::ZERO);
}

#[test]
fn liabilities_must_be_non_zero_and_buckets_must_add_up() {
    let a = assets();
    let s = snapshots(&a);
    let err = compute(&a, &s, liabilities(0, &[]), as_of())
        .unwrap_err()
        .to_string();
    assert!(err.contains("liabilities.total is 0"), "{err}");
    let err = compute(&a, &s, liabilities(10, &[("a", 3), ("b", 4)]), as_of())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "liabilities.by_bucket adds up to 7, but liabilities.total is 10"
    );
}

fn claims(ratio: Option<u128>, min: u128) -> Claims {
    Claims {
        reserve_ratio_bps: ratio,
        min_reserve_ratio_bps: min,
    }
}

#[test]
fn i3_violations_are_refused_with_seed_001s_messages() {
    let a = assets();
    let s = snapshots(&a);
    // 6000 eligible against 6001 owed: 9998 bps.
    let under = compute(&a, &s, liabilities(6001, &[]), as_of()).unwrap();
    assert_eq!(under.coverage_ratio_bps.get(), 9_998);
    let err = check_publication(&under, claims(None, 10_000)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "reserve_attestation_i3_violated: reserve_ratio_bps=9998 < 10000"
    );
    assert!(matches!(err, ReserveError::I3Ratio { ratio: 9_998 }));

    let c = fixture_computation();
    let err = check_publication(&c, claims(Some(12_000), 9_999)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "reserve_attestation_i3_violated: min_reserve_ratio_bps=9999 < 10000"
    );

    let exact = compute(&a, &s, liabilities(6000, &[]), as_of()).unwrap();
    check_publication(&exact, claims(Some(10_000), 10_000)).unwrap();
    // Within ±1 bps of a computed 10000, a submitted 9999 is consistent but violates I3.
    let err = check_publication(&exact, claims(Some(9_999), 10_000)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "reserve_attestation_i3_violated: reserve_ratio_bps=9999 < 10000"
    );
}

#[test]
fn ratio_mismatches_beyond_one_bps_are_refused_naming_both_values() {
    let c = fixture_computation();
    check_publication(&c, claims(Some(11_999), 10_000)).unwrap();
    check_publication(&c, claims(Some(12_001), 10_000)).unwrap();
    let err = check_publication(&c, claims(Some(12_002), 10_000)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "reserve_ratio_bps=12002 does not match computed value 12000"
    );
    let err = check_publication(&c, claims(Some(11_998), 10_000)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "reserve_ratio_bps=11998 does not match computed value 12000"
    );
}

#[test]
fn a_period_minimum_above_the_period_end_ratio_is_refused() {
    let c = fixture_computation();
    let err = check_publication(&c, claims(None, 12_001))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "min_reserve_ratio_bps=12001 is above the period-end reserve_ratio_bps=12000"
    );
}

proptest! {
    #[test]
    fn haircut_is_the_floor_of_the_exact_fraction(raw in 0u128..10u128.pow(34), bps in 0u16..=10_000) {
        let e = haircut(Amount::new(raw).unwrap(), Bps::new(u64::from(bps)).unwrap()).get();
        let kept = u128::from(10_000 - bps);
        // e ≤ raw·kept/10000 < e + 1, checked without the division.
        prop_assert!(e * 10_000 <= raw * kept);
        prop_assert!(raw * kept < (e + 1) * 10_000);
        prop_assert!(e <= raw);
    }

    #[test]
    fn ratio_is_the_floor_and_full_backing_is_ratio_at_least_10000(
        eligible in 0u128..10u128.pow(30), owed in 1u128..10u128.pow(30)
    ) {
        let r = ratio_bps(Amount::new(eligible).unwrap(), Amount::new(owed).unwrap()).unwrap();
        prop_assert!(r * owed <= eligible * 10_000);
        prop_assert!(eligible * 10_000 < (r + 1) * owed);
        prop_assert_eq!(r >= 10_000, eligible >= owed);
    }

    #[test]
    fn amounts_round_trip_through_their_decimal_string(v in 0u128..10u128.pow(34)) {
        let a = Amount::new(v).unwrap();
        let s = serde_json::to_string(&a).unwrap();
        prop_assert_eq!(&s, &format!("\"{v}\""));
        prop_assert_eq!(serde_json::from_str::<Amount>(&s).unwrap(), a);
    }
}
