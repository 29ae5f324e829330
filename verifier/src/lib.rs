//! The independent verifier of Ledger Anchors as a library: every check of a receipt
//! ([`receipt`]), of a `c2c.bundle.v1` ([`bundle`]) and of a proof's binding to a receipt
//! ([`proof`]), pure over bytes the caller already
//! has, and the report they make ([`report`]): one line per check, what each rests on, the
//! strongest evidence, and a [`Verdict`].
//!
//! It reads no file, fetches nothing and parses no argument: `anchor verify receipt|bundle`
//! (the CLI) reads the files, fetches from `--api` and the header source, prints the report
//! and turns the verdict into an exit code. Issue 21's Node package (`bindings/node`) wraps
//! this crate the same way: [`input`] is what both do to the bytes they were given.

pub mod attestation;
pub mod bundle;
pub mod chain;
pub mod checkpoint;
pub mod input;
pub mod proof;
pub mod receipt;
pub mod report;
pub mod tiles;

pub use receipt::{Evidence, HeaderInput, SummaryInput};
pub use report::{Basis, Check, Report, Status, Verdict};
