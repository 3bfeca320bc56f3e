//! Bearer-token authentication: who is calling and what they may do.
//!
//! No `Authorization` header: the public role (layers without personal
//! data). `Authorization: Bearer <token>`: the token's role, if the token is
//! known, not revoked and not expired; anything else is a 401, never a silent
//! downgrade to public. A role without the permission an endpoint needs is a
//! 403.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use forest_core::auth::{Permission, Role};
use forest_store::tokens::TokenRecord;

use crate::{ApiError, AppState};

/// The caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token used, if any.
    pub token: Option<TokenRecord>,
}

impl Caller {
    /// The caller's role.
    pub fn role(&self) -> Role {
        self.token.as_ref().map_or(Role::Public, |t| t.role)
    }

    /// Whether the caller may see owner and contract-holder data.
    pub fn personal(&self) -> bool {
        self.role().can(Permission::ReadPersonal)
    }

    /// Refuses (403) unless the caller's role grants `p`; 401 when there is
    /// no token at all.
    pub fn require(&self, p: Permission) -> Result<&TokenRecord, ApiError> {
        match &self.token {
            None => Err(ApiError::Unauthorized(format!(
                "a bearer token is needed to {}; ask an admin for one (forest token create)",
                p.describe()
            ))),
            Some(t) if t.role.can(p) => Ok(t),
            Some(t) => Err(ApiError::Forbidden(format!(
                "role {} may not {}",
                t.role,
                p.describe()
            ))),
        }
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
            return Ok(Caller { token: None });
        };
        let text = value
            .to_str()
            .map_err(|_| ApiError::Unauthorized("the Authorization header is not text".into()))?;
        let token = match text.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => {
                t.trim()
            }
            _ => {
                return Err(ApiError::Unauthorized(
                    "malformed Authorization header: use 'Bearer <token>'".into(),
                ))
            }
        };
        if token.len() > 256 {
            return Err(ApiError::Unauthorized("unknown token".into()));
        }
        let record = state
            .store
            .token_by_hash(&forest_store::tokens::hash(token))
            .await?
            .ok_or_else(|| ApiError::Unauthorized("unknown token".into()))?;
        if record.revoked_at.is_some() {
            return Err(ApiError::Unauthorized(format!(
                "token #{} was revoked; ask an admin for a new one",
                record.id
            )));
        }
        if !record.is_valid_at(chrono::Utc::now()) {
            return Err(ApiError::Unauthorized(format!(
                "token #{} has expired; ask an admin for a new one",
                record.id
            )));
        }
        Ok(Caller {
            token: Some(record),
        })
    }
}
