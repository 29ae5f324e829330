//! The read side of Ledger Anchors: a period's stored tree ([`levels`], `levels.bin`), the
//! per-manifest proofs derived from it on request ([`period`]), and the self-contained
//! verification bundle of one manifest ([`bundle`], `c2c.bundle.v1`), and the period's tree as
//! C2SP tlog-tiles ([`tiles`]), from which anyone holding the bucket derives proofs.
//!
//! The rollup job (`workers`) writes the tree through [`levels::Levels`]; the API, `anchor
//! proof`, `anchor bundle` and the reserves publication read it through [`PeriodProofs`].
//! Nothing here depends on the job queue or the job runner, so serving a proof compiles in
//! neither (issue 18): this crate reads the blob store and the SQL store, and computes.

pub mod bundle;
pub mod error;
pub mod levels;
pub mod log;
pub mod monitor;
pub mod period;
pub mod source;
pub mod tiles;

pub use bundle::{Bundle, assemble};
pub use error::{ProofsError, Result};
pub use levels::Levels;
pub use period::{PeriodProofs, latest_receipt, named_root_ots, root_ots_key, root_ots_named_by};
