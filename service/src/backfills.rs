//! Backfills: an operator's anchoring of past days, paced by a token bucket and stopped before
//! a cost ceiling (the scheduler's tick enqueues its steps; `workers::backfill` runs them).
//!
//! The rules, once, for `anchor backfill create|cancel|resume` and `POST /anchor/backfill`,
//! `DELETE /anchor/backfill/{id}`:
//!
//! - **create**: `from` ≤ `to`, `to` not after today (UTC: a backfill covers past days), at
//!   least one manifest per hour, the tenant exists; the ceiling is the tenant's unless one is
//!   given.
//! - **cancel**: final; a backfill already cancelled or done is a conflict.
//! - **resume**: only a stopped backfill; a cancelled one is final (create a new one); a new
//!   ceiling may be given and must exceed what was spent, and without room under its ceiling
//!   the backfill is not resumed (it would stop again at once). Before this layer only the CLI
//!   checked the ceiling on resume.
//!
//! Messages name the fields the way the caller does ([`Fields`]): the CLI's flags or the
//! API's JSON members, so the same rule reads right from either.

use chrono::{DateTime, NaiveDate, Utc};
use ledger::TenantId;
use ledger::sql::{Backfill, BackfillStatus, NewBackfill, Store};
use scheduler::policy::decimal_usd;

use crate::error::{Result, ServiceError};

/// How the caller names a backfill's fields in its messages.
#[derive(Clone, Copy, Debug)]
pub struct Fields {
    pub from: &'static str,
    pub to: &'static str,
    pub manifests_per_hour: &'static str,
    pub cost_ceiling: &'static str,
}

impl Fields {
    /// `anchor backfill`'s flags.
    pub const CLI: Fields = Fields {
        from: "--from",
        to: "--to",
        manifests_per_hour: "--manifests-per-hour",
        cost_ceiling: "--cost-ceiling-usd",
    };
    /// The API's JSON members.
    pub const API: Fields = Fields {
        from: "from",
        to: "to",
        manifests_per_hour: "manifests_per_hour",
        cost_ceiling: "cost_ceiling_usd",
    };
}

/// What a new backfill asks for.
#[derive(Clone, Debug)]
pub struct NewRequest {
    pub tenant: TenantId,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub manifests_per_hour: u64,
    /// `None`: the tenant's own cost ceiling.
    pub cost_ceiling_micro_usd: Option<u64>,
}

/// Checks the range and the pace of a new backfill at `today` (UTC).
pub fn check_request(req: &NewRequest, today: NaiveDate, names: Fields) -> Result<()> {
    let (from, to) = (req.from, req.to);
    if from > to {
        return Err(ServiceError::Unprocessable(format!(
            "{} {from} is after {} {to}",
            names.from, names.to
        )));
    }
    if to > today {
        return Err(ServiceError::Unprocessable(format!(
            "{} {to} is in the future (today is {today} UTC); a backfill covers past days",
            names.to
        )));
    }
    if req.manifests_per_hour == 0 {
        return Err(ServiceError::Unprocessable(format!(
            "{} must be at least 1",
            names.manifests_per_hour
        )));
    }
    Ok(())
}

/// Creates a backfill (status `queued`) after [`check_request`]; the tenant must exist.
pub async fn create(
    store: &Store,
    req: NewRequest,
    names: Fields,
    now: DateTime<Utc>,
) -> Result<Backfill> {
    check_request(&req, now.date_naive(), names)?;
    let tenant = store.tenant(&req.tenant).await?;
    let new = NewBackfill {
        id: ledger::sql::new_backfill_id(),
        tenant: req.tenant,
        from: req.from,
        to: req.to,
        manifests_per_hour: req.manifests_per_hour,
        cost_ceiling_micro_usd: req
            .cost_ceiling_micro_usd
            .unwrap_or(tenant.cost_ceiling_micro_usd),
    };
    Ok(store.create_backfill(&new, now).await?)
}

/// Cancels a backfill (final: periods already enqueued still run; nothing new is). `reason`
/// says who cancelled it.
pub async fn cancel(store: &Store, id: &str, reason: &str, now: DateTime<Utc>) -> Result<Backfill> {
    let b = store.backfill(id).await?;
    if matches!(b.status, BackfillStatus::Cancelled | BackfillStatus::Done) {
        return Err(ServiceError::Conflict(format!(
            "backfill {id} is already {}",
            b.status
        )));
    }
    Ok(store
        .set_backfill_status(id, BackfillStatus::Cancelled, Some(reason), now)
        .await?)
}

/// Pauses a queued or running backfill: it becomes `stopped` with `reason` (prefixed
/// `paused:`), so its steps enqueue nothing new (periods already enqueued still run), until
/// [`resume`]. Pausing a stopped one is a conflict naming why it stopped; a cancelled or done
/// one is final.
pub async fn pause(store: &Store, id: &str, reason: &str, now: DateTime<Utc>) -> Result<Backfill> {
    let b = store.backfill(id).await?;
    match b.status {
        BackfillStatus::Queued | BackfillStatus::Running => {}
        BackfillStatus::Stopped => {
            return Err(ServiceError::Conflict(format!(
                "backfill {id} is already stopped ({})",
                b.reason.as_deref().unwrap_or("no reason recorded")
            )));
        }
        other => {
            return Err(ServiceError::Conflict(format!(
                "backfill {id} is {other}, which is final"
            )));
        }
    }
    let reason = reason.trim();
    let why = if reason.is_empty() {
        "paused".to_owned()
    } else {
        format!("paused: {reason}")
    };
    Ok(store
        .set_backfill_status(id, BackfillStatus::Stopped, Some(&why), now)
        .await?)
}

/// Resumes a stopped backfill, raising its ceiling first when `cost_ceiling_micro_usd` is
/// given (the store refuses one at or below what was spent).
pub async fn resume(
    store: &Store,
    id: &str,
    cost_ceiling_micro_usd: Option<u64>,
    names: Fields,
    now: DateTime<Utc>,
) -> Result<Backfill> {
    let mut b = store.backfill(id).await?;
    match b.status {
        BackfillStatus::Stopped => {}
        BackfillStatus::Cancelled => {
            return Err(ServiceError::Conflict(format!(
                "backfill {id} is cancelled, which is final; create a new backfill for {}..{}",
                b.from, b.to
            )));
        }
        other => {
            return Err(ServiceError::Conflict(format!(
                "backfill {id} is {other}; only a stopped one can be resumed"
            )));
        }
    }
    if let Some(ceiling) = cost_ceiling_micro_usd {
        b = store.raise_backfill_ceiling(id, ceiling, now).await?;
    }
    if b.cost_spent_micro_usd >= b.cost_ceiling_micro_usd {
        return Err(ServiceError::Unprocessable(format!(
            "backfill {id} has spent {} of its {} ceiling: resume with a higher {}",
            decimal_usd(b.cost_spent_micro_usd),
            decimal_usd(b.cost_ceiling_micro_usd),
            names.cost_ceiling
        )));
    }
    Ok(store
        .set_backfill_status(
            id,
            BackfillStatus::Queued,
            Some("resumed by the operator"),
            now,
        )
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(from: &str, to: &str, rate: u64) -> NewRequest {
        NewRequest {
            tenant: TenantId::new("acme").unwrap(),
            from: from.parse().unwrap(),
            to: to.parse().unwrap(),
            manifests_per_hour: rate,
            cost_ceiling_micro_usd: None,
        }
    }

    fn refusal(req: &NewRequest, names: Fields) -> String {
        let today: NaiveDate = "2026-12-05".parse().unwrap();
        check_request(req, today, names).unwrap_err().to_string()
    }

    #[test]
    fn a_range_that_runs_backwards_is_named_in_the_callers_words() {
        let req = request("2026-02-01", "2026-01-31", 10);
        assert_eq!(
            refusal(&req, Fields::CLI),
            "--from 2026-02-01 is after --to 2026-01-31"
        );
        assert_eq!(
            refusal(&req, Fields::API),
            "from 2026-02-01 is after to 2026-01-31"
        );
    }

    #[test]
    fn a_range_ending_after_today_is_refused_and_today_itself_is_allowed() {
        let req = request("2026-12-01", "2026-12-06", 10);
        assert_eq!(
            refusal(&req, Fields::API),
            "to 2026-12-06 is in the future (today is 2026-12-05 UTC); a backfill covers past days"
        );
        let today: NaiveDate = "2026-12-05".parse().unwrap();
        assert!(check_request(&request("2026-12-01", "2026-12-05", 1), today, Fields::API).is_ok());
    }

    #[test]
    fn a_pace_of_zero_manifests_per_hour_is_refused() {
        assert_eq!(
            refusal(&request("2026-01-01", "2026-01-31", 0), Fields::API),
            "manifests_per_hour must be at least 1"
        );
    }
}
