//! `anchor`: the one binary of Ledger Anchors.
//!
//! Exit codes, for every subcommand: 0 success; 1 a verification that ran and failed (or a
//! run that failed or is held); 2 bad input (malformed file, unknown digest, bad arguments,
//! bad configuration); 3 nothing failed but it is not done yet (`ots verify`, `verify
//! receipt|bundle`: only pending evidence; `anchor run`: another process holds the run's
//! lease, the run is deferred, or a transient failure will be retried); 4 a backend the
//! command needs (database, KV, queue) cannot be reached or refuses the connection — the same
//! code from every role (`api`, `up`, `scheduler`, `worker`, `run`, operator commands), the
//! message naming the variable, `host:port` and the cause once.

mod admin;
mod bundle_cmd;
mod digests;
mod edge;
mod fleet;
mod headers_cmd;
mod keys;
mod ledger_cmd;
mod liabilities_cmd;
mod monitor_cmd;
mod ots;
mod proof_cmd;
mod reserves_cmd;
mod reserves_exit;
mod reserves_publish;
mod tree;
mod tsa;
mod verify;

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: an API request allocates a few dozen small
/// blocks (routing, headers, the proof), and glibc's malloc/free were about 15 % of the API
/// process's CPU in the proof-retrieval bench (`cargo bench -p anchor-api --bench proofs`,
/// which uses the same allocator; anchor-api/README.md has the figures).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "anchor",
    version,
    about = "Ledger Anchors: Merkle anchoring of manifest digests"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Build RFC 9162 trees over c2c manifest digests.
    #[command(subcommand)]
    Tree(TreeCmd),
    /// Verify proofs.
    #[command(subcommand)]
    Verify(VerifyCmd),
    /// OpenTimestamps proofs.
    #[command(subcommand)]
    Ots(ots::OtsCmd),
    /// Bitcoin headers: compare the mainnet epoch table with a node (check).
    #[command(subcommand)]
    Headers(headers_cmd::HeadersCmd),
    /// RFC 3161 time-stamps: stamp, verify, info, a dev responder and a throwaway CA.
    #[command(subcommand)]
    Tsa(tsa::TsaCmd),
    /// ES256 signing keys for receipts and run summaries: generate, show.
    #[command(subcommand)]
    Keys(keys::KeysCmd),
    /// The hash-chained run-summary ledger: verify an exported chain.
    #[command(subcommand)]
    Ledger(ledger_cmd::LedgerCmd),
    /// Reserve attestations: registry, snapshots, publish, verify.
    #[command(subcommand)]
    Reserves(reserves_cmd::ReservesCmd),
    // fleet roles (fleet.rs)
    /// Create or migrate the database's schema (the only role that does, outside the embedded
    /// defaults); prints the schema version and the fleet id.
    Migrate {
        #[command(flatten)]
        config: ledger_cmd::ConfigArg,
    },
    /// The job queue: depth by state and dead letters.
    #[command(subcommand)]
    Queue(fleet::QueueCmd),
    /// Scheduler and workers in one process (embedded defaults unless configured).
    Up(fleet::UpArgs),
    /// The HTTP API alone (see anchor-api/README.md for its routes).
    Api(fleet::ApiArgs),
    /// The scheduler role alone: ticks, enqueues due periods, reaps stalled runs.
    Scheduler(fleet::SchedulerArgs),
    /// The worker role alone: runs rollup, upgrade, sample-verify and catch-up jobs.
    Worker(fleet::WorkerArgs),
    /// One rollup now, in this process.
    Run(fleet::RunArgs),
    /// Offline end-to-end demo: dev TSA and calendars, three tenants, every due run, verified.
    Demo(fleet::DemoArgs),
    /// One manifest's inclusion proof (or per-manifest .ots) from an anchored period's tree.
    Proof(proof_cmd::ProofArgs),
    /// One manifest's verification bundle (c2c.bundle.v1): everything `verify bundle` needs.
    Bundle(bundle_cmd::BundleArgs),
    /// Check a tenant's receipt log against the last verified checkpoint: exit 1 on a
    /// rollback, a fork or a receipt missing from the log.
    Monitor(monitor_cmd::MonitorArgs),
    // operator commands (admin.rs): tenants, manifests, kill-switch, incidents, backfill
    #[command(flatten)]
    Admin(admin::AdminCmd),
    /// Print the RFC 8785 canonical bytes of a JSON file (no trailing newline).
    Canon {
        /// JSON file, or `-` for stdin.
        file: PathBuf,
    },
    /// Print the manifest digest SHA-256(JCS(manifest)) of a JSON file as hex.
    Digest {
        /// JSON file, or `-` for stdin.
        file: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
struct DigestInput {
    /// File of 64-hex digests, one per line (any order, duplicates allowed), or `-` for stdin.
    #[arg(long)]
    digests: PathBuf,
    /// Digests sorted in memory before spilling a sorted run to disk.
    #[arg(long, default_value_t = digests::DEFAULT_CHUNK, value_name = "N")]
    sort_chunk: usize,
    /// Directory for sort runs (default: the system temporary directory).
    #[arg(long, value_name = "DIR")]
    tmp_dir: Option<PathBuf>,
    /// Print timings, sort runs and peak memory to stderr.
    #[arg(long)]
    stats: bool,
}

#[derive(Subcommand, Debug)]
enum TreeCmd {
    /// Print `{"root","tree_size","parameters"}` for a digest file.
    Root {
        #[command(flatten)]
        input: DigestInput,
    },
    /// Print the c2c.proof.v1 inclusion proof of one digest of a digest file.
    Proof {
        #[command(flatten)]
        input: DigestInput,
        /// The digest to prove (64 hex).
        #[arg(long)]
        digest: String,
    },
}

#[derive(Subcommand, Debug)]
enum VerifyCmd {
    /// Check a c2c.proof.v1 file: exit 0 valid, 1 not leading to the root (or not the
    /// receipt's tenant, period, tree size or root), 2 malformed.
    Proof {
        file: PathBuf,
        /// Require this root (c2c.merkle.v1:sha256:0x…) instead of the one in the file.
        #[arg(long, conflicts_with = "receipt")]
        root: Option<String>,
        /// Bind the proof to this receipt (c2c.receipt.v1): its tenant, period, tree size and
        /// root must be the proof's.
        #[arg(long, value_name = "RECEIPT")]
        receipt: Option<PathBuf>,
        /// Also check the receipt's signature against this JWK Set.
        #[arg(long, value_name = "JWKS", requires = "receipt")]
        jwks: Option<PathBuf>,
    },
    /// Check a receipt against its artifacts, keys, chain, TSA CA and Bitcoin headers:
    /// exit 0 verified, 1 a check failed, 3 only pending evidence, 2 bad input.
    Receipt(verify::ReceiptArgs),
    /// Check a c2c.bundle.v1 offline (proof, per-manifest .ots and every receipt check):
    /// exit 0 verified, 1 a check failed, 3 only pending evidence, 2 bad input.
    Bundle(verify::BundleArgs),
}

/// Why a command failed, which decides the exit code.
#[derive(Debug)]
pub enum Failure {
    /// Exit 2: the input was not usable.
    Input(anyhow::Error),
    /// Exit 1: the check ran and failed.
    Check(anyhow::Error),
    /// Exit 3: nothing failed, but it is not done yet (pending evidence; a run held by another
    /// process, deferred or to be retried).
    Pending(anyhow::Error),
    /// Exit 4: a backend could not be reached ([`ledger::LedgerError::Unavailable`]).
    Unavailable(anyhow::Error),
}

/// Whether `e` is, or is caused by, a backend that could not be reached, however it was
/// wrapped on the way (ledger, workers or API error).
pub fn is_unavailable(e: &anyhow::Error) -> bool {
    use ledger::LedgerError::Unavailable;
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<ledger::LedgerError>(),
            Some(Unavailable { .. })
        ) || matches!(
            c.downcast_ref::<workers::WorkerError>(),
            Some(workers::WorkerError::Ledger(Unavailable { .. }))
        ) || matches!(
            c.downcast_ref::<proofs::ProofsError>(),
            Some(proofs::ProofsError::Ledger(Unavailable { .. }))
        ) || matches!(
            c.downcast_ref::<service::ServiceError>(),
            Some(service::ServiceError::Ledger(Unavailable { .. }))
        ) || matches!(
            c.downcast_ref::<reserves::publish::PublishError>(),
            Some(reserves::publish::PublishError::Ledger(Unavailable { .. }))
        ) || matches!(
            c.downcast_ref::<anchor_api::ApiError>(),
            Some(
                anchor_api::ApiError::Ledger(Unavailable { .. })
                    | anchor_api::ApiError::Proofs(proofs::ProofsError::Ledger(Unavailable { .. }))
                    | anchor_api::ApiError::Service(service::ServiceError::Ledger(
                        Unavailable { .. }
                    ))
            )
        )
    })
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        if is_unavailable(&e) {
            Failure::Unavailable(e)
        } else {
            Failure::Input(e)
        }
    }
}

impl From<ledger::LedgerError> for Failure {
    fn from(e: ledger::LedgerError) -> Self {
        match e {
            e @ ledger::LedgerError::Unavailable { .. } => Failure::Unavailable(e.into()),
            ledger::LedgerError::Invalid { .. }
            | ledger::LedgerError::NotFound { .. }
            | ledger::LedgerError::Config(_)
            | ledger::LedgerError::Schema(_) => Failure::Input(e.into()),
            other => Failure::Check(other.into()),
        }
    }
}

/// A domain error exits as the ledger error it was before the `domain` crate existed.
impl From<ledger::DomainError> for Failure {
    fn from(e: ledger::DomainError) -> Self {
        Failure::from(ledger::LedgerError::from(e))
    }
}

impl From<workers::WorkerError> for Failure {
    fn from(e: workers::WorkerError) -> Self {
        match e {
            workers::WorkerError::Ledger(e) => e.into(),
            e @ workers::WorkerError::Config(_) => Failure::Input(e.into()),
            other => Failure::Check(other.into()),
        }
    }
}

/// A role's, a rollup's or the demo's failure exits as the error it wraps always did.
impl From<::fleet::FleetError> for Failure {
    fn from(e: ::fleet::FleetError) -> Self {
        use ::fleet::FleetError as F;
        match e {
            F::Ledger(e) => e.into(),
            F::Workers(e) => e.into(),
            // Their own type first in the chain, where `is_unavailable` looks for it.
            F::Api(e) => anyhow::Error::new(e).into(),
            F::Reserves(e) => anyhow::Error::new(e).into(),
            F::Proofs(e) => anyhow::Error::new(e).into(),
            e @ (F::Policy(_) | F::Io { .. } | F::Input(_) | F::NotEmpty(_)) => {
                Failure::Input(e.into())
            }
            e @ F::Check(_) => Failure::Check(e.into()),
        }
    }
}

pub type Outcome = Result<(), Failure>;

pub fn read_input(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        io::stdin()
            .read_to_end(&mut bytes)
            .context("reading stdin")?;
    } else {
        File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .with_context(|| format!("reading {}", path.display()))?;
    }
    Ok(bytes)
}

pub fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .context("writing to stdout")
}

fn run(cli: Cli) -> Outcome {
    match cli.command {
        Command::Tree(TreeCmd::Root { input }) => tree::root(&input),
        Command::Tree(TreeCmd::Proof { input, digest }) => tree::proof(&input, &digest),
        Command::Verify(VerifyCmd::Proof {
            file,
            root,
            receipt,
            jwks,
        }) => verify::verify_proof(&file, root.as_deref(), receipt.as_deref(), jwks.as_deref()),
        Command::Verify(VerifyCmd::Receipt(args)) => verify::receipt(&args),
        Command::Verify(VerifyCmd::Bundle(args)) => verify::bundle(&args),
        Command::Ots(cmd) => ots::run(cmd),
        Command::Headers(cmd) => headers_cmd::run(cmd),
        Command::Tsa(cmd) => tsa::run(cmd),
        Command::Keys(cmd) => keys::run(cmd),
        Command::Ledger(cmd) => ledger_cmd::run(cmd),
        Command::Reserves(cmd) => reserves_cmd::run(cmd),
        Command::Migrate { config } => fleet::migrate(&config),
        Command::Queue(cmd) => fleet::queue(&cmd),
        Command::Up(args) => fleet::up(&args),
        Command::Api(args) => fleet::api(&args),
        Command::Scheduler(args) => fleet::scheduler(&args),
        Command::Worker(args) => fleet::worker(&args),
        Command::Run(args) => fleet::run(&args),
        Command::Demo(args) => fleet::demo(&args),
        Command::Proof(args) => proof_cmd::run(&args),
        Command::Bundle(args) => bundle_cmd::run(&args),
        Command::Monitor(args) => monitor_cmd::run(&args),
        Command::Admin(cmd) => admin::run(cmd),
        Command::Canon { file } => {
            let bytes = read_input(&file)?;
            let canon = merkle::canon::canonicalize(&bytes)
                .with_context(|| format!("{} is not canonicalisable JSON", file.display()))?;
            Ok(write_stdout(&canon)?)
        }
        Command::Digest { file } => {
            let bytes = read_input(&file)?;
            let d = merkle::canon::manifest_digest(&bytes)
                .with_context(|| format!("{} is not canonicalisable JSON", file.display()))?;
            Ok(write_stdout(format!("{d}\n").as_bytes())?)
        }
    }
}

/// Logs (calendar outcomes and latencies, job spans, …) on stderr; `RUST_LOG` selects, and
/// warnings show by default. `LEDGER_LOG_FORMAT`: `text` (the default) or `json`, one JSON
/// object per line with the event's fields at the top level and the job's span (`kind`, `key`,
/// `run`, `tenant`, `period`) under `span`, for a log pipeline to index.
fn init_logs(format: Option<&str>) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr);
    match format {
        None | Some("text") => logs.init(),
        Some("json") => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        Some(other) => {
            return Err(anyhow::anyhow!(
                "configuration: LEDGER_LOG_FORMAT is {other:?}: expected text or json"
            ));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = init_logs(std::env::var("LEDGER_LOG_FORMAT").ok().as_deref()) {
        eprintln!("anchor: {e:#}");
        return ExitCode::from(2);
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Check(e)) => {
            eprintln!("anchor: {e:#}");
            ExitCode::from(1)
        }
        Err(Failure::Pending(e)) => {
            eprintln!("anchor: {e:#}");
            ExitCode::from(3)
        }
        Err(Failure::Input(e)) => {
            eprintln!("anchor: {e:#}");
            ExitCode::from(2)
        }
        Err(Failure::Unavailable(e)) => {
            eprintln!("anchor: {e:#}");
            ExitCode::from(4)
        }
    }
}
