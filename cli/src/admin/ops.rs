//! `anchor kill-switch`, `anchor incidents`, `anchor backfill`: the operations state.

use chrono::{NaiveDate, Utc};
use clap::Subcommand;
use ledger::TenantId;
use ledger::ids::format_ts;
use ledger::sql::{Backfill, Incident, KillMode, KillScope, KillState};
use serde_json::{Value, json};

use super::{parse_usd, print_json, print_list, usd, with_store};
use service::backfills::{self, Fields};
use service::kill_switch;
use service::views::{IncidentView, KillView};

use crate::Outcome;
use crate::ledger_cmd::ConfigArg;

#[derive(Subcommand, Debug)]
pub enum KillSwitchCmd {
    /// Set the global switch or a tenant's (exactly one of --global, --tenant).
    #[command(group(clap::ArgGroup::new("scope").required(true).args(["global", "tenant"])))]
    Set {
        /// normal, tsa-only (no OpenTimestamps stamping) or paused (no anchoring at all).
        #[arg(long)]
        mode: KillMode,
        /// Every tenant.
        #[arg(long)]
        global: bool,
        /// One tenant.
        #[arg(long)]
        tenant: Option<TenantId>,
        /// Why, for the history.
        #[arg(long)]
        reason: String,
        /// Who flips it (default: $USER, else "operator").
        #[arg(long)]
        actor: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// The global switch, a tenant's, and the mode in effect (the stricter), as JSON.
    Show {
        #[arg(long)]
        tenant: Option<TenantId>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Every change, oldest first (of one tenant's switch with --tenant).
    History {
        #[arg(long)]
        tenant: Option<TenantId>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum IncidentsCmd {
    /// Open incidents, newest first (all of them with --all).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Close an open incident with what was done about it.
    Resolve {
        id: u64,
        #[arg(long)]
        resolution: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum BackfillCmd {
    /// Queue the anchoring of a tenant's past days FROM..=TO (UTC); prints the backfill.
    Create {
        #[arg(long)]
        tenant: TenantId,
        #[arg(long, value_name = "YYYY-MM-DD")]
        from: NaiveDate,
        #[arg(long, value_name = "YYYY-MM-DD")]
        to: NaiveDate,
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        manifests_per_hour: u64,
        /// Spending ceiling of this backfill in US dollars (default: the tenant's ceiling).
        #[arg(long, value_name = "USD", value_parser = parse_usd)]
        cost_ceiling_usd: Option<u64>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Print one backfill as JSON.
    Show {
        id: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Backfills, newest first.
    List {
        #[arg(long)]
        tenant: Option<TenantId>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Cancel a backfill for good.
    Cancel {
        id: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Pause a queued or running backfill: nothing new is enqueued until `resume` (periods
    /// already enqueued still run).
    Pause {
        id: String,
        /// Why, recorded in the backfill (`paused: …`).
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Queue a stopped or paused backfill again (a cancelled one stays cancelled: create a
    /// new one).
    Resume {
        id: String,
        /// Raise the cost ceiling first (a backfill stopped at its ceiling needs a higher one
        /// to go on).
        #[arg(long, value_name = "USD", value_parser = parse_usd)]
        cost_ceiling_usd: Option<u64>,
        #[command(flatten)]
        config: ConfigArg,
    },
}

pub fn kill_switch(cmd: KillSwitchCmd) -> Outcome {
    match cmd {
        KillSwitchCmd::Set {
            mode,
            global: _,
            tenant,
            reason,
            actor,
            config,
        } => {
            let actor = actor
                .or_else(|| std::env::var("USER").ok().filter(|u| !u.trim().is_empty()))
                .unwrap_or_else(|| "operator".into());
            let change = kill_switch::Change {
                scope: tenant.map_or(KillScope::Global, KillScope::Tenant),
                mode: mode.as_str(),
                reason,
                actor,
            };
            let state = with_store(&config, async |s| {
                Ok(kill_switch::set(s, change, kill_switch::Fields::CLI, Utc::now()).await?)
            })?;
            print_json(&kill_json(&state))
        }
        KillSwitchCmd::Show { tenant, config } => {
            let status = with_store(&config, async |s| {
                Ok(kill_switch::status(s, tenant.as_ref()).await?)
            })?;
            print_json(&json!(status))
        }
        KillSwitchCmd::History {
            tenant,
            json,
            config,
        } => {
            let history = with_store(
                &config,
                async |s| Ok(kill_switch::history(s, tenant).await?),
            )?;
            print_list(
                json,
                &history,
                kill_json,
                &["AT", "SCOPE", "MODE", "ACTOR", "REASON"],
                |k| {
                    vec![
                        format_ts(k.at),
                        k.scope.key(),
                        k.mode.to_string(),
                        k.actor.clone(),
                        k.reason.clone(),
                    ]
                },
            )
        }
    }
}

pub fn incidents(cmd: IncidentsCmd) -> Outcome {
    match cmd {
        IncidentsCmd::List { all, json, config } => {
            let incidents = with_store(&config, async |s| {
                Ok(service::incidents::list(s, all).await?)
            })?;
            print_list(
                json,
                &incidents,
                incident_json,
                &[
                    "ID", "OPENED", "TENANT", "RUN", "KIND", "RESOLVED", "DETAIL",
                ],
                |i| {
                    vec![
                        i.id.to_string(),
                        format_ts(i.opened_at),
                        i.tenant.as_ref().map_or("-".into(), TenantId::to_string),
                        i.run_id.clone().unwrap_or_else(|| "-".into()),
                        i.kind.clone(),
                        i.resolved_at.map_or("open".into(), format_ts),
                        i.detail.clone(),
                    ]
                },
            )
        }
        IncidentsCmd::Resolve {
            id,
            resolution,
            config,
        } => {
            let i = with_store(&config, async |s| {
                let field = "--resolution";
                Ok(service::incidents::resolve(s, id, &resolution, field, Utc::now()).await?)
            })?;
            print_json(&incident_json(&i))
        }
    }
}

pub fn backfill(cmd: BackfillCmd) -> Outcome {
    match cmd {
        BackfillCmd::Create {
            tenant,
            from,
            to,
            manifests_per_hour,
            cost_ceiling_usd,
            config,
        } => {
            let request = backfills::NewRequest {
                tenant,
                from,
                to,
                manifests_per_hour,
                cost_ceiling_micro_usd: cost_ceiling_usd,
            };
            let b = with_store(&config, async |s| {
                Ok(backfills::create(s, request, Fields::CLI, Utc::now()).await?)
            })?;
            print_json(&backfill_json(&b))
        }
        BackfillCmd::Show { id, config } => {
            let b = with_store(&config, async |s| Ok(s.backfill(&id).await?))?;
            print_json(&backfill_json(&b))
        }
        BackfillCmd::List {
            tenant,
            json,
            config,
        } => list_backfills(tenant.as_ref(), json, &config),
        BackfillCmd::Cancel { id, config } => {
            let b = with_store(&config, async |s| {
                Ok(backfills::cancel(s, &id, "cancelled by the operator", Utc::now()).await?)
            })?;
            print_json(&backfill_json(&b))
        }
        BackfillCmd::Pause { id, reason, config } => {
            let b = with_store(&config, async |s| {
                Ok(backfills::pause(s, &id, &reason, Utc::now()).await?)
            })?;
            print_json(&backfill_json(&b))
        }
        BackfillCmd::Resume {
            id,
            cost_ceiling_usd,
            config,
        } => {
            let b = with_store(&config, async |s| {
                Ok(backfills::resume(s, &id, cost_ceiling_usd, Fields::CLI, Utc::now()).await?)
            })?;
            print_json(&backfill_json(&b))
        }
    }
}

fn list_backfills(tenant: Option<&TenantId>, json: bool, config: &ConfigArg) -> Outcome {
    let list = with_store(config, async |s| {
        if let Some(t) = tenant {
            s.tenant(t).await?;
        }
        Ok(s.backfills(tenant).await?)
    })?;
    print_list(
        json,
        &list,
        backfill_json,
        &[
            "ID",
            "TENANT",
            "FROM",
            "TO",
            "PER HOUR",
            "STATUS",
            "PERIODS",
            "MANIFESTS",
            "SPENT/CEILING USD",
            "CREATED",
        ],
        |b| {
            vec![
                b.id.clone(),
                b.tenant.to_string(),
                b.from.to_string(),
                b.to.to_string(),
                b.manifests_per_hour.to_string(),
                b.status.to_string(),
                format!("{}/{}", b.periods_done, b.periods_total),
                b.manifests_done.to_string(),
                format!(
                    "{}/{}",
                    usd(b.cost_spent_micro_usd),
                    usd(b.cost_ceiling_micro_usd)
                ),
                format_ts(b.created_at),
            ]
        },
    )
}

fn kill_json(k: &KillState) -> Value {
    json!(KillView::from(k))
}

fn incident_json(i: &Incident) -> Value {
    json!(IncidentView::from(i))
}

/// A backfill as JSON: the operator's record (`service::views`).
fn backfill_json(b: &Backfill) -> Value {
    json!(service::views::BackfillRecord::from(b))
}
