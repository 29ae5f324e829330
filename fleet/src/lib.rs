//! The fleet's roles, composed into processes, and the offline demo: what `anchor up | api |
//! scheduler | worker | run | migrate | queue | demo` run, without the argument parsing and
//! printing that stay in the binary (`cli/src/fleet.rs`).
//!
//! - [`edge`]: the process edge. The configuration (file and environment), the anchoring
//!   policy and the workers' settings are read once, typed, before anything connects; signal
//!   handling; listening sockets.
//! - [`roles`]: `up` (scheduler, workers and the API in one process, with the dev TSA and
//!   calendars when nothing is configured), `api`, `scheduler`, `worker`, `migrate` and the
//!   queue's status.
//! - [`rollup`]: one rollup now, in this process (`anchor run`), and what its result means.
//! - [`demo`]: three tenants anchored offline through the real scheduler and workers, then
//!   every artifact verified by the `verifier` library and, when installed, `openssl`.
//!
//! Decision: the roles announce themselves on stderr (`anchor up: scheduler, 4 workers and the
//! API on http://…`) from here, because only here is the bound address known before the
//! process serves; everything a command prints on stdout is returned to the binary.

pub mod demo;
pub mod edge;
pub mod error;
pub mod roles;
pub mod rollup;

pub use error::{FleetError, Result};
