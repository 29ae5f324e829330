//! The service layer (issue 18, "one shape for the code"): each rule that more than one
//! adapter needs, owned once. The CLI and the API are adapters over it (argument parsing and
//! printing; routing and status codes); the scheduler process and the workers call it for
//! the rules they share with them.
//!
//! It starts with runs ([`runs`]: creating a run and enqueueing its rollup, the manual-run
//! rules) and the job-queue port ([`runs::RunQueue`]) that keeps the API free of the job
//! runner. Tenants, manifests, backfills, the kill switch, consent and incidents are still
//! in the adapters (README: what is left).

pub mod error;
pub mod runs;

pub use error::{Result, ServiceError};
pub use runs::RunQueue;
