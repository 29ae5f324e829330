pub mod admin;
pub mod anchor;
pub mod meta;
pub mod tenants;
