//! Bearer tokens: only the SHA-256 of a token is stored; the token itself is
//! shown once, when it is created.

use chrono::{DateTime, Utc};
use forest_core::auth::Role;
use sha2::{Digest, Sha256};

/// A stored token (without its secret).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    /// Identifier.
    pub id: i64,
    /// Who or what holds it (recorded as the actor of its writes).
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenRecord {
    /// Whether the token may be used at `now`.
    pub fn is_valid_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }

    /// The actor recorded in histories for this token's writes.
    pub fn actor(&self) -> String {
        format!("{} (token {}, {})", self.name, self.id, self.role)
    }
}

/// A new random token: `fst_` and 64 hex digits (two v4 UUIDs, 244 random
/// bits from the operating system).
pub fn generate() -> String {
    format!(
        "fst_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// What the store keeps of a token: its SHA-256, hex.
pub fn hash(token: &str) -> String {
    Sha256::digest(token.trim().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Parses a role stored as text.
pub(crate) fn role(s: &str) -> crate::Result<Role> {
    s.parse()
        .map_err(|e: forest_core::auth::UnknownRole| crate::StoreError::NotAStore(e.to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, b) = (super::generate(), super::generate());
        assert_ne!(a, b);
        assert_eq!(a.len(), 68);
        assert_eq!(super::hash(&a).len(), 64);
        assert_ne!(super::hash(&a), super::hash(&b));
        assert_eq!(super::hash(&a), super::hash(&format!(" {a}\n")));
    }
}
