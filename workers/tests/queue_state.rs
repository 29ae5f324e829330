//! The queue's state against the system of record (issue 26): a job whose run does not exist
//! is a dead letter with its reason, never "done"; a pending anchor whose upgrade job was
//! lost with the queue gets it back from the scheduler's reconciliation.

mod common;

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::Utc;
use common::Fleet;
use ledger::Plan;
use ledger::sql::RunStatus;
use workers::job::Job;
use workers::service::shutdown_pair;

fn ghost_jobs() -> Vec<Job> {
    let run = "ghost-co:2026-11-02".to_owned();
    vec![
        Job::Rollup {
            run: run.clone(),
            via: "scheduled".into(),
        },
        Job::Upgrade {
            run: run.clone(),
            attempt: 0,
        },
        Job::SampleVerify { run },
    ]
}

async fn jobs_of_missing_runs_become_dead_letters(extra: &[(&str, &str)]) {
    let calendar = common::dev_calendar().await;
    let fleet = Fleet::start(std::slice::from_ref(&calendar), extra).await;
    let worker = Arc::new(fleet.reopen(&[]).await);
    for job in ghost_jobs() {
        worker.queue.push(job, StdDuration::ZERO).await.unwrap();
    }
    let (trigger, shutdown) = shutdown_pair();
    let pool = workers::service::worker_pool(worker.clone(), 2, shutdown);
    let queue = worker.queue.clone();
    let watch = async {
        let deadline = Instant::now() + StdDuration::from_secs(30);
        loop {
            let letters = queue.dead_letters().await.unwrap();
            if letters.len() == 3 {
                break;
            }
            assert!(Instant::now() < deadline, "dead letters: {letters:?}");
            tokio::time::sleep(StdDuration::from_millis(200)).await;
        }
        // Give apalis a moment to record the deliveries' outcome.
        let deadline = Instant::now() + StdDuration::from_secs(10);
        while queue.stats().await.unwrap().dead < 3 && Instant::now() < deadline {
            tokio::time::sleep(StdDuration::from_millis(200)).await;
        }
        trigger.fire();
    };
    let (pooled, ()) = tokio::join!(pool, watch);
    pooled.unwrap();

    let letters = queue.dead_letters().await.unwrap();
    let mut kinds: Vec<&str> = letters.iter().map(|d| d.job.kind()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["rollup", "sample-verify", "upgrade"]);
    for d in &letters {
        assert!(
            d.reason
                .contains("run \"ghost-co:2026-11-02\" does not exist in this database"),
            "{d:?}"
        );
        assert!((Utc::now().timestamp() - d.at).abs() < 120, "{d:?}");
    }
    let stats = queue.stats().await.unwrap();
    assert_eq!(
        (stats.done, stats.dead, stats.dead_letters),
        (0, 3, 3),
        "never acknowledged as done: {stats:?}"
    );
    // Bounded retention: past it, dead jobs and dead letters are trimmed, records and all.
    let trimmed = queue
        .trim_older_than(StdDuration::ZERO, StdDuration::ZERO)
        .await
        .unwrap();
    assert!(trimmed >= 6, "3 dead jobs and 3 letters: {trimmed}");
    let stats = queue.stats().await.unwrap();
    assert_eq!(
        (stats.stored, stats.dead, stats.dead_letters),
        (0, 0, 0),
        "{stats:?}"
    );
    // Nothing was created for the ghost run in this database.
    assert!(
        worker
            .store
            .find_tenant(&common::tenant_id("ghost-co"))
            .await
            .unwrap()
            .is_none()
    );
    // The keys were freed: the same job can be queued again (once).
    for job in ghost_jobs() {
        worker
            .queue
            .push(job, StdDuration::from_mins(1))
            .await
            .unwrap();
        worker
            .queue
            .push(ghost_jobs()[0].clone(), StdDuration::from_mins(1))
            .await
            .unwrap();
    }
    let stats = queue.stats().await.unwrap();
    assert_eq!(stats.scheduled, 3, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_whose_run_does_not_exist_is_a_dead_letter_on_the_sqlite_queue_never_done() {
    jobs_of_missing_runs_become_dead_letters(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_whose_run_does_not_exist_is_a_dead_letter_on_redis_never_done() {
    let Some(url) = testkit::redis::server_or_skip() else {
        return;
    };
    jobs_of_missing_runs_become_dead_letters(&[("LEDGER_QUEUE", url.as_str())]).await;
}

#[tokio::test]
async fn a_pending_anchor_gets_its_upgrade_job_back_after_the_queue_lost_its_state() {
    let calendar = common::dev_calendar().await;
    // A lease of one tick: the reconciliation runs every tick.
    let fleet = Fleet::start(
        std::slice::from_ref(&calendar),
        &[("LEDGER_RUN_LEASE", "1s")],
    )
    .await;
    let ctx = &fleet.ctx;
    let created = Utc::now() - chrono::Duration::days(30);
    let t = common::tenant(
        ctx,
        "pending-co",
        Plan::Enterprise,
        created,
        1_000_000_000,
        0,
    )
    .await;
    let day = common::day_ago(2);
    common::manifests(ctx, &t, day, 4).await;
    fleet.tick().await;
    let run_id = common::run_id(&t, day);
    common::rollup(ctx, &run_id).await;
    assert_eq!(
        ctx.store.run(&run_id).await.unwrap().status,
        RunStatus::Anchored
    );
    let upgrade = |jobs: &[(Job, i64)]| {
        jobs.iter()
            .filter(|(j, _)| matches!(j, Job::Upgrade { run, .. } if *run == run_id))
            .count()
    };
    assert_eq!(upgrade(&fleet.queued_jobs().await), 1);

    // The queue loses its state (a flushed Redis, a deleted queue file).
    let url = format!("sqlite://{}", fleet.queue_path().display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("DELETE FROM Jobs")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(upgrade(&fleet.queued_jobs().await), 0);

    let report = fleet.tick().await;
    assert!(report.reconciled >= 1, "{report:?}");
    assert_eq!(
        upgrade(&fleet.queued_jobs().await),
        1,
        "the upgrade job is back"
    );
    // Another tick finds it queued: still one.
    fleet.tick().await;
    assert_eq!(upgrade(&fleet.queued_jobs().await), 1, "and only once");
}

#[tokio::test]
async fn a_rollup_that_fails_transiently_hands_its_retry_to_the_handler_with_its_error() {
    let calendar = common::dev_calendar().await;
    // A TSA on a closed port: a transport failure, worth retrying.
    let fleet = Fleet::start(
        std::slice::from_ref(&calendar),
        &[("LEDGER_TSA_URL", "http://127.0.0.1:9")],
    )
    .await;
    let ctx = &fleet.ctx;
    let created = Utc::now() - chrono::Duration::days(40);
    let t = common::tenant(ctx, "retry-co", Plan::Pro, created, 1_000_000_000, 0).await;
    let week = common::week_ago(2);
    common::manifests(ctx, &t, week, 3).await;
    let run = common::run_id(&t, week);
    ctx.store
        .create_run(&t, week, ledger::Trigger::Manual, Utc::now())
        .await
        .unwrap();
    let out = workers::handler::dispatch(
        ctx,
        &Job::Rollup {
            run: run.clone(),
            via: "manual".into(),
        },
    )
    .await;
    let err = out.result.expect_err("the TSA is unreachable");
    assert!(err.is_transient(), "{err}");
    let next = out.follow_up.expect("a transient failure asks for a retry");
    assert!(
        matches!(&next.job, Job::Rollup { run: r, via } if *r == run && via.starts_with("retry-")),
        "{next:?}"
    );
    assert_eq!(next.delay, workers::handler::backoff(1));
}
