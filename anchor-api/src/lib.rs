//! The HTTP API of Ledger Anchors (axum). See the crate README.
pub mod pdf;
