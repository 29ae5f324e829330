//! Creating a run and enqueueing its rollup: the one way runs come to be, used by the
//! scheduler's tick (`scheduler-process`), the backfill job and the API's backfill endpoint.

use chrono::{DateTime, Utc};
use ledger::{Period, TenantId, Trigger};

use crate::error::Result;
use crate::job::Job;

/// Creates the run of `tenant`'s `period` and, when it is new, enqueues its rollup; returns
/// the new run's id (`None`: the run existed, so its rollup was enqueued before). The
/// scheduler, backfills and the API's `POST /admin/runs` all create runs through this.
pub async fn create_and_enqueue(
    store: &ledger::sql::Store,
    queue: &crate::Queue,
    tenant: &TenantId,
    period: Period,
    trigger: Trigger,
    via: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let (run, created) = store.create_run(tenant, period, trigger, now).await?;
    if !created {
        return Ok(None);
    }
    queue
        .push(
            Job::Rollup {
                run: run.id.clone(),
                via: via.to_owned(),
            },
            std::time::Duration::ZERO,
        )
        .await?;
    Ok(Some(run.id))
}
