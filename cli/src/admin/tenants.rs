//! `anchor tenants`: add, list, show, set, consent.

use chrono::Utc;
use clap::Subcommand;
use ledger::ids::format_ts;
use ledger::sql::{ConsentAction, Store, Tenant, TenantStatus, Visibility};
use ledger::{Plan, TenantId};
use serde_json::{Value, json};
use service::tenants::{self, Fields};

use super::{parse_usd, print_json, print_list, usd, with_store};
use crate::ledger_cmd::ConfigArg;
use crate::{Failure, Outcome};

#[derive(Subcommand, Debug)]
pub enum TenantsCmd {
    /// Create a tenant and print its API token — the only time it is shown.
    Add {
        /// Tenant id: 1 to 63 of [a-z0-9-], not starting or ending with '-'.
        tenant: TenantId,
        /// starter, pro or enterprise.
        #[arg(long)]
        plan: Plan,
        /// Roots of one cadence anchored per period of that cadence (daily runs a day, weekly
        /// a week); catch-up beyond it waits. Backfills are paced by their own rate instead.
        #[arg(long, default_value_t = 4, value_name = "N",
              value_parser = clap::value_parser!(u32).range(1..))]
        max_roots_per_period: u32,
        /// Spending ceiling in US dollars (up to 6 decimals).
        #[arg(long, default_value = "50", value_name = "USD", value_parser = parse_usd)]
        cost_ceiling_usd: u64,
        /// Record an opt-in in the consent log at once (new tenants start opted out).
        #[arg(long)]
        opt_in: bool,
        /// Visibility of receipts and proofs that the opt-in grants: public or private.
        #[arg(long, requires = "opt_in")]
        visibility: Option<Visibility>,
        /// Who signs the opt-in entry.
        #[arg(long, default_value = "operator", requires = "opt_in")]
        signer: String,
        /// Why, for the consent log.
        #[arg(long, requires = "opt_in")]
        reason: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// List tenants (never their tokens).
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Print one tenant, its consent log and its effective kill-switch mode, as JSON.
    Show {
        tenant: TenantId,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Change a tenant's plan, limits or status.
    Set {
        tenant: TenantId,
        #[arg(long)]
        plan: Option<Plan>,
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        max_roots_per_period: Option<u32>,
        #[arg(long, value_name = "USD", value_parser = parse_usd)]
        cost_ceiling_usd: Option<u64>,
        /// active, paused or disabled.
        #[arg(long)]
        status: Option<TenantStatus>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// The tenant's own RFC 3161 authority (URLs tried in order, the policy OID its tokens
    /// must carry, the CA bundle they must chain to), or `--clear` for the fleet's.
    Tsa {
        tenant: TenantId,
        #[arg(long, value_name = "URL[,URL…]", required_unless_present = "clear")]
        url: Option<String>,
        #[arg(long, value_name = "OID", conflicts_with = "clear")]
        policy: Option<String>,
        /// PEM CA bundle (default: the fleet's `LEDGER_TSA_CA_FILE`).
        #[arg(long, value_name = "FILE", conflicts_with = "clear")]
        ca: Option<std::path::PathBuf>,
        #[arg(long, conflicts_with = "url")]
        clear: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Append an opt-in or opt-out to the consent log (earlier entries are kept; opting out
    /// stops new anchors only).
    Consent {
        tenant: TenantId,
        /// `opt_in` or `opt_out`.
        #[arg(long)]
        action: ConsentAction,
        /// public or private (default: the tenant's current visibility).
        #[arg(long)]
        visibility: Option<Visibility>,
        #[arg(long)]
        signer: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

pub fn run(cmd: TenantsCmd) -> Outcome {
    match cmd {
        TenantsCmd::Add {
            tenant,
            plan,
            max_roots_per_period,
            cost_ceiling_usd,
            opt_in,
            visibility,
            signer,
            reason,
            config,
        } => {
            let consent = opt_in.then(|| tenants::Consent {
                action: ConsentAction::OptIn,
                visibility: Some(visibility.unwrap_or(Visibility::Private)),
                signer,
                reason: reason.unwrap_or_else(|| "opted in when the tenant was created".into()),
            });
            if let Some(c) = &consent {
                tenants::check_consent(c, Fields::CLI).map_err(|e| Failure::Input(e.into()))?;
            }
            let new = tenants::NewRequest {
                id: tenant,
                plan,
                max_roots_per_period: Some(max_roots_per_period),
                cost_ceiling_micro_usd: Some(cost_ceiling_usd),
            };
            add(new, consent, &config)
        }
        TenantsCmd::List { json, config } => list(json, &config),
        TenantsCmd::Show { tenant, config } => show(&tenant, &config),
        TenantsCmd::Tsa {
            tenant,
            url,
            policy,
            ca,
            clear: _,
            config,
        } => set_tsa(&tenant, url, policy, ca.as_ref(), &config),
        TenantsCmd::Set {
            tenant,
            plan,
            max_roots_per_period,
            cost_ceiling_usd,
            status,
            config,
        } => set(
            &tenant,
            tenants::Change {
                plan,
                max_roots_per_period,
                cost_ceiling_micro_usd: cost_ceiling_usd,
                status,
                rotate_token: false,
            },
            &config,
        ),
        TenantsCmd::Consent {
            tenant,
            action,
            visibility,
            signer,
            reason,
            config,
        } => consent(
            &tenant,
            tenants::Consent {
                action,
                visibility,
                signer,
                reason,
            },
            &config,
        ),
    }
}

/// `tenants show`: the tenant, its consent log and the kill switch in effect for it.
fn show(tenant: &TenantId, config: &ConfigArg) -> Outcome {
    let v = with_store(config, async |s| {
        let t = s.tenant(tenant).await?;
        let log = s.consent_log(tenant).await?;
        let mode = s.effective_kill_mode(tenant).await?;
        let mut v = tenant_json(&t);
        v["consent_log"] = serde_json::to_value(log)?;
        v["kill_switch_effective"] = json!(mode);
        Ok(v)
    })?;
    print_json(&v)
}

/// `tenants set`: changes what the change names; a change that names nothing is refused.
fn set(tenant: &TenantId, change: tenants::Change, config: &ConfigArg) -> Outcome {
    if change.is_empty() {
        return Err(Failure::Input(anyhow::anyhow!(
            "nothing to change: pass --plan, --max-roots-per-period, --cost-ceiling-usd \
             or --status"
        )));
    }
    let (t, _) = with_store(config, async |s| {
        Ok(tenants::update(s, tenant, change, Utc::now()).await?)
    })?;
    print_json(&tenant_json(&t))
}

fn set_tsa(
    tenant: &TenantId,
    url: Option<String>,
    policy: Option<String>,
    ca: Option<&std::path::PathBuf>,
    config: &ConfigArg,
) -> Outcome {
    let ca_pem = match ca {
        Some(path) => {
            let pem = String::from_utf8(crate::read_input(path)?)
                .map_err(|_| anyhow::anyhow!("{} is not PEM text", path.display()))?;
            stamp::tsp::Certificate::from_pem_bundle(&pem)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            Some(pem)
        }
        None => None,
    };
    let tsa = url.map(|url| ledger::sql::TenantTsa {
        url,
        policy,
        ca_pem,
    });
    let t = with_store(config, async |s| {
        Ok(tenants::set_tsa(s, tenant, tsa, Utc::now()).await?)
    })?;
    print_json(&tenant_json(&t))
}

fn list(json: bool, config: &ConfigArg) -> Outcome {
    let tenants = with_store(config, async |s| Ok(s.tenants().await?))?;
    print_list(
        json,
        &tenants,
        tenant_json,
        &[
            "ID",
            "PLAN",
            "CONSENT",
            "VISIBILITY",
            "STATUS",
            "MAX ROOTS",
            "CEILING USD",
            "CREATED",
        ],
        |t| {
            vec![
                t.id.to_string(),
                t.plan.to_string(),
                t.consent.to_string(),
                t.visibility.to_string(),
                t.status.to_string(),
                t.max_roots_per_period.to_string(),
                usd(t.cost_ceiling_micro_usd),
                format_ts(t.created_at),
            ]
        },
    )
}

/// Appends to the consent log and prints the tenant's consent, visibility and whole log.
fn consent(tenant: &TenantId, consent: tenants::Consent, config: &ConfigArg) -> Outcome {
    tenants::check_consent(&consent, Fields::CLI).map_err(|e| Failure::Input(e.into()))?;
    let v = with_store(config, async |s| {
        let t = tenants::record_consent(s, tenant, consent, Fields::CLI, Utc::now()).await?;
        let log = s.consent_log(tenant).await?;
        Ok(json!({
            "tenant": t.id,
            "consent": t.consent,
            "visibility": t.visibility,
            "consent_log": log,
        }))
    })?;
    print_json(&v)
}

/// Creates the tenant with a fresh token, then the opt-in if asked. The token is printed
/// whenever the tenant was created, even when the opt-in then fails.
fn add(new: tenants::NewRequest, consent: Option<tenants::Consent>, config: &ConfigArg) -> Outcome {
    let (created, consent_error) = with_store(config, async |s: &Store| {
        let now = Utc::now();
        let mut created = tenants::create(s, new, now).await?;
        let Some(consent) = consent else {
            return Ok((created, None));
        };
        let id = created.tenant.id.clone();
        Ok(
            match tenants::record_consent(s, &id, consent, Fields::CLI, now).await {
                Ok(t) => {
                    created.tenant = t;
                    (created, None)
                }
                Err(e) => (created, Some(e)),
            },
        )
    })?;
    let tenant = &created.tenant;
    print_json(&json!({
        "tenant": tenant.id,
        "plan": tenant.plan,
        "token": created.token,
        "consent": tenant.consent,
    }))?;
    eprintln!(
        "anchor: the token of {} is shown only this once (only its SHA-256 is stored); \
         hand it to the tenant now",
        tenant.id
    );
    match consent_error {
        None => Ok(()),
        Some(e) => Err(super::classify(anyhow::Error::new(e).context(format!(
            "tenant {} was created but its opt-in was NOT recorded; run `anchor tenants \
             consent {} --action opt_in …`",
            tenant.id, tenant.id
        )))),
    }
}

/// A tenant as JSON, without its token hash: the operator's record (`service::views`).
fn tenant_json(t: &Tenant) -> Value {
    json!(service::views::TenantRecord::from(t))
}
