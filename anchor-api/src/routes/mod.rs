pub mod admin;
pub mod anchor;
pub mod bundle;
pub mod chain;
pub mod meta;
pub mod reserve;
pub mod schemas;
pub mod tenants;
