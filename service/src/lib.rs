//! The service layer (issue 18, "one shape for the code"): each rule that more than one
//! adapter needs, owned once. The CLI and the API are adapters over it (argument parsing and
//! printing; routing and status codes); the scheduler process and the workers call it for
//! the rules they share with them.
//!
//! It holds runs ([`runs`]: creating a run and enqueueing its rollup, the manual-run rules),
//! the job-queue port ([`runs::RunQueue`]) that keeps the API free of the job runner, and
//! backfills ([`backfills`]: create, cancel, resume), the kill switch ([`kill_switch`]: set,
//! status, history), incidents ([`incidents`]: list, resolve) and the JSON views both adapters
//! print ([`views`]), and tenants ([`tenants`]: create with the defaults, update, token
//! rotation, consent) and manifests ([`manifests`]: who may submit, the periods they fall
//! into).

pub mod backfills;
pub mod error;
pub mod incidents;
pub mod kill_switch;
pub mod manifests;
pub mod runs;
pub mod tenants;
pub mod views;
pub mod webhooks;

pub use error::{Result, ServiceError};
pub use runs::RunQueue;
