//! Who may do what through the service: the roles of bearer tokens.
//!
//! Anonymous callers are [`Role::Public`]: they read the layers without
//! personal data. Rangers triage alerts, land officers change allocation,
//! admins import and manage tokens and subscriptions (and may do everything
//! else).

use std::fmt;
use std::str::FromStr;

/// The role a token carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// No token: read-only, no personal data.
    Public,
    /// Forest ranger: verifies and triages alerts.
    Ranger,
    /// Land officer: checks and updates allocation and contracts.
    LandOfficer,
    /// Administrator: tokens, subscriptions, imports; everything.
    Admin,
}

/// Something a caller may or may not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// See owner and contract-holder names and codes.
    ReadPersonal,
    /// Change an alert's status.
    TriageAlerts,
    /// Change allocation and contract fields of a plot.
    EditAllocation,
    /// Manage webhook subscriptions.
    ManageSubscriptions,
    /// Create and revoke tokens.
    ManageTokens,
}

impl Role {
    /// Every role a token can carry (public is the absence of a token).
    pub const TOKEN_ROLES: [Role; 3] = [Role::Ranger, Role::LandOfficer, Role::Admin];

    /// The name used in the store, the CLI and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Public => "public",
            Role::Ranger => "ranger",
            Role::LandOfficer => "land_officer",
            Role::Admin => "admin",
        }
    }

    /// Whether this role grants `p`.
    ///
    /// ```
    /// use forest_core::auth::{Permission, Role};
    /// assert!(Role::Ranger.can(Permission::TriageAlerts));
    /// assert!(!Role::Ranger.can(Permission::EditAllocation));
    /// assert!(!Role::Public.can(Permission::ReadPersonal));
    /// assert!(Role::Admin.can(Permission::ManageTokens));
    /// ```
    pub fn can(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Ranger => matches!(p, ReadPersonal | TriageAlerts),
            Role::LandOfficer => matches!(p, ReadPersonal | EditAllocation),
            Role::Public => false,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of ranger, land_officer, admin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role '{0}': use ranger, land_officer or admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "ranger" => Ok(Role::Ranger),
            "land_officer" | "landofficer" => Ok(Role::LandOfficer),
            "admin" => Ok(Role::Admin),
            _ => Err(UnknownRole(s.to_string())),
        }
    }
}

impl Permission {
    /// What the permission is, for a 403 message.
    pub fn describe(self) -> &'static str {
        match self {
            Permission::ReadPersonal => "read owner and contract-holder data",
            Permission::TriageAlerts => "change an alert's status (ranger or admin)",
            Permission::EditAllocation => {
                "change allocation or contract fields (land_officer or admin)"
            }
            Permission::ManageSubscriptions => "manage webhook subscriptions (admin)",
            Permission::ManageTokens => "manage tokens (admin)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_print() {
        for r in Role::TOKEN_ROLES {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert_eq!("Land-Officer".parse::<Role>(), Ok(Role::LandOfficer));
        assert!("public".parse::<Role>().is_err(), "public is no token");
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn only_admins_manage_tokens_and_subscriptions() {
        for r in [Role::Public, Role::Ranger, Role::LandOfficer] {
            assert!(!r.can(Permission::ManageTokens));
            assert!(!r.can(Permission::ManageSubscriptions));
        }
        assert!(Role::LandOfficer.can(Permission::EditAllocation));
        assert!(!Role::LandOfficer.can(Permission::TriageAlerts));
    }
}
