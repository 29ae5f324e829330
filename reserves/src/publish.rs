//! The publication of a reserve attestation (README, "Binding to anchoring: the flow"), as a
//! service: `anchor reserves publish` is its adapter (arguments, printing, the audit log, exit
//! codes), and any other caller gets the same rules.
//!
//! One call computes the balances document from the registry and the latest snapshots at the
//! period's end and runs seed 001's checks (±1 bps for a submitted ratio, then I3). Then:
//!
//! 1. **Already published** (an attestation with the same period end and balance digest is
//!    stored): nothing more; a retry never publishes twice.
//! 2. **Not yet anchored** (the balance digest is in no anchored tree of the reserves tenant):
//!    the digest is submitted as a manifest of that tenant ([`Step::Submitted`] names the
//!    runs that anchor it). Refused when every current period of the tenant was anchored
//!    already: a period is anchored once, so the digest would wait for the next one.
//! 3. **Anchored**: the newest run summary whose tree holds the digest is bound (its inclusion
//!    proof, from the period's stored tree), a summary older than the configured maximum age
//!    is refused, the attestation is signed with the operator's key (which must be in the
//!    published JWKS), stored `pending` with one outbox row per webhook, and one delivery
//!    cycle runs.
//!
//! A dry run stops after the computation and the checks.

use chrono::{DateTime, Utc};
use ledger::LedgerError;
use ledger::TenantId;
use ledger::blob::BlobStore;
use ledger::ids::Period;
use ledger::keys::SigningKey;
use ledger::sql::{RunStatus, Store};
use merkle::ManifestDigest;
use proofs::{PeriodProofs, ProofsError};
use scheduler::Policy;

use crate::attestation::{AnchorBinding, Attestation, AttestedPeriod, Balances, SignedAttestation};
use crate::compute::{Claims, Computation, Liabilities};
use crate::config::ReservesConfig;
use crate::error::ReserveError;
use crate::publisher::Publisher;
use crate::sql::{AttestationFilter, ReserveStore};
use crate::types::AttestationId;

/// What one publication asks for.
#[derive(Clone, Debug)]
pub struct Request {
    pub period: AttestedPeriod,
    pub liabilities: Liabilities,
    pub claims: Claims,
}

/// Where a publication reads and writes, and under which configuration.
#[derive(Debug)]
pub struct Stores<'a> {
    pub store: &'a Store,
    pub blobs: &'a BlobStore,
    pub reserves: &'a ReserveStore,
    pub config: &'a ReservesConfig,
    /// The anchoring policy: which periods of the reserves tenant would anchor a submission.
    pub policy: &'a Policy,
}

/// What a publication did.
#[derive(Debug)]
pub enum Step {
    /// The computation and the result of the checks; nothing stored or submitted.
    DryRun {
        computation: Box<Computation>,
        checked: Box<Result<Balances, ReserveError>>,
    },
    /// An attestation was already stored for these balances: its id and status.
    AlreadyPublished {
        digest: ManifestDigest,
        id: AttestationId,
        status: String,
    },
    /// The balance digest was submitted to the reserves tenant; anchoring is awaited in
    /// these periods of it.
    Submitted {
        digest: ManifestDigest,
        tenant: TenantId,
        periods: Vec<Period>,
    },
    /// Signed, stored and offered to the webhooks once.
    Published {
        digest: ManifestDigest,
        tenant: TenantId,
        signed: Box<SignedAttestation>,
        status: String,
        /// Deliveries that failed this cycle (the outbox retries them).
        delivery_errors: Vec<String>,
    },
}

/// Why a publication was refused. Each variant keeps the error it wraps as its source, so a
/// caller can tell an unreachable database from a rule.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Reserve(#[from] ReserveError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The configured reserves tenant is not a tenant of this ledger.
    #[error("{var} names tenant {tenant}")]
    UnknownTenant {
        var: &'static str,
        tenant: TenantId,
        #[source]
        source: LedgerError,
    },
    /// A period's stored tree could not be read.
    #[error("loading the tree of {tenant} {period}")]
    Tree {
        tenant: TenantId,
        period: Period,
        #[source]
        source: ProofsError,
    },
    /// The operator's signing key could not be loaded (the loader's words).
    #[error("{0}")]
    SigningKey(String),
    /// The signing key is not among the published keys: auditors could not verify.
    #[error("the signing key {0} is not in the store's published JWKS: auditors could not verify")]
    KeyNotPublished(String),
    /// Every current period of the tenant was anchored before the digest arrived.
    #[error(
        "balance digest {digest} was submitted to tenant {tenant}, but its current period {closed} \
         was already anchored before the digest arrived, and a period is anchored once: \
         publish again once the tenant's next period has opened"
    )]
    PeriodsClosed {
        digest: String,
        tenant: TenantId,
        closed: String,
    },
}

/// A broken rule of the values or the attestation (`domain::reserve`) is the crate's error.
impl From<crate::error::RuleError> for PublishError {
    fn from(e: crate::error::RuleError) -> Self {
        PublishError::Reserve(e.into())
    }
}

/// Runs one publication at `now` (see the module documentation). `signing_key` is asked for
/// only when an attestation is to be signed, so the submission phase needs no key.
pub async fn publish(
    at: &Stores<'_>,
    req: &Request,
    dry_run: bool,
    signing_key: impl FnOnce() -> Result<SigningKey, String>,
    now: DateTime<Utc>,
) -> Result<Step, PublishError> {
    let computation = at
        .reserves
        .compute(req.liabilities.clone(), req.period.end)
        .await?;
    if dry_run {
        let checked =
            Balances::new(req.period, computation.clone(), req.claims).map_err(ReserveError::from);
        return Ok(Step::DryRun {
            computation: Box::new(computation),
            checked: Box::new(checked),
        });
    }
    let balances = Balances::new(req.period, computation, req.claims)?;
    let digest = balances.digest();
    let tenant = at.config.require_tenant()?.clone();
    at.store
        .tenant(&tenant)
        .await
        .map_err(|source| PublishError::UnknownTenant {
            var: crate::config::TENANT,
            tenant: tenant.clone(),
            source,
        })?;
    if let Some((id, status)) = already_published(at.reserves, &balances).await? {
        return Ok(Step::AlreadyPublished { digest, id, status });
    }
    let Some(binding) = find_binding(at.store, at.blobs, &tenant, &digest).await? else {
        return submit(at, &tenant, digest, now).await;
    };
    let jwks = at.store.jwks(true).await?;
    let attestation = Attestation::new(
        AttestationId::generate(),
        now,
        balances,
        binding,
        &jwks,
        at.config.max_summary_age,
    )?;
    let key = signing_key().map_err(PublishError::SigningKey)?;
    if jwks.get(key.key_id()).is_none() {
        return Err(PublishError::KeyNotPublished(key.key_id().to_string()));
    }
    let signed = SignedAttestation::sign(attestation, &key);
    let stored = at
        .reserves
        .publish(&signed, &at.config.webhooks, now)
        .await?;
    let publisher = Publisher::new(std::time::Duration::from_secs(10))?;
    let mut status = stored.status;
    let mut delivery_errors = Vec::new();
    for o in publisher.run_once(at.reserves, Utc::now(), 100).await? {
        if &o.id == signed.id() {
            status = o.status;
            delivery_errors.extend(o.errors);
        }
    }
    Ok(Step::Published {
        digest,
        tenant,
        signed: Box::new(signed),
        status: format!("{status:?}").to_lowercase(),
        delivery_errors,
    })
}

/// Phase 1: submits `digest` as a manifest of the reserves tenant; the periods that would
/// anchor it are the tenant's current ones, which must not all be anchored already.
async fn submit(
    at: &Stores<'_>,
    tenant: &TenantId,
    digest: ManifestDigest,
    now: DateTime<Utc>,
) -> Result<Step, PublishError> {
    at.store.insert_manifests(tenant, &[digest], now).await?;
    let plan = at.store.tenant(tenant).await?.plan;
    let schedules = at.policy.plans.schedules(plan);
    let periods: Vec<Period> = schedules
        .iter()
        .map(|s| Period::containing(s.cadence, now))
        .collect();
    let mut closed = Vec::new();
    for &period in &periods {
        if let Some(run) = at.store.find_run(tenant, period).await?
            && matches!(run.status, RunStatus::Anchored | RunStatus::Complete)
        {
            closed.push(format!("{period} (run {})", run.id));
        }
    }
    if closed.len() == periods.len() {
        return Err(PublishError::PeriodsClosed {
            digest: digest.to_hex(),
            tenant: tenant.clone(),
            closed: closed.join(", "),
        });
    }
    Ok(Step::Submitted {
        digest,
        tenant: tenant.clone(),
        periods,
    })
}

/// The attestation already stored for these balances (same period end, same digest).
async fn already_published(
    reserves: &ReserveStore,
    balances: &Balances,
) -> Result<Option<(AttestationId, String)>, PublishError> {
    let digest = balances.digest().to_hex();
    let (list, _) = reserves
        .attestations(&AttestationFilter {
            period_end_min: Some(balances.period.end),
            period_end_max: Some(balances.period.end),
            limit: Some(100),
            ..AttestationFilter::default()
        })
        .await?;
    Ok(list
        .into_iter()
        .find(|a| a.balance_digest == digest)
        .map(|a| (a.id, format!("{:?}", a.status).to_lowercase())))
}

/// The binding of `digest` to the newest run summary of `tenant` whose anchored tree holds it.
async fn find_binding(
    store: &Store,
    blobs: &BlobStore,
    tenant: &TenantId,
    digest: &ManifestDigest,
) -> Result<Option<AnchorBinding>, PublishError> {
    let mut tried: Vec<Period> = Vec::new();
    for row in store.summaries(tenant).await?.into_iter().rev() {
        let summary = ledger::formats::RunSummary::from_bytes(&row.bytes)?;
        let Some(root) = summary.root else { continue };
        if tried.contains(&summary.period) {
            continue;
        }
        tried.push(summary.period);
        let proofs = PeriodProofs::load(blobs, tenant, summary.period)
            .await
            .map_err(|source| PublishError::Tree {
                tenant: tenant.clone(),
                period: summary.period,
                source,
            })?;
        let Ok(proof) = proofs.proof(digest) else {
            continue;
        };
        if proof.root != root || proof.tree_size != summary.tree_size {
            continue;
        }
        return Ok(Some(AnchorBinding::new(&row.bytes, proof)?));
    }
    Ok(None)
}

/// A domain value or document error reaches callers as the ledger error it was before the
/// `domain` crate existed (same variant, same message).
impl From<ledger::DomainError> for PublishError {
    fn from(e: ledger::DomainError) -> Self {
        PublishError::Ledger(e.into())
    }
}
