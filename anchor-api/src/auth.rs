//! Who is calling, and what they may see.
//!
//! - `Authorization: Bearer <token>` with the admin token (`LEDGER_ADMIN_TOKEN`) is the
//!   operator; with a tenant's token, that tenant; without the header, anonymous. Any other
//!   token is a 401: a mistyped token must not silently become anonymous.
//! - Tokens are compared as SHA-256 hashes in constant time (the admin's here, a tenant's in
//!   `ledger::sql::token_matches`); the plaintext is never stored or logged.
//! - A tenant's receipts, proofs and artifacts are readable by its own token, the admin, and
//!   — only while the tenant is opted in with `public` visibility — anybody. Everything else
//!   gets the same 404 whether the tenant exists or not, so nobody learns which tenants
//!   exist by probing.
//! - A tenant's writes (manifests, consent) and its consent log need its token or the
//!   admin's: anonymous is a 401, another tenant's token the same 404 as above.
//! - Admin routes need the admin token: 403 when none is configured (fail closed), 401
//!   without a token, 403 with a tenant's.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts as RequestParts;
use ledger::TenantId;
use ledger::sql::{Tenant, hash_token, token_matches};
use subtle::ConstantTimeEq as _;

use crate::error::{ApiError, Result};
use crate::state::{ApiState, Readable};

/// The authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    Admin,
    /// A tenant's token, with the tenant's row as the token lookup read it (so a write needs
    /// no second lookup, issue 25).
    Tenant(Box<Tenant>),
    Anonymous,
}

/// The bearer token of a request, if it sent one (a malformed header is a 401).
pub fn bearer(parts: &RequestParts) -> Result<Option<&str>> {
    bearer_token(&parts.headers)
}

/// [`bearer`] over a request's headers.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is not ASCII".into()))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into())
        })?;
    Ok(Some(token))
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut RequestParts, state: &ApiState) -> Result<Caller> {
        let Some(token) = bearer(parts)? else {
            return Ok(Caller::Anonymous);
        };
        if let Some(admin) = &state.config.admin_token_hash
            && bool::from(hash_token(token).ct_eq(admin))
        {
            return Ok(Caller::Admin);
        }
        let hash = hash_token(token);
        match state.parts.store.tenant_by_token_hash(&hash).await? {
            Some(t) if token_matches(&t.token_hash, token) => {
                state.known_tokens.insert(hash);
                Ok(Caller::Tenant(Box::new(t)))
            }
            _ => {
                state.known_tokens.remove(&hash);
                Err(ApiError::Unauthorized("the token is not valid".into()))
            }
        }
    }
}

/// The one answer for "unknown tenant" and "not yours to see".
pub fn hidden(tenant: &TenantId) -> ApiError {
    ApiError::NotFound(format!(
        "no tenant {tenant} visible to this caller (unknown, or private: pass the tenant's token)"
    ))
}

impl Caller {
    /// Whether this caller may read the tenant's receipts, proofs and artifacts. What the
    /// store says of the tenant is reused for [`ApiState::tenant_ttl`] (see
    /// [`crate::state::TenantCache`]); the rules are the same either way.
    pub async fn may_read(&self, state: &ApiState, tenant: &TenantId) -> Result<()> {
        let ttl = state.tenant_ttl();
        let found = if let Some(r) = state.tenants.get(tenant, ttl) {
            r
        } else {
            let generation = state.tenants.generation();
            let found = state
                .parts
                .store
                .find_tenant(tenant)
                .await?
                .map(|t| Readable::from(&t));
            if !ttl.is_zero() {
                state.tenants.put(tenant, found, generation);
            }
            found
        };
        match (self, found) {
            (Caller::Admin, Some(_)) => Ok(()),
            (Caller::Tenant(me), Some(_)) if &me.id == tenant => Ok(()),
            (_, Some(r)) if r.public => Ok(()),
            _ => Err(hidden(tenant)),
        }
    }

    /// The tenant, when this caller may write to it or read its private records.
    pub async fn may_manage(&self, state: &ApiState, tenant: &TenantId) -> Result<Tenant> {
        match self {
            Caller::Anonymous => Err(ApiError::Unauthorized(
                "this route needs the tenant's token".into(),
            )),
            Caller::Tenant(me) if &me.id != tenant => Err(hidden(tenant)),
            Caller::Tenant(me) => Ok((**me).clone()),
            Caller::Admin => state
                .parts
                .store
                .find_tenant(tenant)
                .await?
                .ok_or_else(|| hidden(tenant)),
        }
    }
}

/// The operator: an extractor that admits only the admin token, checked before anything
/// else (403 when no admin token is configured, whatever the request carries).
#[derive(Clone, Copy, Debug)]
pub struct Admin;

impl FromRequestParts<ApiState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut RequestParts, state: &ApiState) -> Result<Admin> {
        let Some(admin) = &state.config.admin_token_hash else {
            return Err(ApiError::Forbidden(
                "admin routes are disabled: no LEDGER_ADMIN_TOKEN is configured".into(),
            ));
        };
        match bearer(parts)? {
            None => Err(ApiError::Unauthorized(
                "this route needs the admin token".into(),
            )),
            Some(token) if bool::from(hash_token(token).ct_eq(admin)) => Ok(Admin),
            Some(_) => Err(ApiError::Forbidden(
                "this route needs the admin token".into(),
            )),
        }
    }
}
