//! The automatic calendar-outage switch.
//!
//! Every OTS submission that misses its m-of-n counts one consecutive failure; a success
//! resets the count. At [`scheduler::Policy::outage_threshold`] consecutive failures the
//! global kill switch goes to `tsa-only` with reason "calendar outage" and actor
//! [`AUTO_ACTOR`] — unless an operator has set something other than `normal`, which the
//! automation never overrides. When calendars answer again (the catch-up job's submission
//! succeeds), a `tsa-only` the automation set returns to `normal`; one an operator set stays.

use std::time::Duration;

use ledger::KillMode;
use ledger::kv::KvKey;
use ledger::sql::{KillScope, KillState};

use crate::ctx::Ctx;
use crate::error::Result;

/// The actor recorded for automatic kill-switch changes.
pub const AUTO_ACTOR: &str = "auto:calendar-outage";

fn failures_key() -> KvKey {
    KvKey::state("ots-consecutive-failures").expect("a valid constant key")
}

/// Whether the global switch is the automation's tsa-only (so catch-up should probe).
pub async fn auto_tsa_only(ctx: &Ctx) -> Result<bool> {
    Ok(ctx
        .store
        .kill_switch(&KillScope::Global)
        .await?
        .is_some_and(|s| s.mode == KillMode::TsaOnly && s.actor == AUTO_ACTOR))
}

/// Records a failed OTS submission; may switch the fleet to tsa-only.
pub async fn calendars_failed(ctx: &Ctx, why: &str) -> Result<()> {
    let n = ctx
        .kv
        .incr(&failures_key(), Duration::from_hours(7 * 24))
        .await?;
    metrics::gauge!("calendar_healthy").set(0.0);
    tracing::warn!(consecutive = n, why, "OTS submission failed");
    if n < u64::from(ctx.policy.outage_threshold) {
        return Ok(());
    }
    let current = ctx.store.kill_switch(&KillScope::Global).await?;
    if current.as_ref().is_some_and(|s| s.mode != KillMode::Normal) {
        return Ok(());
    }
    ctx.store
        .set_kill_switch(&KillState {
            scope: KillScope::Global,
            mode: KillMode::TsaOnly,
            reason: format!("calendar outage: {n} consecutive OTS submissions failed; last: {why}"),
            actor: AUTO_ACTOR.into(),
            at: ctx.now(),
        })
        .await?;
    tracing::error!(
        consecutive = n,
        "calendar outage: global kill switch set to tsa-only"
    );
    Ok(())
}

/// Records a successful OTS submission; ends an automatic tsa-only.
pub async fn calendars_answered(ctx: &Ctx) -> Result<()> {
    ctx.kv.delete(&failures_key()).await?;
    metrics::gauge!("calendar_healthy").set(1.0);
    if auto_tsa_only(ctx).await? {
        ctx.store
            .set_kill_switch(&KillState {
                scope: KillScope::Global,
                mode: KillMode::Normal,
                reason: "calendars answer again".into(),
                actor: AUTO_ACTOR.into(),
                at: ctx.now(),
            })
            .await?;
        tracing::warn!("calendars answer again: global kill switch back to normal");
    }
    Ok(())
}
